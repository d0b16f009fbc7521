#include "histogram.h"

#include "mem.h"
#include "printf.h"

void histogram_clear(struct histogram *h)
{
	memset(h->count, 0, sizeof(h->count));
	h->min = UINT64_MAX;
	h->max = 0;
}

void histogram_bounds(unsigned bucket, uint64_t *low, uint64_t *high)
{
	const unsigned sub = 1u << HISTOGRAM_SUB_BITS;
	unsigned octave = bucket >> HISTOGRAM_SUB_BITS;
	unsigned shift = octave ? octave - 1 : 0;
	uint64_t top = bucket < sub ? bucket : (sub | (bucket & (sub - 1)));

	*low = top << shift;
	*high = *low + (1ull << shift);
	if (*high < *low)
		*high = UINT64_MAX;     /* 2^64 does not fit */
}

void histogram_print_buckets(const struct histogram *h, const char *prefix)
{
	for (unsigned b = 0; b < HISTOGRAM_BUCKETS; b++) {
		uint64_t low, high;

		if (!h->count[b])
			continue;
		histogram_bounds(b, &low, &high);
		printf("%s bucket %lu %lu %u\n", prefix, low, high, h->count[b]);
	}
}
