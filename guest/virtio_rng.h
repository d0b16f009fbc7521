/* virtio-rng (virtio 1.2, 5.4): one queue of device-writable buffers it fills with entropy. */
#ifndef RINGVM_GUEST_VIRTIO_RNG_H
#define RINGVM_GUEST_VIRTIO_RNG_H

#include <stdint.h>

#include "virtio.h"

#define RNG_MAX_DEVS 4

/* virtio-rng devices on the bus. */
unsigned rng_count(void);

/* Resets and starts the nth device (attaching it the first time); NULL or why not. */
const char *rng_open(unsigned n, struct virtio_dev **out);

/* Fills len bytes at buf, in as many requests as the device takes; NULL or why not. */
const char *rng_read(struct virtio_dev *rng, void *buf, uint32_t len);

#endif
