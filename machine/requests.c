#include "machine/requests.h"

#include <errno.h>
#include <signal.h>
#include <time.h>

static bool on_own_thread(const struct vcpu_requests *r)
{
	return atomic_load(&r->thread_set) && pthread_equal(pthread_self(), r->thread);
}

void vcpu_make_request(struct vcpu_requests *r, uint32_t req)
{
	/*
	 * Only the vCPU's thread clears its bits, so on that thread "pending" cannot go
	 * stale under us and the write can be skipped. Elsewhere the bit may be cleared
	 * at any moment after we look: it is always set.
	 */
	if (on_own_thread(r) && (atomic_load_explicit(&r->bits, memory_order_relaxed) & req) == req)
		return;
	atomic_fetch_or(&r->bits, req);
}

bool vcpu_check_request(struct vcpu_requests *r, uint32_t req)
{
	if (!(atomic_load_explicit(&r->bits, memory_order_relaxed) & req))
		return false;
	return atomic_fetch_and(&r->bits, ~req) & req;
}

bool vcpu_kick_needs_signal(bool local, enum vcpu_mode mode)
{
	/* The own thread is not in KVM_RUN while it runs this; it checks before re-entering. */
	return !local && mode == VCPU_IN_GUEST;
}

void vcpu_kick(struct vcpu_requests *r)
{
	/*
	 * The bit was published (sequentially consistent) before this load of the mode:
	 * either we see the target in the guest and signal it, or its
	 * vcpu_requests_enter_guest sees the bit. A target outside the guest needs nothing.
	 */
	bool local = on_own_thread(r);
	if (vcpu_kick_needs_signal(local, atomic_load(&r->mode)) && atomic_load(&r->thread_set))
		pthread_kill(r->thread, kick_signal());
}

void vcpu_requests_bind(struct vcpu_requests *self)
{
	self->thread = pthread_self();
	atomic_store(&self->thread_set, true);
}

uint32_t vcpu_requests_enter_guest(struct vcpu_requests *self)
{
	atomic_store(&self->mode, VCPU_IN_GUEST);
	uint32_t pending = atomic_load(&self->bits);
	if (pending)
		atomic_store(&self->mode, VCPU_OUTSIDE_GUEST);
	return pending;
}

void vcpu_requests_exit_guest(struct vcpu_requests *self)
{
	atomic_store(&self->mode, VCPU_OUTSIDE_GUEST);
}

int kick_signal(void)
{
	return SIGRTMIN;
}

static void kick_signal_handler(int sig)
{
	(void)sig;   /* the signal's only job is to make KVM_RUN return */
}

int kick_signal_init(void)
{
	/* Not SIG_DFL: a real-time signal's default action kills the process. */
	struct sigaction sa = { .sa_handler = kick_signal_handler };

	sigemptyset(&sa.sa_mask);
	return sigaction(kick_signal(), &sa, NULL) ? -errno : 0;
}

void kick_signal_consume(void)
{
	sigset_t set;
	struct timespec zero = { 0, 0 };

	sigemptyset(&set);
	sigaddset(&set, kick_signal());
	while (sigtimedwait(&set, NULL, &zero) > 0)
		;
}
