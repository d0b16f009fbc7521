/*
 * Split virtqueues (virtio 1.2, 2.7): taking descriptor chains the driver made
 * available and returning them used. Every index, address and length comes
 * from the guest and is checked before use; a queue the guest broke stays
 * broken (the transport then reports DEVICE_NEEDS_RESET).
 */
#ifndef RINGVM_VIRTQUEUE_H
#define RINGVM_VIRTQUEUE_H

#include <linux/virtio_ring.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "services/memory.h"

#define VIRTQ_MAX_SIZE       256      /* what ringvm offers as queue_size */
#define VIRTQ_CHAIN_MAX      256      /* buffers in one chain, indirect ones included */

/* One chain: the device-readable buffers, then the device-writable ones. */
struct virtq_chain {
	uint16_t head;
	unsigned nr_out, nr_in;
	struct iovec iov[VIRTQ_CHAIN_MAX];
	uint64_t out_len, in_len;
};

struct virtq {
	struct guest_memory *mem;
	struct vring ring;          /* num, and the three areas mapped */
	uint16_t last_avail;        /* the next ring entry to take */
	uint16_t used_idx;          /* the next used entry to fill */
	uint16_t signalled_used;    /* used_idx when the driver was last interrupted */
	uint16_t in_flight;         /* chains taken and not yet returned: never more than num */
	bool event_idx, indirect;   /* negotiated features */
	bool broken;
	char error[96];             /* what the guest got wrong, for the log */
};

/* Checks and maps a queue the driver enabled; -EINVAL (error filled in) if it cannot work. */
int virtq_init(struct virtq *vq, struct guest_memory *mem, uint16_t size, uint64_t desc_gpa,
	       uint64_t avail_gpa, uint64_t used_gpa, bool event_idx, bool indirect);

/*
 * Takes the next available chain: 1, 0 when none, -EINVAL when the guest broke the queue
 * (also when it offers a chain while num are in flight: it re-published chains we hold).
 */
int virtq_pop(struct virtq *vq, struct virtq_chain *chain);

/* Returns chain head as used, len bytes written into its device-writable buffers. */
void virtq_push(struct virtq *vq, uint16_t head, uint32_t len);

/* Chains the driver made available that are not taken yet. */
uint16_t virtq_pending(const struct virtq *vq);

/* After pushes: whether the driver wants an interrupt now (NO_INTERRUPT / used_event). */
bool virtq_should_interrupt(struct virtq *vq);

/* Asks the driver for a notification when more arrives; true if some already has. */
bool virtq_enable_notify(struct virtq *vq);

/* Copies up to len bytes out of a chain's readable buffers, from byte offset on. */
size_t virtq_chain_read(const struct virtq_chain *c, uint64_t offset, void *dst, size_t len);

/* Copies len bytes into a chain's writable buffers at byte offset; returns bytes copied. */
size_t virtq_chain_write(const struct virtq_chain *c, uint64_t offset, const void *src, size_t len);

#endif
