#include "machine/kick.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct kick_decision kick_decide(bool local, enum vcpu_mode mode, bool request_pending)
{
	if (local) {
		/* Only this thread clears its bits, so "pending" cannot go stale under us. */
		return (struct kick_decision){ .set_request = !request_pending,
					       .notify = KICK_NOTIFY_NONE };
	}
	/*
	 * Remote: the target may consume its bits at any moment, so what we saw
	 * pending proves nothing; the bit is always set and the notification
	 * depends on the mode alone.
	 */
	switch (mode) {
	case VCPU_IN_GUEST:
		return (struct kick_decision){ true, KICK_NOTIFY_SIGNAL };
	case VCPU_BLOCKED:
		return (struct kick_decision){ true, KICK_NOTIFY_WAKE };
	case VCPU_OUTSIDE_GUEST:
	default:
		return (struct kick_decision){ true, KICK_NOTIFY_NONE };
	}
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
	struct sigaction sa = { .sa_handler = kick_signal_handler };

	sigemptyset(&sa.sa_mask);
	return sigaction(kick_signal(), &sa, NULL) ? -errno : 0;
}

static void futex_wake_all(_Atomic uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

void kick_vcpu(struct kick_target *target, uint32_t request)
{
	bool local = target->thread_set && pthread_equal(pthread_self(), target->thread);
	bool pending = atomic_load_explicit(&target->requests, memory_order_relaxed) & request;

	if (local) {
		if (kick_decide(true, VCPU_OUTSIDE_GUEST, pending).set_request)
			atomic_fetch_or(&target->requests, request);
		return;
	}
	/*
	 * Publish first, then read the mode (both sequentially consistent): either we
	 * see the target in the guest and signal it, or its kick_enter_guest sees the bit.
	 */
	atomic_fetch_or(&target->requests, request);
	enum vcpu_mode mode = atomic_load(&target->mode);
	switch (kick_decide(false, mode, pending).notify) {
	case KICK_NOTIFY_SIGNAL:
		if (target->thread_set)
			pthread_kill(target->thread, kick_signal());
		break;
	case KICK_NOTIFY_WAKE:
		futex_wake_all(&target->requests);
		break;
	case KICK_NOTIFY_NONE:
		break;
	}
}

void kick_bind_thread(struct kick_target *self)
{
	self->thread = pthread_self();
	atomic_store(&self->thread_set, true);
}

uint32_t kick_enter_guest(struct kick_target *self)
{
	atomic_store(&self->mode, VCPU_IN_GUEST);
	uint32_t pending = atomic_load(&self->requests);
	if (pending)
		atomic_store(&self->mode, VCPU_OUTSIDE_GUEST);
	return pending;
}

void kick_exit_guest(struct kick_target *self)
{
	atomic_store(&self->mode, VCPU_OUTSIDE_GUEST);
}

bool kick_test_and_clear(struct kick_target *self, uint32_t request)
{
	if (!(atomic_load_explicit(&self->requests, memory_order_relaxed) & request))
		return false;
	return atomic_fetch_and(&self->requests, ~request) & request;
}

void kick_block(struct kick_target *self, uint32_t mask)
{
	atomic_store(&self->mode, VCPU_BLOCKED);
	for (;;) {
		uint32_t seen = atomic_load(&self->requests);
		if (seen & mask)
			break;
		/* Sleeps only while the word still equals what we saw: no lost wake-up. */
		syscall(SYS_futex, &self->requests, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
	}
	atomic_store(&self->mode, VCPU_OUTSIDE_GUEST);
}

void kick_consume_signal(void)
{
	sigset_t set;
	struct timespec zero = { 0, 0 };

	sigemptyset(&set);
	sigaddset(&set, kick_signal());
	while (sigtimedwait(&set, NULL, &zero) > 0)
		;
}
