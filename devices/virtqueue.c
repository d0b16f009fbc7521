#include "devices/virtqueue.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int virtq_fail(struct virtq *vq, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int virtq_fail(struct virtq *vq, const char *fmt, ...)
{
	va_list ap;

	vq->broken = true;
	va_start(ap, fmt);
	vsnprintf(vq->error, sizeof(vq->error), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int virtq_init(struct virtq *vq, struct guest_memory *mem, uint16_t size, uint64_t desc_gpa,
	       uint64_t avail_gpa, uint64_t used_gpa, bool event_idx, bool indirect)
{
	memset(vq, 0, sizeof(*vq));
	vq->mem = mem;
	vq->event_idx = event_idx;
	vq->indirect = indirect;
	if (!size || size > VIRTQ_MAX_SIZE || (size & (size - 1)))
		return virtq_fail(vq, "queue size %u is not a power of two up to %u", size,
				  VIRTQ_MAX_SIZE);
	if ((desc_gpa % VRING_DESC_ALIGN_SIZE) || (avail_gpa % VRING_AVAIL_ALIGN_SIZE) ||
	    (used_gpa % VRING_USED_ALIGN_SIZE))
		return virtq_fail(vq, "rings misaligned (descriptors at 0x%llx, used at 0x%llx)",
				  (unsigned long long)desc_gpa, (unsigned long long)used_gpa);
	/* Each area with its event field (used_event, avail_event): EVENT_IDX or not, it is there. */
	struct vring *r = &vq->ring;
	r->num = size;
	r->desc = gpa_to_hva(mem, desc_gpa, sizeof(*r->desc) * size);
	r->avail = gpa_to_hva(mem, avail_gpa, sizeof(*r->avail) + sizeof(r->avail->ring[0]) * (size + 1u));
	r->used = gpa_to_hva(mem, used_gpa, sizeof(*r->used) + sizeof(r->used->ring[0]) * size +
			     sizeof(__virtio16));
	if (!r->desc || !r->avail || !r->used)
		return virtq_fail(vq, "rings outside guest RAM (descriptors at 0x%llx, used at 0x%llx)",
				  (unsigned long long)desc_gpa, (unsigned long long)used_gpa);
	return 0;
}

static uint16_t load16(const uint16_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

/* Adds one buffer to the chain, enforcing readable-before-writable. */
static int chain_add(struct virtq *vq, struct virtq_chain *c, const struct vring_desc *d)
{
	bool writable = d->flags & VRING_DESC_F_WRITE;
	void *hva = gpa_to_hva(vq->mem, d->addr, d->len);

	if (!hva)
		return virtq_fail(vq, "buffer at 0x%llx+%u is outside guest RAM",
				  (unsigned long long)d->addr, d->len);
	if (!writable && c->nr_in)
		return virtq_fail(vq, "readable buffer at 0x%llx after a writable one",
				  (unsigned long long)d->addr);
	if (!d->len)
		return 0;       /* empty buffers carry nothing; devices judge what they needed */
	if (c->nr_out + c->nr_in == VIRTQ_CHAIN_MAX)
		return virtq_fail(vq, "chain of more than %u buffers", VIRTQ_CHAIN_MAX);
	c->iov[c->nr_out + c->nr_in] = (struct iovec){ .iov_base = hva, .iov_len = d->len };
	if (writable) {
		c->nr_in++;
		c->in_len += d->len;
	} else {
		c->nr_out++;
		c->out_len += d->len;
	}
	return 0;
}

int virtq_pop(struct virtq *vq, struct virtq_chain *c)
{
	if (vq->broken)
		return -EINVAL;
	unsigned size = vq->ring.num;
	uint16_t avail_idx = load16(&vq->ring.avail->idx);
	uint16_t pending = (uint16_t)(avail_idx - vq->last_avail);
	if (!pending)
		return 0;
	if (pending > size)
		return virtq_fail(vq, "avail index moved by %u entries in a queue of %u", pending, size);
	/*
	 * Only num descriptors exist, so a driver cannot have more than num chains with
	 * us: another one re-uses a chain we hold, and would pin host memory without end.
	 */
	if (vq->in_flight >= size)
		return virtq_fail(vq, "more than %u chains in flight in a queue of %u", size, size);
	uint16_t head = load16(&vq->ring.avail->ring[vq->last_avail % size]);
	if (head >= size)
		return virtq_fail(vq, "chain head %u in a queue of %u", head, size);

	c->head = head;
	c->nr_out = c->nr_in = 0;
	c->out_len = c->in_len = 0;
	const struct vring_desc *table = vq->ring.desc;
	unsigned table_size = size, seen = 0, index = head;
	bool in_indirect = false;
	for (;;) {
		/* Every descriptor counts, so a loop ends here as an over-long chain. */
		if (++seen > size)
			return virtq_fail(vq, "chain from %u longer than the queue (%u): a loop?",
					  head, size);
		struct vring_desc d;
		memcpy(&d, &table[index], sizeof(d));   /* once: the guest may be changing it */
		if (d.flags & VRING_DESC_F_INDIRECT) {
			if (!vq->indirect || in_indirect || (d.flags & VRING_DESC_F_NEXT))
				return virtq_fail(vq, "indirect descriptor %u not allowed here (flags 0x%x)",
						  index, d.flags);
			if (!d.len || d.len % sizeof(d) || d.len / sizeof(d) > size)
				return virtq_fail(vq, "indirect table of %u bytes (queue %u)", d.len, size);
			table = gpa_to_hva(vq->mem, d.addr, d.len);
			if (!table)
				return virtq_fail(vq, "indirect table at 0x%llx+%u outside guest RAM",
						  (unsigned long long)d.addr, d.len);
			table_size = d.len / sizeof(d);
			index = 0;
			in_indirect = true;
			continue;
		}
		if (chain_add(vq, c, &d))
			return -EINVAL;
		if (!(d.flags & VRING_DESC_F_NEXT))
			break;
		index = d.next;
		if (index >= table_size)
			return virtq_fail(vq, "next descriptor %u beyond a table of %u", index,
					  table_size);
	}
	vq->last_avail++;
	vq->in_flight++;
	return 1;
}

uint16_t virtq_pending(const struct virtq *vq)
{
	return vq->broken ? 0 : (uint16_t)(load16(&vq->ring.avail->idx) - vq->last_avail);
}

void virtq_push(struct virtq *vq, uint16_t head, uint32_t len)
{
	vq->ring.used->ring[vq->used_idx % vq->ring.num] = (struct vring_used_elem){ .id = head,
										      .len = len };
	vq->used_idx++;
	if (vq->in_flight)
		vq->in_flight--;
	/* The element is visible before the index that publishes it. */
	__atomic_store_n(&vq->ring.used->idx, vq->used_idx, __ATOMIC_RELEASE);
}

bool virtq_should_interrupt(struct virtq *vq)
{
	uint16_t old = vq->signalled_used, now = vq->used_idx;

	__atomic_thread_fence(__ATOMIC_SEQ_CST);   /* our used index before their event index */
	bool want;
	if (vq->event_idx)
		want = vring_need_event(load16(&vring_used_event(&vq->ring)), now, old);
	else
		want = !(load16(&vq->ring.avail->flags) & VRING_AVAIL_F_NO_INTERRUPT);
	if (want)
		vq->signalled_used = now;
	return want && now != old;
}

bool virtq_enable_notify(struct virtq *vq)
{
	if (vq->broken)
		return false;
	if (vq->event_idx)
		__atomic_store_n(&vring_avail_event(&vq->ring), vq->last_avail, __ATOMIC_RELAXED);
	else
		__atomic_store_n(&vq->ring.used->flags, 0, __ATOMIC_RELAXED);
	/* Publish the request, then look again: a buffer added meanwhile did not notify. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return load16(&vq->ring.avail->idx) != vq->last_avail;
}

size_t virtq_chain_read(const struct virtq_chain *c, uint64_t offset, void *dst, size_t len)
{
	size_t done = 0;

	for (unsigned i = 0; i < c->nr_out && done < len; i++) {
		size_t l = c->iov[i].iov_len;
		if (offset >= l) {
			offset -= l;
			continue;
		}
		size_t n = l - offset < len - done ? l - offset : len - done;
		memcpy((uint8_t *)dst + done, (uint8_t *)c->iov[i].iov_base + offset, n);
		done += n;
		offset = 0;
	}
	return done;
}

size_t virtq_chain_write(const struct virtq_chain *c, uint64_t offset, const void *src, size_t len)
{
	size_t done = 0;

	for (unsigned i = c->nr_out; i < c->nr_out + c->nr_in && done < len; i++) {
		size_t l = c->iov[i].iov_len;
		if (offset >= l) {
			offset -= l;
			continue;
		}
		size_t n = l - offset < len - done ? l - offset : len - done;
		memcpy((uint8_t *)c->iov[i].iov_base + offset, (const uint8_t *)src + done, n);
		done += n;
		offset = 0;
	}
	return done;
}
