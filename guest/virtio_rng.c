#include "virtio_rng.h"

#include <stdbool.h>
#include <stddef.h>

#include "timer.h"

#define READ_TIMEOUT_NS (5 * NS_PER_S)
#define MAX_REQUESTS    64      /* a device that keeps returning nothing is stuck */

static struct virtio_dev rngs[RNG_MAX_DEVS];
static bool attached[RNG_MAX_DEVS];

unsigned rng_count(void)
{
	return virtio_count(VIRTIO_ID_RNG, RNG_MAX_DEVS);
}

const char *rng_open(unsigned n, struct virtio_dev **out)
{
	const char *err;

	if (n >= RNG_MAX_DEVS)
		return "no such virtio-rng device";
	if (!attached[n] && (err = virtio_attach(&rngs[n], VIRTIO_ID_RNG, n)))
		return err;
	attached[n] = true;
	if ((err = virtio_negotiate(&rngs[n], VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC) |
					      VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX))) ||
	    (err = virtio_start_queues(&rngs[n], 1)))
		return err;
	*out = &rngs[n];
	return NULL;
}

const char *rng_read(struct virtio_dev *rng, void *buf, uint32_t len)
{
	struct virtq *vq = rng->vq[0];
	uint8_t *at = buf;

	for (unsigned i = 0; len && i < MAX_REQUESTS; i++) {
		struct vring_desc chain = { (uintptr_t)at, len, VRING_DESC_F_WRITE, 0 };
		void *token;
		uint32_t got;

		if (virtq_add(vq, &chain, 1, at) < 0)
			return "ring full";
		virtq_kick(vq);
		if (!virtq_wait(vq, READ_TIMEOUT_NS))
			return virtio_status(rng) & VIRTIO_CONFIG_S_NEEDS_RESET ?
			       "no completion, device needs reset" : "no completion in 5 s";
		if (virtq_get(vq, &token, &got) != 1 || token != at)
			return "device returned a buffer that was not outstanding";
		if (got > len)
			return "device wrote more than the buffer holds";
		at += got;
		len -= got;
	}
	return len ? "device returned no entropy 64 times in a row" : NULL;
}
