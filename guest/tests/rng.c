/*
 * rng: every virtio-rng device gives two 64-byte reads, neither all zero nor
 * equal. The first is polled (interrupts off in the ring), the second waits
 * for the queue's interrupt, so both completion paths run.
 */
#include <stdbool.h>
#include <stdint.h>

#include "printf.h"
#include "test.h"
#include "virtio_rng.h"

#define READ_BYTES 64

static bool all_zero(const uint64_t *w)
{
	for (unsigned i = 0; i < READ_BYTES / 8; i++)
		if (w[i])
			return false;
	return true;
}

static const char *test_device(unsigned n)
{
	static char reason[100];
	static uint64_t first[READ_BYTES / 8], second[READ_BYTES / 8];
	struct virtio_dev *rng;
	const char *err;

	for (unsigned i = 0; i < READ_BYTES / 8; i++)
		first[i] = second[i] = 0;
	if (!(err = rng_open(n, &rng))) {
		virtq_set_interrupts(rng->vq[0], false);
		err = rng_read(rng, first, READ_BYTES);
		virtq_set_interrupts(rng->vq[0], true);
	}
	if (!err)
		err = rng_read(rng, second, READ_BYTES);
	if (!err && (all_zero(first) || all_zero(second)))
		err = "a read came back all zero";
	if (!err) {
		bool same = true;

		for (unsigned i = 0; i < READ_BYTES / 8; i++)
			same &= first[i] == second[i];
		if (same)
			err = "both reads came back the same";
	}
	if (err) {
		snprintf(reason, sizeof(reason), "rng %u: %s", n, err);
		return reason;
	}
	printf("rng %u: 2 reads of %u bytes ok\n", n, READ_BYTES);
	return NULL;
}

static const char *test_rng(void)
{
	unsigned count = rng_count();
	const char *err;

	if (count == 0)
		return "no virtio-rng device";
	for (unsigned n = 0; n < count; n++)
		if ((err = test_device(n)))
			return err;
	return NULL;
}

GUEST_TEST("rng", test_rng);
