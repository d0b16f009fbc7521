#include "printf.h"

#include <stdbool.h>
#include <stdint.h>

#include "mem.h"
#include "serial.h"
#include "spinlock.h"

/* Spins (each a pause) an exception handler waits for the lock before taking over. */
#define FORCED_LOCK_TRIES 100000

/*
 * Where formatted text goes: the UART, or a caller's buffer. On an emulated
 * host every instruction is dearly paid, so text moves in runs (literal
 * stretches of the format, whole numbers) and a character costs little more
 * than the scan that finds the next '%' or '\n'.
 */
struct sink {
	bool console;       /* to the UART, "\n" sent as "\r\n"; else into buf */
	char *buf;
	size_t cap;         /* characters buf can take, not counting the NUL */
	size_t pos;         /* characters in buf */
	size_t len;         /* characters produced, including any that did not fit */
};

static struct spinlock console_lock;

static void emit_run(struct sink *sink, const char *s, size_t n)
{
	sink->len += n;
	if (sink->console) {
		serial_write(s, n);
		return;
	}
	if (n > sink->cap - sink->pos)
		n = sink->cap - sink->pos;
	memcpy(sink->buf + sink->pos, s, n);
	sink->pos += n;
}

/* Emits s up to its NUL or stop, whichever comes first; returns where it stopped. */
static const char *emit_text(struct sink *sink, const char *s, char stop)
{
	const char *run = s;

	for (;;) {
		/* NUL, '\n' and '%' all sort at or below '%': one compare per ordinary character. */
		while ((unsigned char)*s > '%')
			s++;
		if (*s == '\n') {
			emit_run(sink, run, (size_t)(s - run));
			if (sink->console)
				emit_run(sink, "\r", 1);
			run = s++;  /* the '\n' leads the next run */
		} else if (*s == '\0' || *s == stop) {
			emit_run(sink, run, (size_t)(s - run));
			return s;
		} else {
			s++;        /* a space or other punctuation */
		}
	}
}

/*
 * Writes the 16 hex digits of value, leading zeros included, to out. Each
 * 32-bit half has its nibbles spread into the bytes of a word and turned into
 * ASCII all at once: a dozen instructions instead of a loop per digit.
 */
static void hex16(char out[16], uint64_t value)
{
	for (int half = 0; half < 2; half++) {
		uint64_t x = half ? (uint32_t)value : value >> 32;

		x = (x | x << 16) & 0x0000ffff0000ffffull;
		x = (x | x << 8) & 0x00ff00ff00ff00ffull;
		x = (x | x << 4) & 0x0f0f0f0f0f0f0f0full;     /* byte i = nibble i */
		uint64_t letter = ((x + 0x0606060606060606ull) >> 4) & 0x0101010101010101ull;
		x += 0x3030303030303030ull + letter * ('a' - '0' - 10);
		x = __builtin_bswap64(x);                      /* most significant first */
		__builtin_memcpy(out + 8 * half, &x, 8);
	}
}

static void emit_number(struct sink *sink, uint64_t value, bool negative, bool hex,
			unsigned width, char pad)
{
	char digits[24];
	char *end = digits + sizeof(digits);
	char *p = end;

	if (width > sizeof(digits) - 1)
		width = sizeof(digits) - 1;
	if (hex) {
		unsigned shown = value ? (unsigned)(67 - __builtin_clzll(value)) / 4 : 1;

		if (pad == '0' && width > shown)
			shown = width < 16 ? width : 16;  /* hex16() wrote the zeros */
		hex16(end - 16, value);
		p = end - shown;
	} else {
		do
			*--p = (char)('0' + value % 10);
		while (value /= 10);
	}
	if (negative && pad == ' ')
		*--p = '-';
	while ((unsigned)(end - p) < width - (negative && pad == '0'))
		*--p = pad;
	if (negative && pad == '0')
		*--p = '-';  /* the sign goes before the zeros */
	emit_run(sink, p, (size_t)(end - p));
}

static void format(struct sink *sink, const char *fmt, va_list ap)
{
	while (*(fmt = emit_text(sink, fmt, '%'))) {
		char pad = ' ';
		unsigned width = 0;
		bool is_long = false;

		if (*++fmt == '0') {
			pad = '0';
			fmt++;
		}
		for (; *fmt >= '0' && *fmt <= '9'; fmt++)
			width = width * 10 + (unsigned)(*fmt - '0');
		if (*fmt == 'l') {
			is_long = true;
			fmt++;
		}
		switch (*fmt) {
		case 'd':
		case 'i': {
			int64_t v = is_long ? va_arg(ap, long) : va_arg(ap, int);
			emit_number(sink, v < 0 ? -(uint64_t)v : (uint64_t)v, v < 0, false, width, pad);
			break;
		}
		case 'u':
		case 'x': {
			uint64_t v = is_long ? va_arg(ap, unsigned long) : va_arg(ap, unsigned int);
			emit_number(sink, v, false, *fmt == 'x', width, pad);
			break;
		}
		case 'p':
			emit_run(sink, "0x", 2);
			emit_number(sink, (uintptr_t)va_arg(ap, void *), false, true, 16, '0');
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);

			if (!s)
				s = "(null)";
			for (size_t n = 0; width && s[n]; n++, width--)
				;
			for (; width; width--)
				emit_run(sink, " ", 1);
			emit_text(sink, s, '\0');
			break;
		}
		case 'c': {
			char c = (char)va_arg(ap, int);
			char s[2] = { c, '\0' };

			emit_text(sink, s, '\0');
			break;
		}
		case '\0':  /* a lone '%' ends the format */
			return;
		default:    /* "%%" and anything unknown print themselves */
			emit_run(sink, fmt, 1);
			break;
		}
		fmt++;
	}
}

static int print_locked(const char *fmt, va_list ap)
{
	struct sink sink = { .console = true };

	format(&sink, fmt, ap);
	return (int)sink.len;
}

int printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	spin_lock(&console_lock);
	int n = print_locked(fmt, ap);
	spin_unlock(&console_lock);
	va_end(ap);
	return n;
}

int printf_forced(const char *fmt, ...)
{
	va_list ap;
	bool locked = false;

	/* The lock may be held by this very CPU, interrupted mid-line by the fault. */
	for (unsigned i = 0; i < FORCED_LOCK_TRIES && !(locked = spin_trylock(&console_lock)); i++)
		cpu_relax();
	va_start(ap, fmt);
	int n = print_locked(fmt, ap);
	va_end(ap);
	if (locked)
		spin_unlock(&console_lock);
	return n;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	struct sink sink = { .buf = buf, .cap = size ? size - 1 : 0 };
	va_list ap;

	va_start(ap, fmt);
	format(&sink, fmt, ap);
	va_end(ap);
	if (size)
		buf[sink.pos] = '\0';
	return (int)sink.len;
}
