/* What a virtio device model gives the transport, and what it may ask of it. */
#ifndef RINGVM_VIRTIO_H
#define RINGVM_VIRTIO_H

#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "abi/virtio.h"
#include "devices/virtqueue.h"
#include "services/loop.h"

#define VIRTIO_MAX_QUEUES       16

/* The bytes of a device configuration struct up to and including field: what ringvm offers. */
#define VIRTIO_CONFIG_UPTO(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))

struct virtio_dev;

struct virtio_device_ops {
	/* The driver notified queue q (or the device just started): take its chains (I/O thread). */
	void (*queue_notify)(void *impl, unsigned q, struct virtq *vq);
	/* Device-specific configuration (offset+len within the size the device declared). */
	void (*config_read)(void *impl, uint32_t offset, uint8_t *data, uint32_t len);
	void (*config_write)(void *impl, uint32_t offset, const uint8_t *data, uint32_t len);
	/* DRIVER_OK with these features; -errno makes the device need a reset (vCPU thread). */
	int (*activate)(void *impl, uint64_t features);
	/*
	 * Reset, once per queue on that queue's I/O thread: forget queue q; return true if
	 * nothing of it is in flight, else call virtio_reset_done(dev, q) on that thread
	 * when its last request has completed. The device is reset once every queue is.
	 */
	bool (*reset)(void *impl, unsigned q);
};

struct virtio_device_info {
	const char *name;           /* "virtio-blk 0", for messages */
	uint16_t type;              /* VIRTIO_ID_* */
	uint32_t pci_class;
	uint64_t features;          /* offered, VIRTIO_BIT()s; VERSION_1 and the ring features are added */
	unsigned num_queues;
	uint32_t config_size;
};

/* Queue q's I/O thread: the device used buffers on q; interrupts the driver if it wants one. */
void virtio_notify_used(struct virtio_dev *dev, unsigned q, struct loop *via);

/* Queue q's I/O thread: chains are left in q; run queue_notify again from the mailbox. */
void virtio_queue_again(struct virtio_dev *dev, unsigned q);

/* Any thread: the guest broke the device (vq->error, if given, says how); NEEDS_RESET. */
void virtio_needs_reset(struct virtio_dev *dev, const struct virtq *vq);

/* Queue q's I/O thread: the reset of queue q, which ops->reset could not finish, is. */
void virtio_reset_done(struct virtio_dev *dev, unsigned q);

/* Any thread: the device configuration changed; a new generation and a config interrupt. */
void virtio_config_changed(struct virtio_dev *dev);

#endif
