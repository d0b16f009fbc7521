/* An extra I/O thread: its own loop (io_uring), run until stopped. */
#ifndef RINGVM_IOTHREAD_H
#define RINGVM_IOTHREAD_H

#include <pthread.h>
#include <stdbool.h>

#include "services/error.h"
#include "services/loop.h"

struct iothread {
	struct loop loop;
	pthread_t thread;
	bool started;
	char name[16];
	struct loop_work stop_work;
	void (*failed)(void *ctx, int err);   /* the loop broke (a -errno): the VM must stop */
	void *ctx;
	int (*on_start)(void *ctx);           /* on the thread, before its loop runs: nonzero ends it */
};

/* Creates the loop (work may be posted to it before the thread starts). */
int iothread_init(struct iothread *io, const char *name, void (*failed)(void *ctx, int err),
		  void *ctx, struct error *err);

/* Starts the thread. */
int iothread_start(struct iothread *io, struct error *err);

/* Stops the loop, joins the thread, cancels what is in flight and frees the loop. */
void iothread_destroy(struct iothread *io);

#endif
