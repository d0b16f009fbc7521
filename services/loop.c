#include "services/loop.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "services/util.h"

#define LOOP_SUBMIT_TRIES 8         /* each submit that works empties the SQ: more is a refusal */

static void loop_arm_mailbox(struct loop *loop);

static void loop_mailbox_done(struct loop_op *op, int res, unsigned flags)
{
	struct loop *loop = container_of(op, struct loop, mailbox_op);

	(void)flags;
	loop->mailbox_armed = false;
	if (res == -ECANCELED)
		return;
	pthread_mutex_lock(&loop->mailbox_lock);
	struct loop_work *work = loop->mailbox_head;
	loop->mailbox_head = loop->mailbox_tail = NULL;
	pthread_mutex_unlock(&loop->mailbox_lock);
	/*
	 * In posting order. An item stays queued until its turn, so posting it again
	 * meanwhile is a no-op (it has not run yet) and cannot rewrite the next link
	 * we are walking; once it is unqueued, a post lands in the next batch.
	 */
	while (work) {
		pthread_mutex_lock(&loop->mailbox_lock);
		struct loop_work *next = work->next;
		work->queued = false;
		pthread_mutex_unlock(&loop->mailbox_lock);
		work->run(work);
		work = next;
	}
	/* Re-arming while closing would keep loop_cancel_all waiting until it times out. */
	if (!loop->closing)
		loop_arm_mailbox(loop);
}

static void loop_arm_mailbox(struct loop *loop)
{
	struct io_uring_sqe *sqe = loop_sqe(loop, &loop->mailbox_op);
	io_uring_prep_read(sqe, loop->mailbox_fd, &loop->mailbox_count, sizeof(loop->mailbox_count), 0);
	loop->mailbox_armed = true;
}

void loop_start(struct loop *loop)
{
	loop->owner = pthread_self();
	loop->owner_set = true;
	/* Debian's liburing 2.3 declares io_uring_enable_rings() but does not export it. */
	if (loop->ring.flags & IORING_SETUP_R_DISABLED)
		syscall(__NR_io_uring_register, loop->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
	if (!loop->mailbox_armed)
		loop_arm_mailbox(loop);
}

bool loop_on_thread(const struct loop *loop)
{
	return loop->owner_set && pthread_equal(pthread_self(), loop->owner);
}

void loop_post(struct loop *loop, struct loop_work *work)
{
	pthread_mutex_lock(&loop->mailbox_lock);
	bool wake = !loop->mailbox_head;
	if (!work->queued) {
		work->queued = true;
		work->next = NULL;
		if (loop->mailbox_tail)
			loop->mailbox_tail->next = work;
		else
			loop->mailbox_head = work;
		loop->mailbox_tail = work;
	}
	pthread_mutex_unlock(&loop->mailbox_lock);
	if (wake) {
		uint64_t one = 1;
		(void)!write(loop->mailbox_fd, &one, sizeof(one));
	}
}

/*
 * The host refused io_uring itself rather than failing one ring: say why in terms
 * a user can act on, since the errno alone ("Operation not permitted") does not.
 */
static int loop_refused(int errnum, struct error *err)
{
	int disabled = 0;
	FILE *f = fopen("/proc/sys/kernel/io_uring_disabled", "re");

	if (f) {
		if (fscanf(f, "%d", &disabled) != 1)
			disabled = 0;
		fclose(f);
	}
	if (errnum == ENOSYS)
		return error_set(err, errnum, "this kernel has no io_uring (io_uring_setup: ENOSYS); "
				 "ringvm needs a kernel built with CONFIG_IO_URING");
	if (disabled == 2)
		return error_set(err, errnum, "io_uring is disabled on this host "
				 "(sysctl kernel.io_uring_disabled=2); ringvm needs it: set it to 0");
	if (disabled == 1)
		return error_set(err, errnum, "io_uring is limited to the group kernel.io_uring_group "
				 "on this host (sysctl kernel.io_uring_disabled=1); join that group, "
				 "or set it to 0");
	return error_set(err, errnum, "io_uring_setup was refused (EPERM), most likely by a seccomp "
			 "profile such as Docker's or containerd's default; allow io_uring_setup, "
			 "io_uring_enter and io_uring_register (e.g. --security-opt seccomp=unconfined)");
}

int loop_init(struct loop *loop, unsigned entries, struct error *err)
{
	/*
	 * Only the loop's thread submits and reaps, so the kernel may run completion
	 * work when we enter it rather than interrupting us. The ring starts disabled
	 * and loop_start enables it on that thread, which then is its single issuer.
	 * Older kernels refuse the flags, which only cost speed.
	 */
	static const unsigned flag_sets[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED,
		IORING_SETUP_COOP_TASKRUN,
		0,
	};
	int r = -EINVAL;

	*loop = (struct loop){
		.initialized = true, .mailbox_fd = -1, .mailbox_op.complete = loop_mailbox_done,
	};
	pthread_mutex_init(&loop->mailbox_lock, NULL);
	loop->mailbox_fd = eventfd(0, EFD_CLOEXEC);
	if (loop->mailbox_fd < 0)
		return error_sys(err, errno, "cannot create a loop's eventfd");
	for (unsigned i = 0; i < sizeof(flag_sets) / sizeof(flag_sets[0]); i++) {
		r = io_uring_queue_init(entries, &loop->ring, flag_sets[i]);
		if (r != -EINVAL)
			break;
	}
	if (r == -EPERM || r == -ENOSYS)
		return loop_refused(-r, err);
	if (r)
		return error_sys(err, -r, "cannot create an io_uring");
	loop->ring_ready = true;
	return 0;
}

void loop_destroy(struct loop *loop)
{
	if (!loop->initialized)
		return;
	loop->initialized = false;
	if (loop->ring_ready)
		io_uring_queue_exit(&loop->ring);
	loop->ring_ready = false;
	if (loop->mailbox_fd >= 0)
		close(loop->mailbox_fd);
	loop->mailbox_fd = -1;
	pthread_mutex_destroy(&loop->mailbox_lock);
}

struct io_uring_sqe *loop_sqe(struct loop *loop, struct loop_op *op)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&loop->ring);
	int r = 0;

	/* The SQ is full: hand what we have to the kernel to make room, a few times. */
	for (unsigned tries = 0; !sqe && tries < LOOP_SUBMIT_TRIES; tries++) {
		r = io_uring_submit(&loop->ring);
		sqe = io_uring_get_sqe(&loop->ring);
	}
	if (!sqe) {
		/* Retrying forever would spin this thread; the loop fails instead. */
		if (!loop->error)
			loop->error = r < 0 ? r : -EBUSY;
		loop->sink = (struct io_uring_sqe){ 0 };
		return &loop->sink;
	}
	io_uring_sqe_set_data(sqe, op);
	loop->in_flight++;
	return sqe;
}

static unsigned loop_dispatch(struct loop *loop)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;

	/*
	 * Callbacks may queue new SQEs; they go out with the next wait, so one
	 * wake-up costs one io_uring_enter however much work it produced.
	 */
	io_uring_for_each_cqe(&loop->ring, head, cqe) {
		struct loop_op *op = io_uring_cqe_get_data(cqe);
		int res = cqe->res;
		unsigned flags = cqe->flags;

		seen++;
		if (!(flags & IORING_CQE_F_MORE))
			loop->in_flight--;
		/* Advance first: a callback that polls the loop must not see this CQE again. */
		io_uring_cq_advance(&loop->ring, 1);
		if (op && op->complete)
			op->complete(op, res, flags);
	}
	/* Whatever a batch made necessary once (an interrupt per queue), now. */
	while (loop->after_batch) {
		struct loop_work *work = loop->after_batch;
		loop->after_batch = work->next;
		work->queued = false;
		work->run(work);
	}
	return seen;
}

void loop_after_batch(struct loop *loop, struct loop_work *work)
{
	if (work->queued)
		return;
	work->queued = true;
	work->next = loop->after_batch;
	loop->after_batch = work;
}

int loop_poll(struct loop *loop, int timeout_ms)
{
	struct io_uring_cqe *cqe;
	int r;

	if (loop->error)
		return loop->error;
	if (timeout_ms < 0) {
		r = io_uring_submit_and_wait(&loop->ring, 1);
	} else {
		struct __kernel_timespec ts = {
			.tv_sec = timeout_ms / 1000, .tv_nsec = (timeout_ms % 1000) * 1000000L,
		};
		r = io_uring_submit_and_wait_timeout(&loop->ring, &cqe, 1, &ts, NULL);
	}
	if (r < 0 && r != -EINTR && r != -ETIME && r != -EAGAIN && r != -EBUSY)
		return r;
	unsigned seen = loop_dispatch(loop);
	/* A completion's handler may have found the ring refusing its next SQE. */
	return loop->error ? loop->error : (int)seen;
}

int loop_run(struct loop *loop)
{
	loop->stopped = false;
	while (!loop->stopped) {
		int r = loop_poll(loop, -1);
		if (r < 0)
			return r;
	}
	return 0;
}

void loop_stop(struct loop *loop)
{
	loop->stopped = true;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int loop_cancel_all(struct loop *loop, int timeout_ms)
{
	if (!loop->ring_ready)
		return 0;
	loop->closing = true;
	if (loop->in_flight) {
		struct io_uring_sqe *sqe = loop_sqe(loop, NULL);
		io_uring_prep_cancel(sqe, NULL, IORING_ASYNC_CANCEL_ANY);
	}
	int64_t deadline = now_ms() + timeout_ms;
	while (loop->in_flight) {
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		int r = loop_poll(loop, (int)left);
		if (r < 0)
			return r;
	}
	return 0;
}
