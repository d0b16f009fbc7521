/*
 * Lines appended to a file (or FIFO) through a loop's io_uring, never blocking the
 * loop: each line is a write of its own; past a bound of lines in flight, new ones
 * are dropped and counted, so a reader that stalls costs bounded memory.
 */
#ifndef RINGVM_APPENDER_H
#define RINGVM_APPENDER_H

#include <stdbool.h>
#include <stdint.h>

#include "services/error.h"
#include "services/loop.h"

#define APPENDER_MAX_IN_FLIGHT 64

struct appender {
	struct loop *loop;
	int fd;                     /* -1: not open */
	unsigned in_flight;
	uint64_t written, dropped, failed;
};

/* Opens path for appending (created if missing; a FIFO without a reader is fine). */
int appender_open(struct appender *a, struct loop *loop, const char *path, const char *what,
		  struct error *err);

/* Loop thread: queues text (copied) as one write; false if dropped. */
bool appender_write(struct appender *a, const char *text);

/* Closes the file; whatever is in flight must have been cancelled or completed. */
void appender_close(struct appender *a);

#endif
