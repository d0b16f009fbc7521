/*
 * The serial console's host side: stdin and stdout through the I/O thread's ring,
 * feeding a UART. On a terminal, Ctrl-A x quits and Ctrl-A Ctrl-A sends Ctrl-A.
 */
#ifndef RINGVM_CONSOLE_H
#define RINGVM_CONSOLE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/uart.h"
#include "services/loop.h"

#define CONSOLE_IN_SIZE   4096
#define CONSOLE_OUT_SIZE  65536
#define CONSOLE_ESCAPE    0x01      /* Ctrl-A */

struct console {
	struct loop *loop;
	struct uart *uart;
	int in_fd, out_fd;
	bool escapes;               /* stdin is a terminal: watch for Ctrl-A x */
	void (*on_quit)(void *ctx);
	void *quit_ctx;

	/* Input: the loop thread's alone. */
	struct loop_op read_op;
	uint8_t in_buf[CONSOLE_IN_SIZE];
	size_t in_pos, in_len;
	bool reading, in_closed, escape_seen, in_poll;

	/* Output: vCPU threads append under out_lock; the loop thread writes it out. */
	pthread_mutex_t out_lock;
	uint8_t out_buf[CONSOLE_OUT_SIZE];
	size_t out_head, out_len;   /* a ring: out_len bytes from out_head */
	size_t writing;             /* bytes in the write in flight, 0 if none */
	bool out_broken;            /* stdout failed: output is discarded */
	bool tx_stalled;            /* the UART saw the buffer full */
	bool out_poll;
	struct loop_op write_op;

	/* Posted by other threads to the loop's mailbox: look at the console again. */
	struct loop_work notify_work;
};

/* Backend operations for the UART, with the console as their context. */
extern const struct uart_backend console_uart_ops;

/* Sets up the console over in_fd/out_fd; on_quit runs (loop thread) on Ctrl-A x. */
void console_init(struct console *con, struct loop *loop, struct uart *uart, int in_fd,
		  int out_fd, bool escapes, void (*on_quit)(void *), void *quit_ctx);

/* Queues the first reads on the loop; call on the loop thread before it runs. */
void console_start(struct console *con);

/* Writes out what the guest printed, waiting up to timeout_ms; the loop is not running. */
void console_flush(struct console *con, int timeout_ms);

/* Frees the console's lock; stdin and stdout stay open. */
void console_destroy(struct console *con);

/* Filters terminal input in place for the Ctrl-A escapes; returns the bytes kept. */
size_t console_filter_escapes(uint8_t *buf, size_t len, bool *escape_seen, bool *quit);

#endif
