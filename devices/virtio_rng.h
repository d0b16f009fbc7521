/* virtio-rng: the kernel's randomness, read through the ring into the guest's buffers. */
#ifndef RINGVM_VIRTIO_RNG_H
#define RINGVM_VIRTIO_RNG_H

#include "devices/virtio_dev.h"
#include "devices/virtio_req.h"
#include "services/error.h"

/* What the device gave: VIRTIO_COUNT on its queue's thread. */
struct virtio_rng_counters {
	uint64_t requests;          /* chains answered */
	uint64_t bytes;             /* random bytes written into them */
};

struct virtio_rng {
	struct virtio_dev vdev;
	int fd;                     /* /dev/urandom: getrandom()'s pool, readable by io_uring */
	struct vreq_queue rq;       /* its one queue's requests */
	struct loop *loop;
	struct virtio_rng_counters counters;
};

/* Opens the entropy source and builds the device. */
int virtio_rng_init(struct virtio_rng *rng, struct guest_memory *mem,
		    struct loop *loop, int vm_fd, struct error *err);

/* A snapshot of the device's counters. */
void virtio_rng_counters(const struct virtio_rng *rng, struct virtio_rng_counters *out);

/* Closes the source; the I/O thread must have stopped. */
void virtio_rng_destroy(struct virtio_rng *rng);

#endif
