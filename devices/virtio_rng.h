/* virtio-rng: the kernel's randomness, read through the ring into the guest's buffers. */
#ifndef RINGVM_VIRTIO_RNG_H
#define RINGVM_VIRTIO_RNG_H

#include "devices/virtio_pci.h"
#include "services/error.h"

struct rng_request;

struct virtio_rng {
	struct virtio_pci vp;
	int fd;                     /* /dev/urandom: getrandom()'s pool, readable by io_uring */
	struct virtq *vq;
	struct rng_request *free;
	unsigned in_flight;
	unsigned generation;
	bool resetting;
	struct loop_work notify_work;
	struct loop *loop;
};

/* Opens the entropy source and builds the device. */
int virtio_rng_init(struct virtio_rng *rng, struct guest_memory *mem, struct irq_chip *chip,
		    struct loop *loop, int vm_fd, struct error *err);

/* Closes the source; the I/O thread must have stopped. */
void virtio_rng_destroy(struct virtio_rng *rng);

#endif
