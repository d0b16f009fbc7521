#include "virtq.h"

#include <linux/virtio_mmio.h>
#include <stddef.h>

#include "cpu.h"
#include "timer.h"

/* Stores before it (descriptors, ring entries) are not moved past it by the compiler. */
#define compiler_barrier() __asm__ volatile("" : : : "memory")

void virtq_init(struct virtq *vq, uint16_t size, bool indirect, bool event_idx)
{
	/*
	 * Only what is read before it is written: indices, flags, events, the
	 * free list and the tokens. Clearing whole rings would cost 10 KiB of
	 * emulated stores per queue.
	 */
	for (uint16_t i = 0; i < size; i++) {
		vq->desc[i].next = (uint16_t)(i + 1);
		vq->token[i] = NULL;
	}
	vq->size = size;
	vq->avail = (volatile struct vring_avail *)vq->avail_area;
	vq->used = (volatile struct vring_used *)vq->used_area;
	vq->used_event = &vq->avail->ring[size];
	vq->avail_event = (volatile uint16_t *)&vq->used->ring[size];
	vq->avail->flags = vq->avail->idx = *vq->used_event = 0;
	vq->used->flags = vq->used->idx = *vq->avail_event = 0;
	vq->free_head = 0;
	vq->nr_free = size;
	vq->avail_idx = vq->kicked = vq->last_used = 0;
	vq->indirect = indirect;
	vq->event_idx = event_idx;
	vq->interrupts = true;
	vq->event_offset = 0;
}

int virtq_add(struct virtq *vq, struct vring_desc *chain, unsigned n, void *token)
{
	uint16_t head = vq->free_head, d = head, last = head;

	if (vq->indirect && n > 1) {
		for (unsigned i = 0; i + 1 < n; i++) {
			chain[i].flags |= VRING_DESC_F_NEXT;
			chain[i].next = (uint16_t)(i + 1);
		}
		if (!vq->nr_free)
			return -1;
		vq->desc[head] = (struct vring_desc){ (uintptr_t)chain,
						      (uint32_t)(n * sizeof(*chain)),
						      VRING_DESC_F_INDIRECT, vq->desc[head].next };
		n = 1;
	} else {
		if (n > vq->nr_free || n == 0)
			return -1;
		/* The chain follows the free list, so the free descriptors' next links stay. */
		for (unsigned i = 0; i < n; i++) {
			last = d;
			vq->desc[d].addr = chain[i].addr;
			vq->desc[d].len = chain[i].len;
			vq->desc[d].flags = (uint16_t)(chain[i].flags |
						       (i + 1 < n ? VRING_DESC_F_NEXT : 0));
			d = vq->desc[d].next;
		}
	}
	vq->free_head = vq->desc[last].next;
	vq->nr_free = (uint16_t)(vq->nr_free - n);
	vq->tail[head] = last;
	vq->count[head] = (uint16_t)n;
	vq->token[head] = token;
	vq->avail->ring[vq->avail_idx++ & (vq->size - 1)] = head;
	return head;
}

void virtq_publish(struct virtq *vq)
{
	compiler_barrier();
	vq->avail->idx = vq->avail_idx;
}

void virtq_notify(const struct virtq *vq)
{
	if (vq->notify32)
		*(volatile uint32_t *)vq->notify = vq->index;
	else
		*(volatile uint16_t *)vq->notify = vq->index;
}

void virtq_kick(struct virtq *vq)
{
	uint16_t old = vq->kicked, now = vq->avail_idx;
	bool need;

	virtq_publish(vq);
	vq->kicked = now;
	/* The device may stop polling between our store and its flag: order them. */
	__asm__ volatile("mfence" : : : "memory");
	if (vq->event_idx)
		need = vring_need_event(*vq->avail_event, now, old);
	else
		need = !(vq->used->flags & VRING_USED_F_NO_NOTIFY);
	if (need)
		virtq_notify(vq);
}

int virtq_get(struct virtq *vq, void **token, uint32_t *len)
{
	int head = virtq_next_used(vq, len);

	if (head == -1)
		return 0;
	if (head < 0 || !vq->token[head])
		return -1;
	*token = vq->token[head];
	vq->token[head] = NULL;
	vq->desc[vq->tail[head]].next = vq->free_head;
	vq->free_head = (uint16_t)head;
	vq->nr_free = (uint16_t)(vq->nr_free + vq->count[head]);
	return 1;
}

void virtq_set_interrupts(struct virtq *vq, bool on)
{
	vq->interrupts = on;
	vq->avail->flags = on ? 0 : VRING_AVAIL_F_NO_INTERRUPT;
	/* With EVENT_IDX the flag means nothing: keep the event half the index space away. */
	vq->event_offset = on ? 0 : 0x8000;
	*vq->used_event = (uint16_t)(vq->last_used + vq->event_offset);
	__asm__ volatile("mfence" : : : "memory");
}

bool virtq_wait(struct virtq *vq, uint64_t ns)
{
	bool done;

	timeout_start(ns);
	while (!(done = virtq_has_used(vq)) && !timeout_expired()) {
		if (vq->interrupts) {
			irq_wait();
		} else {
			irq_enable();  /* lets the timeout's interrupt in */
			cpu_relax();
			irq_disable();
		}
	}
	timeout_stop();
	/*
	 * virtio-mmio: the slot's line stays up until acknowledged, and the pin is
	 * routed edge-triggered, so the next completion's interrupt needs it down.
	 */
	if (done && vq->mmio_ack) {
		uint32_t status = *(volatile uint32_t *)(vq->mmio_ack + VIRTIO_MMIO_INTERRUPT_STATUS);
		if (status)
			*(volatile uint32_t *)(vq->mmio_ack + VIRTIO_MMIO_INTERRUPT_ACK) = status;
	}
	return done;
}
