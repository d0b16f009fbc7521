#include "devices/console.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "services/util.h"

static void console_pump(struct console *con);

size_t console_filter_escapes(uint8_t *buf, size_t len, bool *escape_seen, bool *quit)
{
	size_t kept = 0;

	/* Never longer than its input, so filtering in place is safe. */
	for (size_t i = 0; i < len; i++) {
		uint8_t c = buf[i];
		if (!*escape_seen) {
			if (c == CONSOLE_ESCAPE)
				*escape_seen = true;
			else
				buf[kept++] = c;
			continue;
		}
		*escape_seen = false;
		if (c == 'x' || c == 'X') {
			*quit = true;
			return kept;
		}
		/* Ctrl-A Ctrl-A sends one Ctrl-A; Ctrl-A followed by anything else sends that. */
		buf[kept++] = c;
	}
	return kept;
}

/* Any thread: ask the loop thread to look at the console again. */
static void console_notify(struct console *con)
{
	loop_post(con->loop, &con->notify_work);
}

static bool console_tx(void *ctx, uint8_t byte)
{
	struct console *con = ctx;
	bool start = false;

	pthread_mutex_lock(&con->out_lock);
	if (con->out_broken) {
		pthread_mutex_unlock(&con->out_lock);
		return true;              /* nobody is listening: output vanishes, as on a cut wire */
	}
	if (con->out_len == CONSOLE_OUT_SIZE) {
		con->tx_stalled = true;
		pthread_mutex_unlock(&con->out_lock);
		return false;
	}
	con->out_buf[(con->out_head + con->out_len) % CONSOLE_OUT_SIZE] = byte;
	con->out_len++;
	start = !con->writing && con->out_len == 1;
	pthread_mutex_unlock(&con->out_lock);
	if (start)
		console_notify(con);
	return true;
}

static bool console_tx_ready(void *ctx)
{
	struct console *con = ctx;

	pthread_mutex_lock(&con->out_lock);
	bool ready = con->out_broken || con->out_len < CONSOLE_OUT_SIZE;
	if (!ready)
		con->tx_stalled = true;
	pthread_mutex_unlock(&con->out_lock);
	return ready;
}

static void console_rx_space(void *ctx)
{
	console_notify(ctx);
}

const struct uart_backend console_uart_ops = {
	.tx = console_tx,
	.tx_ready = console_tx_ready,
	.rx_space = console_rx_space,
};

/* Loop thread: hand the next contiguous run of output to the kernel. */
static void console_start_write(struct console *con)
{
	pthread_mutex_lock(&con->out_lock);
	if (con->writing || con->out_poll || !con->out_len || con->out_broken) {
		pthread_mutex_unlock(&con->out_lock);
		return;
	}
	size_t run = CONSOLE_OUT_SIZE - con->out_head;
	con->writing = con->out_len < run ? con->out_len : run;
	const uint8_t *start = con->out_buf + con->out_head;
	pthread_mutex_unlock(&con->out_lock);

	struct io_uring_sqe *sqe = loop_sqe(con->loop, &con->write_op);
	io_uring_prep_write(sqe, con->out_fd, start, (unsigned)con->writing, (uint64_t)-1);
}

static void console_write_done(struct loop_op *op, int res, unsigned flags)
{
	struct console *con = container_of(op, struct console, write_op);
	bool poll_again = false;

	(void)flags;
	pthread_mutex_lock(&con->out_lock);
	if (con->out_poll) {
		con->out_poll = false;   /* stdout has room again; a dead one fails the next write */
	} else {
		con->writing = 0;
		if (res > 0) {
			con->out_head = (con->out_head + (size_t)res) % CONSOLE_OUT_SIZE;
			con->out_len -= (size_t)res;
		} else if (res == -EAGAIN) {
			/* A non-blocking stdout: wait for room through the ring, then retry. */
			con->out_poll = poll_again = true;
		} else if (res != -ECANCELED && res != -EINTR) {
			/* EPIPE, a hung-up terminal, a full disk: output is discarded from now on. */
			con->out_broken = true;
			con->out_len = 0;
		}
	}
	bool drained = con->tx_stalled && (con->out_broken || con->out_len < CONSOLE_OUT_SIZE);
	if (drained)
		con->tx_stalled = false;
	pthread_mutex_unlock(&con->out_lock);

	if (poll_again)
		io_uring_prep_poll_add(loop_sqe(con->loop, &con->write_op), con->out_fd, POLLOUT);
	if (drained)
		uart_tx_drained(con->uart);
	if (res != -ECANCELED)
		console_start_write(con);
}

static void console_arm_read(struct console *con)
{
	/* Work posted as the loop closes may pump: a new read would hold up loop_cancel_all. */
	if (con->reading || con->in_closed || con->in_pos < con->in_len || loop_closing(con->loop))
		return;
	con->reading = true;
	struct io_uring_sqe *sqe = loop_sqe(con->loop, &con->read_op);
	if (con->in_poll)
		io_uring_prep_poll_add(sqe, con->in_fd, POLLIN);
	else
		io_uring_prep_read(sqe, con->in_fd, con->in_buf, sizeof(con->in_buf), (uint64_t)-1);
}

static void console_read_done(struct loop_op *op, int res, unsigned flags)
{
	struct console *con = container_of(op, struct console, read_op);
	bool was_poll = con->in_poll, quit = false;

	(void)flags;
	con->reading = false;
	con->in_poll = false;
	if (res == -ECANCELED) {
		con->in_closed = true;         /* shutting down */
		return;
	}
	if (was_poll || res == -EINTR || res == -EAGAIN) {
		/* A non-blocking stdin waits for data through the ring before reading. */
		con->in_poll = res == -EAGAIN;
		console_arm_read(con);
		return;
	}
	if (res <= 0) {
		con->in_closed = true;         /* end of input, or an error reading it */
		return;
	}
	con->in_pos = 0;
	con->in_len = (size_t)res;
	if (con->escapes)
		con->in_len = console_filter_escapes(con->in_buf, con->in_len, &con->escape_seen, &quit);
	if (quit) {
		con->in_len = 0;
		con->on_quit(con->quit_ctx);
		return;
	}
	console_pump(con);
}

/* Loop thread: move buffered input into the UART, keep output flowing. */
static void console_pump(struct console *con)
{
	if (con->in_pos < con->in_len)
		con->in_pos += uart_receive(con->uart, con->in_buf + con->in_pos,
					    con->in_len - con->in_pos);
	console_arm_read(con);
	console_start_write(con);
}

/* The mailbox unqueues the work before running it: a post racing with us runs it again. */
static void console_notified(struct loop_work *work)
{
	console_pump(container_of(work, struct console, notify_work));
}

void console_init(struct console *con, struct loop *loop, struct uart *uart, int in_fd,
		  int out_fd, bool escapes, void (*on_quit)(void *), void *quit_ctx)
{
	memset(con, 0, sizeof(*con));
	con->loop = loop;
	con->uart = uart;
	con->in_fd = in_fd;
	con->out_fd = out_fd;
	con->escapes = escapes;
	con->on_quit = on_quit;
	con->quit_ctx = quit_ctx;
	con->read_op.complete = console_read_done;
	con->write_op.complete = console_write_done;
	con->notify_work.run = console_notified;
	con->in_closed = in_fd < 0;
	con->out_broken = out_fd < 0;
	pthread_mutex_init(&con->out_lock, NULL);
}

void console_start(struct console *con)
{
	console_arm_read(con);
}

static long long elapsed_ms(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - since->tv_sec) * 1000LL + (now.tv_nsec - since->tv_nsec) / 1000000;
}

void console_flush(struct console *con, int timeout_ms)
{
	struct timespec start;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		pthread_mutex_lock(&con->out_lock);
		bool pending = con->out_len && !con->out_broken;
		pthread_mutex_unlock(&con->out_lock);
		long long left = timeout_ms - elapsed_ms(&start);
		if (!pending || left <= 0)
			return;
		console_start_write(con);
		if (loop_poll(con->loop, (int)left) < 0)
			return;
	}
}

void console_destroy(struct console *con)
{
	pthread_mutex_destroy(&con->out_lock);
}
