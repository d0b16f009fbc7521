/*
 * virtio-blk (virtio 1.2, 5.2): requests of a header, data in segments of at
 * most 4 KiB and a status byte, on any of the device's queues. The caller
 * owns each request's memory, so it may keep as many in flight as it likes.
 */
#ifndef RINGVM_GUEST_VIRTIO_BLK_H
#define RINGVM_GUEST_VIRTIO_BLK_H

#include <linux/virtio_blk.h>
#include <stdbool.h>
#include <stdint.h>

#include "virtio.h"

#define BLK_SECTOR     512
#define BLK_SEG_SIZE   4096
#define BLK_MAX_SEGS   128          /* data segments per request, whatever SEG_MAX allows */
#define BLK_MAX_DEVS   4

#define BLK_S_PENDING        0xff   /* not a device status: what a request holds until it is back */
#define BLK_S_TIMEOUT        0xfe   /* not a device status: blk_request() gave up waiting */
#define BLK_S_REFUSED        0xfd   /* not a device status: blk_submit() could not queue it */

struct blk_dev {
	struct virtio_dev vdev;
	uint64_t capacity;          /* in 512-byte sectors */
	unsigned max_segs;          /* data segments one request may have */
	unsigned nr_queues;
	bool ro;
};

struct blk_req {
	struct virtio_blk_outhdr hdr;
	volatile uint8_t status;
	struct vring_desc chain[BLK_MAX_SEGS + 2];    /* the indirect table, when indirect */
};

/*
 * The benchmarks' LBAs: xorshift64 (Marsaglia's 13/7/17) from
 * BLK_XORSHIFT_SEED, masked to the largest power of two of 4 KiB blocks
 * the disk holds (a mask, not a division: each instruction counts).
 */
#define BLK_XORSHIFT_SEED 88172645463325252ull

/* The mask for blk_random_lba() on a disk of capacity sectors (at least 8). */
static inline uint64_t blk_lba_mask(uint64_t capacity)
{
	return (1ull << (63 - __builtin_clzll(capacity / 8))) - 1;
}

/* The next 4 KiB-aligned LBA of the sequence in *state. */
static inline __attribute__((always_inline)) uint64_t
blk_random_lba(uint64_t *state, uint64_t mask)
{
	uint64_t x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return (x & mask) * 8;
}

/* Re-queues the request at head, taken back with virtq_next_used(), to read or write sector. */
static inline __attribute__((always_inline)) void
blk_requeue(struct virtq *vq, uint16_t head, uint64_t sector)
{
	struct blk_req *req = vq->token[head];

	req->hdr.sector = sector;
	req->status = BLK_S_PENDING;
	virtq_requeue(vq, head);
}

/* virtio-blk devices on the bus. */
unsigned blk_count(void);

/* Resets and starts the nth device, every queue (attaching it the first time); NULL or why not. */
const char *blk_open(unsigned n, struct blk_dev **out);

/*
 * Queues req on queue q (not yet kicked): type at sector, with len bytes at
 * buf (device-writable for IN and GET_ID) in segments of up to 4 KiB. Its
 * head, or -1 when it needs more segments than max_segs or the ring is full.
 */
int blk_submit(struct blk_dev *blk, unsigned q, struct blk_req *req, uint32_t type,
		uint64_t sector, void *buf, uint32_t len);

/* Submits one request on queue q, kicks and waits; its status, BLK_S_TIMEOUT or BLK_S_REFUSED. */
uint8_t blk_request(struct blk_dev *blk, unsigned q, uint32_t type, uint64_t sector, void *buf,
		    uint32_t len);

/* What status means (the driver's own included); for a timeout, whether the device needs reset. */
const char *blk_status_text(struct blk_dev *blk, uint8_t status);

#endif
