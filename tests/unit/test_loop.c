#include <criterion/criterion.h>
#include <errno.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "services/loop.h"
#include "services/util.h"

struct reader {
	struct loop_op op;
	int fd;
	uint64_t value;
	int calls;
	int last_res;
};

static void reader_done(struct loop_op *op, int res, unsigned flags)
{
	struct reader *r = container_of(op, struct reader, op);
	(void)flags;
	r->calls++;
	r->last_res = res;
}

static struct loop loop;
static unsigned base;       /* in flight after loop_start: the mailbox's read */

static void setup(void)
{
	struct error err = { 0 };
	cr_assert_eq(loop_init(&loop, 8, &err), 0, "%s", err.msg);
	loop_start(&loop);
	base = loop.in_flight;
	cr_assert_eq(base, 1, "the mailbox listens from the start");
}

static void teardown(void) { loop_destroy(&loop); }

TestSuite(loop, .init = setup, .fini = teardown, .timeout = 10);

static void arm(struct reader *r)
{
	struct io_uring_sqe *sqe = loop_sqe(&loop, &r->op);
	io_uring_prep_read(sqe, r->fd, &r->value, sizeof(r->value), 0);
}

Test(loop, completion_reaches_its_owner)
{
	struct reader a = { .op.complete = reader_done, .fd = eventfd(0, 0) };
	struct reader b = { .op.complete = reader_done, .fd = eventfd(0, 0) };
	arm(&a);
	arm(&b);
	cr_assert_eq(loop.in_flight, base + 2);
	uint64_t v = 7;
	cr_assert_eq(write(b.fd, &v, sizeof(v)), sizeof(v));
	cr_assert_eq(loop_poll(&loop, 2000), 1);
	cr_assert_eq(b.calls, 1);
	cr_assert_eq(b.value, 7);
	cr_assert_eq(a.calls, 0);
	cr_assert_eq(loop.in_flight, base + 1);
	cr_assert_eq(loop_cancel_all(&loop, 2000), 0);
	cr_assert_eq(a.calls, 1);
	cr_assert_eq(a.last_res, -ECANCELED);
	cr_assert_eq(loop.in_flight, 0);
	close(a.fd);
	close(b.fd);
}

Test(loop, poll_times_out_with_nothing_ready)
{
	struct reader a = { .op.complete = reader_done, .fd = eventfd(0, 0) };
	arm(&a);
	cr_assert_eq(loop_poll(&loop, 50), 0);
	cr_assert_eq(a.calls, 0);
	loop_cancel_all(&loop, 2000);
	close(a.fd);
}

Test(loop, more_sqes_than_ring_entries)
{
	enum { N = 40 };   /* the ring has 8 entries: loop_sqe must flush */
	static struct reader r[N];
	for (int i = 0; i < N; i++) {
		r[i] = (struct reader){ .op.complete = reader_done, .fd = eventfd(1, 0) };
		arm(&r[i]);
	}
	int done = 0;
	while (done < N) {
		int n = loop_poll(&loop, 2000);
		cr_assert_gt(n, 0);
		done += n;
	}
	for (int i = 0; i < N; i++) {
		cr_assert_eq(r[i].calls, 1);
		cr_assert_eq(r[i].value, 1);
		close(r[i].fd);
	}
	cr_assert_eq(loop.in_flight, base);
}

struct stopper {
	struct loop_op op;
	int fd;
	uint64_t value;
};

static void stop_done(struct loop_op *op, int res, unsigned flags)
{
	(void)op;
	(void)res;
	(void)flags;
	loop_stop(&loop);
}

Test(loop, run_until_stopped)
{
	struct stopper s = { .op.complete = stop_done, .fd = eventfd(1, 0) };
	struct io_uring_sqe *sqe = loop_sqe(&loop, &s.op);
	io_uring_prep_read(sqe, s.fd, &s.value, sizeof(s.value), 0);
	cr_assert_eq(loop_run(&loop), 0);
	cr_assert(loop.stopped);
	close(s.fd);
}

struct counter_work {
	struct loop_work work;
	int runs;
};

static void count_run(struct loop_work *w)
{
	((struct counter_work *)w)->runs++;
}

static void *post_from_thread(void *arg)
{
	loop_post(&loop, arg);
	return NULL;
}

Test(loop, work_posted_from_another_thread_runs_on_the_loop)
{
	struct counter_work a = { .work.run = count_run }, b = { .work.run = count_run };
	pthread_t th;

	cr_assert(loop_on_thread(&loop));
	pthread_create(&th, NULL, post_from_thread, &a.work);
	pthread_join(th, NULL);
	loop_post(&loop, &b.work);
	loop_post(&loop, &b.work);            /* already queued: runs once */
	while (a.runs + b.runs < 2)
		cr_assert_geq(loop_poll(&loop, 2000), 0);
	cr_assert_eq(a.runs, 1);
	cr_assert_eq(b.runs, 1);
	loop_post(&loop, &b.work);            /* and again after it ran */
	while (b.runs < 2)
		cr_assert_geq(loop_poll(&loop, 2000), 0);
	cr_assert_eq(loop_cancel_all(&loop, 2000), 0);
}

struct reposter {
	struct loop_work work;
	int runs;
	struct loop_work *repost;   /* posted again from this item's own run */
};

static void repost_run(struct loop_work *w)
{
	struct reposter *r = container_of(w, struct reposter, work);
	r->runs++;
	if (r->repost)
		loop_post(&loop, r->repost);
}

/* Batch [A, B, C] with A's run posting B again: C was dropped from the walk. */
Test(loop, reposting_a_queued_item_loses_nothing)
{
	struct reposter c = { .work.run = repost_run };
	struct reposter b = { .work.run = repost_run };
	struct reposter a = { .work.run = repost_run, .repost = &b.work };

	loop_post(&loop, &a.work);
	loop_post(&loop, &b.work);
	loop_post(&loop, &c.work);
	for (int i = 0; i < 5 && c.runs == 0; i++)
		cr_assert_geq(loop_poll(&loop, 200), 0);
	cr_assert_eq(a.runs, 1);
	cr_assert_eq(c.runs, 1, "an item after the re-posted one must still run");
	/* B had not run when A posted it: one run after that post satisfies it. */
	cr_assert_geq(b.runs, 1);
	cr_assert_leq(b.runs, 2);
	cr_assert_eq(loop_cancel_all(&loop, 2000), 0);
}

enum { STRESS_ITEMS = 4, STRESS_POSTS = 20000 };

struct stress_item {
	struct loop_work work;
	atomic_uint posts;          /* bumped before every post */
	unsigned seen;              /* posts counted when it last ran */
};

struct stress {
	struct stress_item item[STRESS_ITEMS];
	atomic_int posters_left;
};

static void stress_run(struct loop_work *w)
{
	struct stress_item *it = container_of(w, struct stress_item, work);
	it->seen = atomic_load(&it->posts);
}

static void *stress_poster(void *arg)
{
	struct stress *s = arg;
	for (unsigned i = 0; i < STRESS_POSTS; i++) {
		struct stress_item *it = &s->item[i % STRESS_ITEMS];
		atomic_fetch_add(&it->posts, 1);
		loop_post(&loop, &it->work);
	}
	atomic_fetch_sub(&s->posters_left, 1);
	return NULL;
}

static bool stress_settled(struct stress *s)
{
	for (int i = 0; i < STRESS_ITEMS; i++)
		if (s->item[i].seen != atomic_load(&s->item[i].posts))
			return false;
	return true;
}

/* Every post is followed by a run of its item, however posts and runs interleave. */
Test(loop, concurrent_posts_are_all_observed)
{
	static struct stress s;
	pthread_t th[2];

	s = (struct stress){ .posters_left = 2 };
	for (int i = 0; i < STRESS_ITEMS; i++)
		s.item[i].work.run = stress_run;
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, stress_poster, &s);
	while (atomic_load(&s.posters_left) > 0)
		cr_assert_geq(loop_poll(&loop, 10), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 20 && !stress_settled(&s); i++)
		cr_assert_geq(loop_poll(&loop, 50), 0);
	for (int i = 0; i < STRESS_ITEMS; i++)
		cr_assert_eq(s.item[i].seen, atomic_load(&s.item[i].posts), "item %d missed its last post", i);
	cr_assert_eq(loop_cancel_all(&loop, 2000), 0);
}

/* A post that lands as the loop closes completes the mailbox's read normally. */
Test(loop, cancel_all_with_a_post_pending)
{
	struct counter_work a = { .work.run = count_run };

	loop_post(&loop, &a.work);
	cr_assert_eq(loop_cancel_all(&loop, 500), 0, "the mailbox must not re-arm while closing");
	cr_assert_eq(loop.in_flight, 0);
	cr_assert_eq(a.runs, 1);
}

/* A full SQ the kernel will not take: loop_sqe must give up and the loop fail, not spin. */
Test(loop, refused_submit_fails_the_loop)
{
	struct io_uring_sqe *sqe;
	int ring_fd = loop.ring.ring_fd, saved = dup(ring_fd), other = eventfd(0, 0);

	while (io_uring_sq_space_left(&loop.ring)) {
		sqe = loop_sqe(&loop, NULL);
		io_uring_prep_nop(sqe);
	}
	/* io_uring_enter on an eventfd: EOPNOTSUPP, whatever is asked of it. */
	cr_assert_geq(dup2(other, ring_fd), 0);
	sqe = loop_sqe(&loop, NULL);
	cr_assert_not_null(sqe, "still something to fill");
	io_uring_prep_nop(sqe);
	int r = loop_poll(&loop, 0);
	cr_assert_geq(dup2(saved, ring_fd), 0);
	cr_assert_lt(r, 0, "the loop reports the refusal");
	cr_assert_eq(loop_run(&loop), r, "and stops running with it");
	close(saved);
	close(other);
}

struct stopping_work {
	struct loop_work work;
	int runs;
};

static void stop_run(struct loop_work *w)
{
	container_of(w, struct stopping_work, work)->runs++;
	loop_stop(&loop);
}

static void *post_later(void *arg)
{
	usleep(50000);              /* long enough for the loop to be asleep in the kernel */
	loop_post(&loop, arg);
	return NULL;
}

/* What a stop request from a vCPU thread relies on: the post alone wakes a sleeping loop. */
Test(loop, post_from_another_thread_wakes_a_blocked_loop)
{
	struct stopping_work s = { .work.run = stop_run };
	pthread_t th;

	pthread_create(&th, NULL, post_later, &s.work);
	cr_assert_eq(loop_run(&loop), 0, "loop_run waits with no timeout: only the post ends it");
	pthread_join(th, NULL);
	cr_assert_eq(s.runs, 1);
	cr_assert_eq(loop_cancel_all(&loop, 2000), 0);
}
