/*
 * Split virtqueues (virtio 1.2, 2.7) in static memory. A chain goes in as an
 * array of buffers; with VIRTIO_F_INDIRECT_DESC a chain of more than one is
 * handed over as that very array (an indirect table), so the array must stay
 * put until the chain comes back. The rings and the indices are public so
 * that virtio-hostile can write what no driver would.
 */
#ifndef RINGVM_GUEST_VIRTQ_H
#define RINGVM_GUEST_VIRTQ_H

#include <stdbool.h>
#include <stdint.h>

#define VIRTQ_MAX_SIZE          256
#define VIRTQ_DESC_F_NEXT       1
#define VIRTQ_DESC_F_WRITE      2
#define VIRTQ_DESC_F_INDIRECT   4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY  1

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;             /* callers set only VIRTQ_DESC_F_WRITE */
	uint16_t next;
};

/* ring[size] is used_event (VIRTIO_F_EVENT_IDX). */
struct virtq_avail {
	volatile uint16_t flags, idx;
	volatile uint16_t ring[VIRTQ_MAX_SIZE + 1];
};

struct virtq_used_elem {
	uint32_t id, len;
};

/* The 16 bits after ring[size - 1] are avail_event (VIRTIO_F_EVENT_IDX). */
struct virtq_used {
	volatile uint16_t flags, idx;
	volatile struct virtq_used_elem ring[VIRTQ_MAX_SIZE + 1];
};

struct virtq {
	struct virtq_desc desc[VIRTQ_MAX_SIZE];     /* first: the struct is 16-byte aligned */
	struct virtq_avail avail;
	struct virtq_used used __attribute__((aligned(4)));
	uint16_t size, index;                       /* entries (a power of two); queue number */
	uint16_t free_head, nr_free;                /* free descriptors, linked by next */
	uint16_t avail_idx;                         /* the next avail.idx, published by kicks */
	uint16_t kicked;                            /* avail.idx at the last kick */
	uint16_t last_used;                         /* used.idx up to which chains were taken */
	uint16_t event_offset;                      /* used_event - last_used: 0, or far when polling */
	bool indirect, event_idx, interrupts;
	uint8_t vector;                             /* CPU vector of its interrupts */
	uintptr_t notify;                           /* the queue's notify register */
	volatile uint16_t *used_event, *avail_event;    /* where EVENT_IDX put them for this size */
	uint16_t tail[VIRTQ_MAX_SIZE];              /* per head: the chain's last descriptor */
	uint16_t count[VIRTQ_MAX_SIZE];             /* per head: descriptors in the chain */
	void *token[VIRTQ_MAX_SIZE];                /* per head: the caller's, NULL when free */
} __attribute__((aligned(16)));

/* Empties vq for size entries (a power of two up to VIRTQ_MAX_SIZE), interrupts wanted. */
void virtq_init(struct virtq *vq, uint16_t size, bool indirect, bool event_idx);

/* Queues a chain of n buffers with a non-NULL token; its head, or -1 when the ring is full. */
int virtq_add(struct virtq *vq, struct virtq_desc *chain, unsigned n, void *token);

/* Makes added chains visible to the device. */
void virtq_publish(struct virtq *vq);

/* Writes the queue's notify register (an exit). */
void virtq_notify(const struct virtq *vq);

/* Publishes, and notifies unless the device said it needs no notification. */
void virtq_kick(struct virtq *vq);

/* True when the device has returned chains not yet taken. */
static inline bool virtq_has_used(const struct virtq *vq)
{
	return vq->used.idx != vq->last_used;
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
	const volatile struct virtq_used_elem *e;
	uint32_t head;

	if (vq->used.idx == last)
		return -1;
	__asm__ volatile("" : : : "memory");    /* the entry after the index */
	e = &vq->used.ring[last & (vq->size - 1)];
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
	vq->avail.ring[vq->avail_idx++ & (vq->size - 1)] = head;
}

/* Asks for interrupts on returned chains, or (off) for as few as the device allows: polling. */
void virtq_set_interrupts(struct virtq *vq, bool on);

/* Waits (halting, or spinning when polling) up to ns for a returned chain; virtq_has_used(). */
bool virtq_wait(struct virtq *vq, uint64_t ns);

#endif
