/*
 * Split virtqueues (virtio 1.2, 2.7) in static memory. A chain goes in as an
 * array of buffers; with VIRTIO_RING_F_INDIRECT_DESC a chain of more than one is
 * handed over as that very array (an indirect table), so the array must stay
 * put until the chain comes back. The rings and the indices are public so
 * that virtio-hostile can write what no driver would.
 */
#ifndef RINGVM_GUEST_VIRTQ_H
#define RINGVM_GUEST_VIRTQ_H

#include <linux/virtio_ring.h>
#include <stdbool.h>
#include <stdint.h>

#define VIRTQ_MAX_SIZE          256

/* The driver and device areas for the largest queue, each with its event field. */
#define VIRTQ_AVAIL_BYTES (sizeof(struct vring_avail) + sizeof(__virtio16) * (VIRTQ_MAX_SIZE + 1))
#define VIRTQ_USED_BYTES  (sizeof(struct vring_used) + \
			   sizeof(struct vring_used_elem) * VIRTQ_MAX_SIZE + sizeof(__virtio16))

/*
 * The ring layout is the kernel's (<linux/virtio_ring.h>); its areas end in
 * flexible arrays, so the storage is bytes and avail and used point into it.
 * Callers set only VRING_DESC_F_WRITE in the chains they add.
 */
struct virtq {
	struct vring_desc desc[VIRTQ_MAX_SIZE];     /* first: the struct is aligned for it */
	uint8_t avail_area[VIRTQ_AVAIL_BYTES] __attribute__((aligned(VRING_AVAIL_ALIGN_SIZE)));
	uint8_t used_area[VIRTQ_USED_BYTES] __attribute__((aligned(VRING_USED_ALIGN_SIZE)));
	volatile struct vring_avail *avail;
	volatile struct vring_used *used;
	uint16_t size, index;                       /* entries (a power of two); queue number */
	uint16_t free_head, nr_free;                /* free descriptors, linked by next */
	uint16_t avail_idx;                         /* the next avail.idx, published by kicks */
	uint16_t kicked;                            /* avail.idx at the last kick */
	uint16_t last_used;                         /* used.idx up to which chains were taken */
	uint16_t event_offset;                      /* used_event - last_used: 0, or far when polling */
	bool indirect, event_idx, interrupts;
	uint8_t vector;                             /* CPU vector of its interrupts */
	uintptr_t notify;                           /* the queue's notify register */
	bool notify32;                              /* virtio-mmio: QueueNotify takes 32 bits */
	uintptr_t mmio_ack;                         /* virtio-mmio: the window whose interrupt to ACK */
	volatile uint16_t *used_event, *avail_event;    /* where EVENT_IDX put them for this size */
	uint16_t tail[VIRTQ_MAX_SIZE];              /* per head: the chain's last descriptor */
	uint16_t count[VIRTQ_MAX_SIZE];             /* per head: descriptors in the chain */
	void *token[VIRTQ_MAX_SIZE];                /* per head: the caller's, NULL when free */
} __attribute__((aligned(VRING_DESC_ALIGN_SIZE)));

/* Empties vq for size entries (a power of two up to VIRTQ_MAX_SIZE), interrupts wanted. */
void virtq_init(struct virtq *vq, uint16_t size, bool indirect, bool event_idx);

/* Queues a chain of n buffers with a non-NULL token; its head, or -1 when the ring is full. */
int virtq_add(struct virtq *vq, struct vring_desc *chain, unsigned n, void *token);

/* Makes added chains visible to the device. */
void virtq_publish(struct virtq *vq);

/* Writes the queue's notify register (an exit). */
void virtq_notify(const struct virtq *vq);

/* Publishes, and notifies unless the device said it needs no notification. */
void virtq_kick(struct virtq *vq);

/* True when the device has returned chains not yet taken. */
static inline bool virtq_has_used(const struct virtq *vq)
{
	return vq->used->idx != vq->last_used;
}

/*
 * Takes the next returned chain: 1 with its token and the bytes the device
 * wrote, 0 when none is back, -1 when the device returned a head that was not
 * outstanding.
 */
int virtq_get(struct virtq *vq, void **token, uint32_t *len);

/*
 * The benchmarks' path, a few instructions each way: a chain added once
 * with virtq_add() goes back and forth as it is. virtq_next_used() takes
 * the next returned head without freeing its descriptors (its token stays
 * in vq->token[head]): the head, -1 when none is back, -2 when the device
 * returned one beyond the ring. virtq_requeue() makes that head available
 * again, descriptors untouched (publish it with a kick).
 */
static inline __attribute__((always_inline)) int
virtq_next_used(struct virtq *vq, uint32_t *len)
{
	uint16_t last = vq->last_used;
	const volatile struct vring_used_elem *e;
	uint32_t head;

	if (vq->used->idx == last)
		return -1;
	__asm__ volatile("" : : : "memory");    /* the entry after the index */
	e = &vq->used->ring[last & (vq->size - 1)];
	head = e->id;
	*len = e->len;
	if (head >= vq->size)
		return -2;
	vq->last_used = ++last;
	*vq->used_event = (uint16_t)(last + vq->event_offset);
	return (int)head;
}

static inline __attribute__((always_inline)) void
virtq_requeue(struct virtq *vq, uint16_t head)
{
	vq->avail->ring[vq->avail_idx++ & (vq->size - 1)] = head;
}

/* Asks for interrupts on returned chains, or (off) for as few as the device allows: polling. */
void virtq_set_interrupts(struct virtq *vq, bool on);

/* Waits (halting, or spinning when polling) up to ns for a returned chain; virtq_has_used(). */
bool virtq_wait(struct virtq *vq, uint64_t ns);

#endif
