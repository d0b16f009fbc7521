#include <criterion/criterion.h>
#include <string.h>

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
