/*
 * virtio-blk on a raw image: every request is one io_uring operation straight
 * into guest memory (readv/writev; guest RAM is never pinned up front, so it
 * stays lazily allocated); requests complete as their CQEs arrive, interrupts
 * once per batch.
 */
#ifndef RINGVM_VIRTIO_BLK_H
#define RINGVM_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/virtio_pci.h"
#include "vmm/config.h"
#include "vmm/error.h"

struct blk_request;

struct blk_queue {
	struct virtio_blk *blk;
	unsigned index;
	struct virtq *vq;
	struct blk_request *free;   /* recycled requests */
	struct loop_work notify_work;   /* one interrupt decision per batch */
	unsigned in_flight;
};

struct virtio_blk {
	struct virtio_pci vp;
	struct disk_config opt;
	int fd;
	uint64_t capacity;          /* in 512-byte sectors */
	bool can_fallocate;         /* a regular file: discard and write zeroes work */
	char name[24];
	unsigned nr_queues;
	struct blk_queue queue[VIRTIO_MAX_QUEUES];
	unsigned in_flight;         /* over all queues: a reset waits for 0 */
	unsigned generation;        /* bumped by reset: late completions of old sessions are dropped */
	bool resetting;
	struct loop *loop;
};

/* Opens the image and builds the device. */
int virtio_blk_init(struct virtio_blk *blk, const struct disk_config *opt, unsigned nr_vcpus,
		    unsigned index, struct guest_memory *mem, struct irq_chip *chip,
		    struct loop *loop, int vm_fd, struct error *err);

/* Closes the image; the I/O thread must have stopped. */
void virtio_blk_destroy(struct virtio_blk *blk);

#endif
