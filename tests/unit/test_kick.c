#include <criterion/criterion.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "machine/kick.h"

/* Every case of the rules: local/remote x running/blocked/runnable x pending or not. */
Test(kick, decision_table)
{
	static const struct {
		bool local;
		enum vcpu_mode mode;
		bool pending;
		bool set;
		enum kick_notify notify;
	} cases[] = {
		/* Request bit when local: set only if not pending, never a syscall. */
		{ true, VCPU_OUTSIDE_GUEST, false, true, KICK_NOTIFY_NONE },
		{ true, VCPU_OUTSIDE_GUEST, true, false, KICK_NOTIFY_NONE },
		{ true, VCPU_IN_GUEST, false, true, KICK_NOTIFY_NONE },
		{ true, VCPU_IN_GUEST, true, false, KICK_NOTIFY_NONE },
		{ true, VCPU_BLOCKED, false, true, KICK_NOTIFY_NONE },
		{ true, VCPU_BLOCKED, true, false, KICK_NOTIFY_NONE },
		/* IPI when remote: always set, always notify a running target. */
		{ false, VCPU_IN_GUEST, false, true, KICK_NOTIFY_SIGNAL },
		{ false, VCPU_IN_GUEST, true, true, KICK_NOTIFY_SIGNAL },
		{ false, VCPU_BLOCKED, false, true, KICK_NOTIFY_WAKE },
		{ false, VCPU_BLOCKED, true, true, KICK_NOTIFY_WAKE },
		{ false, VCPU_OUTSIDE_GUEST, false, true, KICK_NOTIFY_NONE },
		{ false, VCPU_OUTSIDE_GUEST, true, true, KICK_NOTIFY_NONE },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kick_decision d = kick_decide(cases[i].local, cases[i].mode, cases[i].pending);
		cr_assert_eq(d.set_request, cases[i].set, "case %zu: set_request", i);
		cr_assert_eq(d.notify, cases[i].notify, "case %zu: notify", i);
	}
}

Test(kick, signal_is_a_realtime_one)
{
	cr_assert_geq(kick_signal(), SIGRTMIN);
	cr_assert_leq(kick_signal(), SIGRTMAX);
}

Test(kick, local_kick_sets_the_bit_without_a_signal)
{
	struct kick_target t = { 0 };
	sigset_t set, pending;

	sigemptyset(&set);
	sigaddset(&set, kick_signal());
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	kick_bind_thread(&t);
	atomic_store(&t.mode, VCPU_IN_GUEST);   /* even a confused mode: local never signals */
	kick_vcpu(&t, KICK_REQ_EVENT);
	kick_vcpu(&t, KICK_REQ_EVENT);
	sigpending(&pending);
	cr_assert_not(sigismember(&pending, kick_signal()));
	cr_assert_eq(atomic_load(&t.requests), KICK_REQ_EVENT);
	cr_assert(kick_test_and_clear(&t, KICK_REQ_EVENT));
	cr_assert_not(kick_test_and_clear(&t, KICK_REQ_EVENT));
}

Test(kick, enter_guest_refuses_with_requests_pending)
{
	struct kick_target t = { 0 };
	kick_bind_thread(&t);
	cr_assert_eq(kick_enter_guest(&t), 0);
	cr_assert_eq(atomic_load(&t.mode), VCPU_IN_GUEST);
	kick_exit_guest(&t);
	atomic_fetch_or(&t.requests, KICK_REQ_STOP);
	cr_assert_eq(kick_enter_guest(&t), KICK_REQ_STOP);
	cr_assert_eq(atomic_load(&t.mode), VCPU_OUTSIDE_GUEST, "never left IN_GUEST with work pending");
}

struct sleeper {
	struct kick_target t;
	_Atomic int woke;
};

static void *sleeper_thread(void *arg)
{
	struct sleeper *s = arg;
	kick_bind_thread(&s->t);
	kick_block(&s->t, KICK_REQ_RESUME);
	atomic_store(&s->woke, 1);
	return NULL;
}

Test(kick, remote_kick_wakes_a_blocked_vcpu, .timeout = 10)
{
	struct sleeper s = { 0 };
	pthread_t th;

	pthread_create(&th, NULL, sleeper_thread, &s);
	while (atomic_load(&s.t.mode) != VCPU_BLOCKED)
		usleep(100);
	kick_vcpu(&s.t, KICK_REQ_EVENT);    /* not in the mask: it must go back to sleep */
	usleep(20000);
	cr_assert_eq(atomic_load(&s.woke), 0);
	kick_vcpu(&s.t, KICK_REQ_RESUME);
	pthread_join(th, NULL);
	cr_assert_eq(atomic_load(&s.woke), 1);
	cr_assert_eq(atomic_load(&s.t.mode), VCPU_OUTSIDE_GUEST);
}

struct runner {
	struct kick_target t;
	_Atomic int signalled;
	_Atomic int ready;
};

static void *runner_thread(void *arg)
{
	struct runner *r = arg;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, kick_signal());
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	kick_bind_thread(&r->t);
	kick_enter_guest(&r->t);
	atomic_store(&r->ready, 1);
	/* Stands in for KVM_RUN: waits for the kick signal the way KVM would notice it. */
	struct timespec ts = { 5, 0 };
	if (sigtimedwait(&set, NULL, &ts) == kick_signal())
		atomic_store(&r->signalled, 1);
	kick_exit_guest(&r->t);
	return NULL;
}

Test(kick, remote_kick_signals_a_running_vcpu_even_if_pending, .timeout = 10)
{
	struct runner r = { 0 };
	pthread_t th;

	cr_assert_eq(kick_signal_init(), 0);
	pthread_create(&th, NULL, runner_thread, &r);
	while (!atomic_load(&r.ready))
		usleep(100);
	/* The bit looks pending already: the remote rule must signal regardless. */
	atomic_store(&r.t.requests, KICK_REQ_EVENT);
	kick_vcpu(&r.t, KICK_REQ_EVENT);
	pthread_join(th, NULL);
	cr_assert_eq(atomic_load(&r.signalled), 1);
}
