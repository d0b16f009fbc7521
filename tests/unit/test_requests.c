#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "machine/requests.h"

static void block_kick_signal(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, kick_signal());
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static bool kick_signal_pending(void)
{
	sigset_t pending;

	sigpending(&pending);
	return sigismember(&pending, kick_signal());
}

static void wait_for(_Atomic int *flag)
{
	while (!atomic_load(flag))
		usleep(100);
}

/* Only a remote target in the guest is signalled; what is pending is not even asked. */
Test(requests, who_gets_the_signal)
{
	cr_assert(vcpu_kick_needs_signal(false, VCPU_IN_GUEST));
	cr_assert_not(vcpu_kick_needs_signal(false, VCPU_OUTSIDE_GUEST), "it checks before entering");
	cr_assert_not(vcpu_kick_needs_signal(true, VCPU_IN_GUEST), "its own thread is not in KVM_RUN");
	cr_assert_not(vcpu_kick_needs_signal(true, VCPU_OUTSIDE_GUEST));
}

Test(requests, local_request_sets_the_bit_once_without_a_signal)
{
	struct vcpu_requests r = { 0 };

	block_kick_signal();
	vcpu_requests_bind(&r);
	atomic_store(&r.mode, VCPU_IN_GUEST);   /* even a confused mode: local never signals */
	vcpu_make_request(&r, VCPU_REQ_STOP);
	vcpu_kick(&r);
	vcpu_make_request(&r, VCPU_REQ_STOP);
	vcpu_kick(&r);
	cr_assert_not(kick_signal_pending());
	cr_assert_eq(atomic_load(&r.bits), VCPU_REQ_STOP);
	cr_assert(vcpu_check_request(&r, VCPU_REQ_STOP));
	cr_assert_not(vcpu_check_request(&r, VCPU_REQ_STOP), "checking clears it");
	cr_assert_eq(atomic_load(&r.bits), 0);
}

Test(requests, enter_guest_refuses_with_requests_pending)
{
	struct vcpu_requests r = { 0 };

	vcpu_requests_bind(&r);
	cr_assert_eq(vcpu_requests_enter_guest(&r), 0);
	cr_assert_eq(atomic_load(&r.mode), VCPU_IN_GUEST);
	vcpu_requests_exit_guest(&r);
	vcpu_make_request(&r, VCPU_REQ_STOP);
	cr_assert_eq(vcpu_requests_enter_guest(&r), VCPU_REQ_STOP);
	cr_assert_eq(atomic_load(&r.mode), VCPU_OUTSIDE_GUEST, "never left IN_GUEST with work pending");
}

struct target {
	struct vcpu_requests r;
	_Atomic int ready, go, signalled, interrupted, done;
	int err;
};

static void *in_guest_thread(void *arg)
{
	struct target *t = arg;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, kick_signal());
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	vcpu_requests_bind(&t->r);
	vcpu_requests_enter_guest(&t->r);
	atomic_store(&t->ready, 1);
	/* Stands in for KVM_RUN: waits for the kick signal the way KVM would notice it. */
	struct timespec ts = { 5, 0 };
	if (sigtimedwait(&set, NULL, &ts) == kick_signal())
		atomic_store(&t->signalled, 1);
	vcpu_requests_exit_guest(&t->r);
	return NULL;
}

Test(requests, remote_kick_signals_a_vcpu_in_the_guest_even_if_pending, .timeout = 10)
{
	struct target t = { 0 };
	pthread_t th;

	pthread_create(&th, NULL, in_guest_thread, &t);
	wait_for(&t.ready);
	/* The bit looks pending already: the kick must signal regardless. */
	atomic_store(&t.r.bits, VCPU_REQ_STOP);
	vcpu_make_request(&t.r, VCPU_REQ_STOP);
	vcpu_kick(&t.r);
	pthread_join(th, NULL);
	cr_assert_eq(atomic_load(&t.signalled), 1);
	cr_assert_eq(atomic_load(&t.r.bits), VCPU_REQ_STOP);
}

static void *outside_guest_thread(void *arg)
{
	struct target *t = arg;

	block_kick_signal();
	vcpu_requests_bind(&t->r);
	atomic_store(&t->ready, 1);
	wait_for(&t->go);
	atomic_store(&t->signalled, kick_signal_pending());
	atomic_store(&t->done, 1);
	return NULL;
}

/* A vCPU in userspace checks its bits before entering: a signal would only cost it an exit. */
Test(requests, remote_kick_leaves_a_vcpu_outside_the_guest_unsignalled, .timeout = 10)
{
	struct target t = { 0 };
	pthread_t th;

	pthread_create(&th, NULL, outside_guest_thread, &t);
	wait_for(&t.ready);
	vcpu_make_request(&t.r, VCPU_REQ_STOP);
	vcpu_kick(&t.r);
	atomic_store(&t.go, 1);
	pthread_join(th, NULL);
	cr_assert_eq(atomic_load(&t.signalled), 0);
	cr_assert(vcpu_check_request(&t.r, VCPU_REQ_STOP), "the request is there to be checked");
}

static void *blocked_in_syscall_thread(void *arg)
{
	struct target *t = arg;
	sigset_t all, during;

	/* A vCPU thread's masks: everything blocked, and in the call (KVM_SET_SIGNAL_MASK's) all but the kick. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, NULL);
	sigfillset(&during);
	sigdelset(&during, kick_signal());
	vcpu_requests_bind(&t->r);
	vcpu_requests_enter_guest(&t->r);
	atomic_store(&t->ready, 1);
	int r = ppoll(NULL, 0, NULL, &during);   /* no fds, no timeout: only a signal ends it */
	t->err = errno;
	atomic_store(&t->interrupted, r < 0);
	vcpu_requests_exit_guest(&t->r);
	kick_signal_consume();
	return NULL;
}

/*
 * What KVM_RUN relies on: the kick signal sent to a thread asleep in the kernel with
 * only that signal unblocked ends the call with EINTR, and its handler (not the default
 * action, which kills the process) runs.
 */
Test(requests, kick_interrupts_a_vcpu_blocked_in_a_syscall, .timeout = 10)
{
	struct target t = { 0 };
	struct sigaction installed;
	pthread_t th;

	cr_assert_eq(kick_signal_init(), 0);
	cr_assert_eq(sigaction(kick_signal(), NULL, &installed), 0);
	cr_assert(installed.sa_handler != SIG_DFL && installed.sa_handler != SIG_IGN);
	pthread_create(&th, NULL, blocked_in_syscall_thread, &t);
	wait_for(&t.ready);
	usleep(50000);      /* asleep in ppoll by now; if not, the pending signal ends it at once */
	vcpu_make_request(&t.r, VCPU_REQ_STOP);
	vcpu_kick(&t.r);
	pthread_join(th, NULL);
	cr_assert_eq(atomic_load(&t.interrupted), 1);
	cr_assert_eq(t.err, EINTR);
	cr_assert(vcpu_check_request(&t.r, VCPU_REQ_STOP));
}
