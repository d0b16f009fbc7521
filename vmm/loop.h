/*
 * An I/O thread's event loop: one io_uring owning every fd the thread waits on.
 * Work queued during one wake-up goes to the kernel in one io_uring_enter.
 */
#ifndef RINGVM_LOOP_H
#define RINGVM_LOOP_H

#include <liburing.h>
#include <stdbool.h>

#include "vmm/error.h"

struct loop_op;

/* Runs on the loop's thread with the CQE's result and flags. */
typedef void (*loop_complete_fn)(struct loop_op *op, int res, unsigned flags);

/* Embedded in whatever owns an operation; its address is the SQE's user_data. */
struct loop_op {
	loop_complete_fn complete;
};

struct loop {
	struct io_uring ring;
	bool ring_ready;
	unsigned in_flight;         /* queued or submitted SQEs whose last CQE has not come */
	bool stopped;
};

/* Creates the ring. */
int loop_init(struct loop *loop, unsigned entries, struct error *err);

/* Tears the ring down; cancel first (loop_cancel_all) if anything may be in flight. */
void loop_destroy(struct loop *loop);

/* A fresh SQE whose completion goes to op (NULL: nobody waits for it); never NULL. */
struct io_uring_sqe *loop_sqe(struct loop *loop, struct loop_op *op);

/* Submits what is queued, waits up to timeout_ms (-1: forever) for completions, dispatches them. */
int loop_poll(struct loop *loop, int timeout_ms);

/* Polls until loop_stop is called; returns 0 or the -errno that broke the ring. */
int loop_run(struct loop *loop);

/* Makes loop_run return after the current wake-up (loop thread only). */
void loop_stop(struct loop *loop);

/* Cancels everything in flight and reaps it, giving up after timeout_ms. */
int loop_cancel_all(struct loop *loop, int timeout_ms);

#endif
