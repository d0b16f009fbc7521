#include "devices/virtqueue.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define AVAIL_FLAGS 0
#define AVAIL_IDX   1
#define AVAIL_RING  2
#define USED_FLAGS  0
#define USED_IDX    1

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
	/* The alignments virtio 1.2 (2.7) requires of split rings. */
	if ((desc_gpa & 15) || (avail_gpa & 1) || (used_gpa & 3))
		return virtq_fail(vq, "rings misaligned (descriptors at 0x%llx, used at 0x%llx)",
				  (unsigned long long)desc_gpa, (unsigned long long)used_gpa);
	vq->size = size;
	vq->desc = gpa_to_hva(mem, desc_gpa, 16ULL * size);
	vq->avail = gpa_to_hva(mem, avail_gpa, 6 + 2ULL * size);
	vq->used = gpa_to_hva(mem, used_gpa, 6 + 8ULL * size);
	if (!vq->desc || !vq->avail || !vq->used)
		return virtq_fail(vq, "rings outside guest RAM (descriptors at 0x%llx, used at 0x%llx)",
				  (unsigned long long)desc_gpa, (unsigned long long)used_gpa);
	vq->used_ring = (struct virtq_used_elem *)(vq->used + 2);
	return 0;
}

static uint16_t load16(const uint16_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

/* Adds one buffer to the chain, enforcing readable-before-writable. */
static int chain_add(struct virtq *vq, struct virtq_chain *c, const struct virtq_desc *d)
{
	bool writable = d->flags & VIRTQ_DESC_F_WRITE;
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
	uint16_t avail_idx = load16(&vq->avail[AVAIL_IDX]);
	uint16_t pending = (uint16_t)(avail_idx - vq->last_avail);
	if (!pending)
		return 0;
	if (pending > vq->size)
		return virtq_fail(vq, "avail index moved by %u entries in a queue of %u", pending,
				  vq->size);
	uint16_t head = load16(&vq->avail[AVAIL_RING + vq->last_avail % vq->size]);
	if (head >= vq->size)
		return virtq_fail(vq, "chain head %u in a queue of %u", head, vq->size);

	c->head = head;
	c->nr_out = c->nr_in = 0;
	c->out_len = c->in_len = 0;
	const struct virtq_desc *table = vq->desc;
	unsigned table_size = vq->size, seen = 0, index = head;
	bool in_indirect = false;
	for (;;) {
		/* Every descriptor counts, so a loop ends here as an over-long chain. */
		if (++seen > vq->size)
			return virtq_fail(vq, "chain from %u longer than the queue (%u): a loop?",
					  head, vq->size);
		struct virtq_desc d;
		memcpy(&d, &table[index], sizeof(d));   /* once: the guest may be changing it */
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (!vq->indirect || in_indirect || (d.flags & VIRTQ_DESC_F_NEXT))
				return virtq_fail(vq, "indirect descriptor %u not allowed here (flags 0x%x)",
						  index, d.flags);
			if (!d.len || d.len % sizeof(d) || d.len / sizeof(d) > vq->size)
				return virtq_fail(vq, "indirect table of %u bytes (queue %u)", d.len,
						  vq->size);
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
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			break;
		index = d.next;
		if (index >= table_size)
			return virtq_fail(vq, "next descriptor %u beyond a table of %u", index,
					  table_size);
	}
	vq->last_avail++;
	return 1;
}

void virtq_push(struct virtq *vq, uint16_t head, uint32_t len)
{
	vq->used_ring[vq->used_idx % vq->size] = (struct virtq_used_elem){ .id = head, .len = len };
	vq->used_idx++;
	/* The element is visible before the index that publishes it. */
	__atomic_store_n(&vq->used[USED_IDX], vq->used_idx, __ATOMIC_RELEASE);
}

bool virtq_should_interrupt(struct virtq *vq)
{
	uint16_t old = vq->signalled_used, now = vq->used_idx;

	__atomic_thread_fence(__ATOMIC_SEQ_CST);   /* our used index before their event index */
	bool want;
	if (vq->event_idx) {
		/* virtio 1.2 2.7.10: interrupt if used_event lies in [old, now). */
		uint16_t used_event = load16(&vq->avail[AVAIL_RING + vq->size]);
		want = (uint16_t)(now - used_event - 1) < (uint16_t)(now - old);
	} else {
		want = !(load16(&vq->avail[AVAIL_FLAGS]) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	}
	if (want)
		vq->signalled_used = now;
	return want && now != old;
}

bool virtq_enable_notify(struct virtq *vq)
{
	if (vq->broken)
		return false;
	/* avail_event is the u16 just after the used elements. */
	if (vq->event_idx)
		__atomic_store_n((uint16_t *)&vq->used_ring[vq->size], vq->last_avail, __ATOMIC_RELAXED);
	else
		__atomic_store_n(&vq->used[USED_FLAGS], 0, __ATOMIC_RELAXED);
	/* Publish the request, then look again: a buffer added meanwhile did not notify. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return load16(&vq->avail[AVAIL_IDX]) != vq->last_avail;
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
