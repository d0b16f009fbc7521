#include "histogram.h"

#include "mem.h"

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
