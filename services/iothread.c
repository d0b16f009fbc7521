#include "services/iothread.h"

#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "services/util.h"

#define IOTHREAD_ENTRIES  256
#define CANCEL_TIMEOUT_MS 1000

static void iothread_stop_now(struct loop_work *work)
{
	struct iothread *io = container_of(work, struct iothread, stop_work);
	loop_stop(&io->loop);
}

static void *iothread_main(void *arg)
{
	struct iothread *io = arg;

	pthread_setname_np(pthread_self(), io->name);
	loop_start(&io->loop);
	/* The owner's set-up that only this thread can do (a seccomp filter); it reports its own failure. */
	if (!io->on_start || !io->on_start(io->ctx)) {
		int r = loop_run(&io->loop);
		if (r && io->failed)
			io->failed(io->ctx, r);
	}
	loop_cancel_all(&io->loop, CANCEL_TIMEOUT_MS);
	return NULL;
}

int iothread_init(struct iothread *io, const char *name, void (*failed)(void *ctx, int err),
		  void *ctx, struct error *err)
{
	memset(io, 0, sizeof(*io));
	io->failed = failed;
	io->ctx = ctx;
	snprintf(io->name, sizeof(io->name), "%s", name);
	io->stop_work.run = iothread_stop_now;
	return loop_init(&io->loop, IOTHREAD_ENTRIES, err);
}

int iothread_start(struct iothread *io, struct error *err)
{
	sigset_t all, old;

	/* Like vCPU threads: signals are the main thread's business. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int r = pthread_create(&io->thread, NULL, iothread_main, io);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r)
		return error_sys(err, r, "cannot start I/O thread %s", io->name);
	io->started = true;
	return 0;
}

void iothread_destroy(struct iothread *io)
{
	if (io->started) {
		loop_post(&io->loop, &io->stop_work);
		pthread_join(io->thread, NULL);
		io->started = false;
	}
	loop_destroy(&io->loop);
}
