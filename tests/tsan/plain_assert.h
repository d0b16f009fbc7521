/*
 * The few Criterion asserts tests/unit/virtio_driver.h uses, for plain programs:
 * Criterion's fork-server cannot run under ThreadSanitizer. A failed one prints
 * where and what, and ends the program with status 1.
 */
#ifndef RINGVM_TSAN_PLAIN_ASSERT_H
#define RINGVM_TSAN_PLAIN_ASSERT_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define TD_PLAIN_ASSERTS 1

__attribute__((noreturn, format(printf, 4, 5)))
static inline void plain_fail(const char *file, int line, const char *expr, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: assertion failed: %s", file, line, expr);
	if (fmt[1]) {            /* fmt is " " and the message's format (format checks want one) */
		fputs(":", stderr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
	}
	fputc('\n', stderr);
	exit(1);
}

/* The message, when given, is a format string literal and its arguments. */
#define cr_assert(cond, ...) \
	((cond) ? (void)0 : plain_fail(__FILE__, __LINE__, #cond, " " __VA_ARGS__))
#define cr_assert_not(cond, ...)      cr_assert(!(cond), __VA_ARGS__)
#define cr_assert_eq(a, b, ...)       cr_assert((a) == (b), __VA_ARGS__)
#define cr_assert_lt(a, b, ...)       cr_assert((a) < (b), __VA_ARGS__)
#define cr_assert_geq(a, b, ...)      cr_assert((a) >= (b), __VA_ARGS__)
#define cr_assert_not_null(p, ...)    cr_assert((p) != NULL, __VA_ARGS__)

#endif
