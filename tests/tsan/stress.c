/*
 * Threaded stress for ThreadSanitizer: the cross-thread paths ringvm relies on,
 * hammered from several threads at once so that a data race in them is a TSan
 * report (CI runs this in a -fsanitize=thread build; Criterion's fork-server cannot
 * run under TSan, hence a plain program). Each scenario also checks its own
 * outcome, so it fails without TSan too.
 *
 *   mailbox:  four threads post and re-post 64 items to a loop another thread runs;
 *             every post is followed by a run that sees it.
 *   requests: a vCPU-like thread enters and leaves a "guest" (a ppoll that only the
 *             kick signal ends, as KVM_RUN) while other threads make STOP and kick;
 *             every STOP ends the thread promptly.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "machine/requests.h"
#include "services/loop.h"
#include "services/util.h"

#define POSTERS       4
#define ITEMS         64
#define POSTS         20000
#define VCPU_ROUNDS   300

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int fail(const char *what)
{
	fprintf(stderr, "stress: %s\n", what);
	return 1;
}

/* --- mailbox ---------------------------------------------------------------- */

struct item {
	struct loop_work work;
	_Atomic unsigned wanted;    /* the poster's latest sequence number */
	_Atomic unsigned seen;      /* what the last run saw */
};

struct mailbox_test {
	struct loop loop;
	struct item items[POSTERS][ITEMS];
	_Atomic unsigned posters_done;
};

static void item_run(struct loop_work *w)
{
	struct item *it = container_of(w, struct item, work);
	atomic_store(&it->seen, atomic_load(&it->wanted));
}

struct poster {
	struct mailbox_test *t;
	unsigned index;
};

static void *poster_thread(void *arg)
{
	struct poster *p = arg;
	for (unsigned n = 1; n <= POSTS; n++) {
		struct item *it = &p->t->items[p->index][n % ITEMS];
		atomic_store(&it->wanted, n);
		loop_post(&p->t->loop, &it->work);
	}
	atomic_fetch_add(&p->t->posters_done, 1);
	return NULL;
}

static bool all_seen(struct mailbox_test *t)
{
	for (unsigned i = 0; i < POSTERS; i++)
		for (unsigned j = 0; j < ITEMS; j++)
			if (atomic_load(&t->items[i][j].seen) != atomic_load(&t->items[i][j].wanted))
				return false;
	return true;
}

static int mailbox(void)
{
	static struct mailbox_test t;
	struct error err = { 0 };
	pthread_t th[POSTERS];
	struct poster p[POSTERS];

	if (loop_init(&t.loop, 64, &err))
		return fail(err.msg);
	loop_start(&t.loop);
	for (unsigned i = 0; i < POSTERS; i++)
		for (unsigned j = 0; j < ITEMS; j++)
			t.items[i][j].work.run = item_run;
	for (unsigned i = 0; i < POSTERS; i++) {
		p[i] = (struct poster){ &t, i };
		pthread_create(&th[i], NULL, poster_thread, &p[i]);
	}
	double deadline = now() + 60;
	while (!(atomic_load(&t.posters_done) == POSTERS && all_seen(&t)) && now() < deadline)
		loop_poll(&t.loop, 100);
	for (unsigned i = 0; i < POSTERS; i++)
		pthread_join(th[i], NULL);
	bool ok = all_seen(&t);
	loop_destroy(&t.loop);
	return ok ? 0 : fail("mailbox: a post was never followed by a run that saw it");
}

/* --- requests --------------------------------------------------------------- */

struct vcpu_test {
	struct vcpu_requests req;
	_Atomic bool stopped;
};

static void *vcpu_thread(void *arg)
{
	struct vcpu_test *v = arg;
	sigset_t all, during;

	/* As a vCPU thread: every signal blocked but while "in the guest", and there only the kick. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, NULL);
	sigfillset(&during);
	sigdelset(&during, kick_signal());
	vcpu_requests_bind(&v->req);
	for (;;) {
		if (vcpu_requests_enter_guest(&v->req)) {
			if (vcpu_check_request(&v->req, VCPU_REQ_STOP))
				break;
			continue;
		}
		ppoll(NULL, 0, NULL, &during);     /* a guest that never exits on its own */
		vcpu_requests_exit_guest(&v->req);
	}
	atomic_store(&v->stopped, true);
	return NULL;
}

static void *stopper_thread(void *arg)
{
	struct vcpu_test *v = arg;
	vcpu_make_request(&v->req, VCPU_REQ_STOP);
	vcpu_kick(&v->req);
	return NULL;
}

static int requests(void)
{
	if (kick_signal_init())
		return fail("requests: cannot install the kick signal's handler");
	for (unsigned round = 0; round < VCPU_ROUNDS; round++) {
		struct vcpu_test v = { 0 };
		pthread_t vcpu, stoppers[2];

		pthread_create(&vcpu, NULL, vcpu_thread, &v);
		for (unsigned i = 0; i < 2; i++)
			pthread_create(&stoppers[i], NULL, stopper_thread, &v);
		for (unsigned i = 0; i < 2; i++)
			pthread_join(stoppers[i], NULL);
		/* A lost kick shows as a thread that never leaves its guest. */
		double deadline = now() + 5;
		while (!atomic_load(&v.stopped) && now() < deadline) {
			struct timespec ms = { 0, 1000 * 1000 };
			nanosleep(&ms, NULL);
		}
		if (!atomic_load(&v.stopped))
			return fail("requests: a STOP made and kicked did not stop the vCPU thread");
		pthread_join(vcpu, NULL);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return fail("usage: stress mailbox|requests");
	if (!strcmp(argv[1], "mailbox"))
		return mailbox();
	if (!strcmp(argv[1], "requests"))
		return requests();
	return fail("unknown scenario");
}
