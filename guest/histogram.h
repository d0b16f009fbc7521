/*
 * Log-linear histogram of 64-bit values: width-1 buckets below 64, then each
 * power-of-two range split into 32 equal buckets (at most 3.2% wide). Adding
 * a value is a bit scan, two shifts and an increment.
 */
#ifndef RINGVM_GUEST_HISTOGRAM_H
#define RINGVM_GUEST_HISTOGRAM_H

#include <stdint.h>

#define HISTOGRAM_SUB_BITS 5    /* 32 buckets per power of two */
/* 0..63 one each, then 32 for each of the 58 powers of two from 2^6 to 2^63. */
#define HISTOGRAM_BUCKETS  ((64 - HISTOGRAM_SUB_BITS + 1) << HISTOGRAM_SUB_BITS)   /* 1920 */

struct histogram {
	uint32_t count[HISTOGRAM_BUCKETS];
	uint64_t min, max;
};

/* The bucket holding value. */
static inline unsigned histogram_bucket(uint64_t value)
{
	/*
	 * shift = max(msb - 5, 0) keeps the top 6 significant bits, 32..63 when
	 * shift > 0; bucket shift * 32 + (value >> shift) then follows on from
	 * the previous power of two's, and is value itself below 64.
	 */
	int msb = 63 - __builtin_clzll(value | 1);
	int shift = msb > HISTOGRAM_SUB_BITS ? msb - HISTOGRAM_SUB_BITS : 0;

	return ((unsigned)shift << HISTOGRAM_SUB_BITS) + (unsigned)(value >> shift);
}

/* Empties h. */
void histogram_clear(struct histogram *h);

/* Counts value in h. */
static inline void histogram_add(struct histogram *h, uint64_t value)
{
	h->count[histogram_bucket(value)]++;
	if (value < h->min)
		h->min = value;
	if (value > h->max)
		h->max = value;
}

/* The lowest value in bucket and the first above it (for the top bucket, UINT64_MAX). */
void histogram_bounds(unsigned bucket, uint64_t *low, uint64_t *high);

/* Prints "PREFIX bucket LOW HIGH COUNT" for each non-empty bucket (README's irqlat format). */
void histogram_print_buckets(const struct histogram *h, const char *prefix);

#endif
