/*
 * virtio-blk on a raw image: every request is one io_uring operation straight
 * into guest memory (readv/writev; guest RAM is never pinned up front, so it
 * stays lazily allocated); requests complete as their CQEs arrive, interrupts
 * once per batch.
 */
#ifndef RINGVM_VIRTIO_BLK_H
#define RINGVM_VIRTIO_BLK_H

#include <linux/virtio_blk.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/virtio_dev.h"
#include "devices/virtio_req.h"
#include "services/error.h"

#define BLK_SERIAL_MAX VIRTIO_BLK_ID_BYTES  /* GET_ID's answer, unterminated when full */

struct disk_config {
	char path[4096];
	bool readonly;
	bool direct;                /* O_DIRECT, guest RAM as io_uring fixed buffers */
	unsigned queues;            /* 0: one per vCPU */
	char serial[BLK_SERIAL_MAX + 1];
	unsigned iothread;          /* where its queues run: 0 the main loop, else I/O thread N */
	unsigned nr_iothreads;      /* queue i on I/O thread iothread + i % nr_iothreads (0: 1) */
};

/* What the disk did, per request completed; VIRTIO_COUNT from every queue's thread. */
struct virtio_blk_counters {
	uint64_t reads, writes, flushes, other;     /* requests by type (GET_ID, DISCARD ... other) */
	uint64_t bytes_read, bytes_written;         /* of the reads and writes that succeeded */
	uint64_t io_errors;                         /* answered VIRTIO_BLK_S_IOERR */
	uint64_t unsupported;                       /* answered VIRTIO_BLK_S_UNSUPP */
};

/* Everything of a queue is its I/O thread's alone: queues on different threads share no state. */
struct blk_queue {
	struct virtio_blk *blk;
	unsigned index;
	struct loop *loop;          /* its I/O thread: every SQE of its requests goes there */
	struct vreq_queue rq;       /* its requests: pool, budget, sessions, reset */
};

/* A disk image, opened, locked and sized before the VM exists, and what its file system can do. */
struct blk_image {
	int fd;                     /* -1 once virtio_blk_init has it, or after a failed open */
	uint64_t capacity;          /* in 512-byte sectors */
	bool write_zeroes;          /* a regular file opened read-write: WRITE_ZEROES is offered */
	bool punch_hole;            /* FALLOC_FL_PUNCH_HOLE works: DISCARD is offered */
	bool zero_range;            /* FALLOC_FL_ZERO_RANGE is tried until it fails with EOPNOTSUPP */
};

struct virtio_blk {
	struct virtio_dev vdev;
	struct disk_config opt;
	int fd;                     /* its number stays; PATCH /drives swaps the file behind it */
	_Atomic uint64_t capacity;  /* in 512-byte sectors; changes with the file */
	bool write_zeroes, discard; /* offered to the driver */
	_Atomic bool punch_hole, zero_range;    /* cleared (by any queue) when the file system lacks them */
	void *zeroes;               /* read-only zero pages: WRITE_ZEROES where fallocate cannot */
	char name[24];
	unsigned nr_queues;
	struct blk_queue queue[VIRTIO_MAX_QUEUES];
	struct virtio_blk_counters counters;
};

/* Opens, locks and sizes opt's image and probes its file system; needs no VM. */
int virtio_blk_open(struct blk_image *img, const struct disk_config *opt, struct error *err);

/* Closes an image that no device took. */
void virtio_blk_close(struct blk_image *img);

/*
 * Builds the device on img, which it takes (img->fd becomes -1) whether or not it succeeds;
 * queue i runs on loops[i % nr_loops].
 */
int virtio_blk_init(struct virtio_blk *blk, const struct disk_config *opt, struct blk_image *img,
		    unsigned nr_vcpus, unsigned index, struct guest_memory *mem,
		    struct loop *const *loops, unsigned nr_loops, int vm_fd, struct error *err);

/*
 * Any thread: the image is now fd's file (fd is closed), of size bytes: requests from
 * now on go to it. The caller then raises the transport's configuration change.
 */
int virtio_blk_replace_image(struct virtio_blk *blk, int fd, uint64_t size);

/* A snapshot of the disk's counters. */
void virtio_blk_counters(const struct virtio_blk *blk, struct virtio_blk_counters *out);

/* Closes the image; the queues' I/O threads must have stopped. */
void virtio_blk_destroy(struct virtio_blk *blk);

#endif
