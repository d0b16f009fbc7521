/* Minimal formatted output: %s %c %d %u %x %p with '0' padding, width and 'l'. */
#ifndef RINGVM_GUEST_PRINTF_H
#define RINGVM_GUEST_PRINTF_H

#include <stdarg.h>
#include <stddef.h>

#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))

/* Prints to the serial console; one call's output is never interleaved with another CPU's. */
int printf(const char *fmt, ...) PRINTF_LIKE(1, 2);

/* Like printf, but goes ahead if the console lock stays taken (exception handlers). */
int printf_forced(const char *fmt, ...) PRINTF_LIKE(1, 2);

/* Formats into buf, always NUL-terminating; returns the untruncated length. */
int snprintf(char *buf, size_t size, const char *fmt, ...) PRINTF_LIKE(3, 4);

#endif
