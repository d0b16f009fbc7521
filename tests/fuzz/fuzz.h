/*
 * What every libFuzzer target shares: reading the input as a stream of little-endian
 * fields (an exhausted input reads as zeroes, so every byte string is a valid program),
 * and a check that aborts with a message, which libFuzzer reports as a crash.
 */
#ifndef RINGVM_FUZZ_H
#define RINGVM_FUZZ_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fz {
	const uint8_t *p;
	size_t n;
};

static inline bool fz_more(const struct fz *f)
{
	return f->n > 0;
}

static inline uint64_t fz_bytes(struct fz *f, unsigned len)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < len && f->n; i++, f->p++, f->n--)
		v |= (uint64_t)*f->p << (8 * i);
	return v;
}

static inline uint8_t fz_u8(struct fz *f) { return (uint8_t)fz_bytes(f, 1); }
static inline uint16_t fz_u16(struct fz *f) { return (uint16_t)fz_bytes(f, 2); }
static inline uint32_t fz_u32(struct fz *f) { return (uint32_t)fz_bytes(f, 4); }
static inline uint64_t fz_u64(struct fz *f) { return fz_bytes(f, 8); }

/* Up to len bytes of the input itself (fewer if it ends); returns how many. */
static inline size_t fz_take(struct fz *f, size_t len, const uint8_t **out)
{
	if (len > f->n)
		len = f->n;
	*out = f->p;
	f->p += len;
	f->n -= len;
	return len;
}

/* An access width as a device sees them: 1, 2, 4 or 8 bytes. */
static inline uint32_t fz_width(struct fz *f)
{
	return 1u << (fz_u8(f) & 3);
}

/* A broken invariant: abort, so that libFuzzer saves the input that did it. */
__attribute__((format(printf, 1, 2), noreturn))
static inline void fz_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "fuzz invariant: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	abort();
}

/* FUZZ_DEBUG=1 in the environment: targets say how far an input got (checking seeds). */
static inline bool fz_debug(void)
{
	static int on = -1;     /* the environment, read once per process */
	if (on < 0)
		on = getenv("FUZZ_DEBUG") != NULL;
	return on;
}

#define FZ_DEBUG(...) do { if (fz_debug()) fprintf(stderr, __VA_ARGS__); } while (0)

#define FZ_CHECK(cond, ...) do { if (!(cond)) fz_fail(__VA_ARGS__); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
