#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "devices/console.h"

static size_t filter(const char *in, char *out, bool *seen, bool *quit)
{
	size_t len = strlen(in);
	memcpy(out, in, len);
	return console_filter_escapes((uint8_t *)out, len, seen, quit);
}

Test(console, plain_input_passes)
{
	char buf[32];
	bool seen = false, quit = false;
	size_t n = filter("hello\r", buf, &seen, &quit);
	cr_assert_eq(n, 6);
	cr_assert_eq(memcmp(buf, "hello\r", 6), 0);
	cr_assert_not(quit);
}

Test(console, ctrl_a_x_quits)
{
	char buf[32];
	bool seen = false, quit = false;
	size_t n = filter("ab\x01xcd", buf, &seen, &quit);
	cr_assert(quit);
	cr_assert_eq(n, 2, "what came before the escape is kept");
}

Test(console, ctrl_a_ctrl_a_is_literal)
{
	char buf[32];
	bool seen = false, quit = false;
	size_t n = filter("\x01\x01z", buf, &seen, &quit);
	cr_assert_not(quit);
	cr_assert_eq(n, 2);
	cr_assert_eq(buf[0], 0x01);
	cr_assert_eq(buf[1], 'z');
}

Test(console, escape_spans_reads)
{
	char buf[32];
	bool seen = false, quit = false;
	cr_assert_eq(filter("q\x01", buf, &seen, &quit), 1);
	cr_assert(seen);
	cr_assert_eq(filter("x", buf, &seen, &quit), 0);
	cr_assert(quit);
}

Test(console, unknown_escape_sends_the_key)
{
	char buf[32];
	bool seen = false, quit = false;
	size_t n = filter("\x01" "c", buf, &seen, &quit);
	cr_assert_eq(n, 1);
	cr_assert_eq(buf[0], 'c');
	cr_assert_not(seen);
}

/* Output: a guest printing from a vCPU thread, the loop writing it to a pipe. */
enum { PRINTED = 30000 };       /* under a pipe's 64 KiB: the writes never wait for a reader */

struct printer {
	struct console *con;
	int lost;
	atomic_bool done;
};

static uint8_t nth_byte(size_t i) { return (uint8_t)(i * 7 + i / 251); }

static void *print_from_vcpu(void *arg)
{
	struct printer *p = arg;

	/* In small bursts, so the loop drains some while more is coming. */
	for (size_t i = 0; i < PRINTED; i++) {
		if (!console_uart_ops.tx(p->con, nth_byte(i)))
			p->lost++;
		if (i % 1000 == 999)
			usleep(1000);
	}
	atomic_store(&p->done, true);
	return NULL;
}

static bool console_idle(struct console *con)
{
	pthread_mutex_lock(&con->out_lock);
	bool idle = !con->out_len && !con->writing;
	pthread_mutex_unlock(&con->out_lock);
	return idle;
}

Test(console, output_from_a_vcpu_thread_arrives_in_order, .timeout = 20)
{
	static struct console con;
	static uint8_t got[PRINTED + 1];
	struct loop loop;
	struct error err = { 0 };
	struct printer p = { .con = &con };
	int pipe_fds[2];
	pthread_t th;

	cr_assert_eq(pipe2(pipe_fds, O_CLOEXEC), 0);
	cr_assert_eq(loop_init(&loop, 8, &err), 0, "%s", err.msg);
	loop_start(&loop);
	/* No input and no UART: only the output path, woken by the vCPU thread's posts. */
	console_init(&con, &loop, NULL, -1, pipe_fds[1], false, NULL, NULL);
	console_start(&con);
	pthread_create(&th, NULL, print_from_vcpu, &p);
	while (!atomic_load(&p.done))
		cr_assert_geq(loop_poll(&loop, 100), 0);
	pthread_join(th, NULL);
	/* The last bytes were posted, nothing else: only the mailbox can get them written. */
	for (int i = 0; i < 100 && !console_idle(&con); i++)
		cr_assert_geq(loop_poll(&loop, 50), 0);
	cr_assert(console_idle(&con), "everything printed was written");
	cr_assert_eq(p.lost, 0);

	close(pipe_fds[1]);
	size_t have = 0;
	ssize_t n;
	while ((n = read(pipe_fds[0], got + have, sizeof(got) - have)) > 0)
		have += (size_t)n;
	cr_assert_eq(have, PRINTED);
	for (size_t i = 0; i < PRINTED; i++)
		cr_assert_eq(got[i], nth_byte(i), "byte %zu out of order", i);
	close(pipe_fds[0]);
	cr_assert_eq(loop_cancel_all(&loop, 2000), 0);
	console_destroy(&con);
	loop_destroy(&loop);
}
