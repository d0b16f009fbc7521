/*
 * An I/O thread's event loop: one io_uring owning every fd the thread waits on.
 * Work queued during one wake-up goes to the kernel in one io_uring_enter.
 */
#ifndef RINGVM_LOOP_H
#define RINGVM_LOOP_H

#include <liburing.h>
#include <pthread.h>
#include <stdbool.h>

#include "services/error.h"

struct loop_op;

/* Runs on the loop's thread with the CQE's result and flags. */
typedef void (*loop_complete_fn)(struct loop_op *op, int res, unsigned flags);

/* Embedded in whatever owns an operation; its address is the SQE's user_data. */
struct loop_op {
	loop_complete_fn complete;
};

/* Work another thread hands to the loop's thread (only that thread may submit). */
struct loop_work {
	void (*run)(struct loop_work *work);
	struct loop_work *next;
	bool queued;
};

struct loop {
	bool initialized;           /* loop_init ran: loop_destroy has something to undo */
	struct io_uring ring;
	bool ring_ready;
	unsigned in_flight;         /* queued or submitted SQEs whose last CQE has not come */
	bool stopped;
	bool closing;               /* loop_cancel_all ran: completions must not re-arm */
	int error;                  /* a submit the kernel refused: what loop_poll now returns */
	struct io_uring_sqe sink;   /* handed out once the ring refuses: filled, never submitted */
	pthread_t owner;            /* the thread that runs the loop, once started */
	bool owner_set;

	/* Work to run once the current batch of completions is dispatched. */
	struct loop_work *after_batch;

	/* The mailbox: posted work, and the eventfd that wakes the loop for it. */
	pthread_mutex_t mailbox_lock;
	struct loop_work *mailbox_head, *mailbox_tail;
	int mailbox_fd;
	uint64_t mailbox_count;
	struct loop_op mailbox_op;
	bool mailbox_armed;
};

/* Creates the ring and its mailbox. */
int loop_init(struct loop *loop, unsigned entries, struct error *err);

/* On the loop's thread, before anything is submitted: makes it the ring's owner. */
void loop_start(struct loop *loop);

/* Loop thread: runs work->run once the completions of this wake-up are all handled. */
void loop_after_batch(struct loop *loop, struct loop_work *work);

/* True when called on the loop's own thread (which may queue SQEs directly). */
bool loop_on_thread(const struct loop *loop);

/* Any thread: runs work->run on the loop's thread soon (once, however often posted). */
void loop_post(struct loop *loop, struct loop_work *work);

/* Tears the ring down; cancel first (loop_cancel_all) if anything may be in flight. */
void loop_destroy(struct loop *loop);

/*
 * A fresh SQE whose completion goes to op (NULL: nobody waits for it); never NULL.
 * Where the ring is full and the kernel refuses to take what it holds, the loop
 * has failed: the SQE returned goes nowhere and loop_poll reports the error.
 */
struct io_uring_sqe *loop_sqe(struct loop *loop, struct loop_op *op);

/*
 * Submits what is queued, waits up to timeout_ms (-1: forever) for completions, dispatches
 * them; returns how many, or the -errno that broke the ring (then and from then on).
 */
int loop_poll(struct loop *loop, int timeout_ms);

/* Polls until loop_stop is called; returns 0 or the -errno that broke the ring. */
int loop_run(struct loop *loop);

/* Makes loop_run return after the current wake-up (loop thread only). */
void loop_stop(struct loop *loop);

/* Cancels everything in flight and reaps it, giving up after timeout_ms; the loop is closing. */
int loop_cancel_all(struct loop *loop, int timeout_ms);

/* Whether loop_cancel_all has run: a completion that would re-arm itself should not. */
static inline bool loop_closing(const struct loop *loop) { return loop->closing; }

#endif
