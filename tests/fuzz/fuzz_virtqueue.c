/*
 * The split-virtqueue walker (devices/virtqueue.c) against a guest that writes
 * anything into its rings. The input: queue size, features and the three ring
 * addresses, then operations — guest stores into a 64 KiB window of RAM where the
 * rings are meant to live, pops, pushes of popped heads, interrupt and notification
 * checks, and chain copies. Checked: every popped buffer lies inside guest RAM, the
 * chain's lengths add up, and no more chains are in flight than the queue holds.
 */
#include <errno.h>

#include "devices/virtqueue.h"
#include "fuzz.h"

#define RAM     (2ULL << 20)
#define WINDOW  0x10000ULL          /* rings are placed (and stores land) below this */

static struct virtq_chain chain;    /* large: static, and fully rewritten by each pop */
static uint8_t scratch[65536];

/* The buffer lies in guest RAM: a device may touch all of it. */
static void check_iov(const struct guest_memory *mem, const struct iovec *iov)
{
	const uint8_t *base = mem->host, *p = iov->iov_base;
	FZ_CHECK(p >= base && p + iov->iov_len <= base + mem->size && iov->iov_len <= mem->size,
		 "buffer %p+%zu outside guest RAM", iov->iov_base, iov->iov_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	struct guest_memory mem;
	struct error err = { 0 };
	struct virtq vq;
	uint16_t heads[VIRTQ_MAX_SIZE];
	unsigned nr_heads = 0;

	if (guest_memory_create(&mem, RAM, &err))
		fz_fail("no guest RAM: %s", err.msg);
	uint8_t flags = fz_u8(&f);
	uint16_t qsize = (uint16_t)(1u << (flags & 15));   /* mostly powers of two; some too large */
	if (flags & 0x80)
		qsize = fz_u16(&f);
	uint64_t desc = fz_u16(&f), avail = fz_u16(&f), used = fz_u16(&f);
	if (flags & 0x40)
		used = fz_u64(&f);          /* sometimes anywhere at all */
	if (virtq_init(&vq, &mem, qsize, desc, avail, used, flags & 0x10, flags & 0x20))
		goto out;

	while (fz_more(&f)) {
		uint8_t op = fz_u8(&f);
		switch (op % 7) {
		case 0: case 1: {   /* the guest stores bytes into the window */
			uint64_t at = fz_u16(&f) % WINDOW;
			const uint8_t *bytes;
			size_t len = fz_take(&f, fz_u8(&f), &bytes);
			if (at + len > WINDOW)
				len = WINDOW - at;
			memcpy(gpa_to_hva(&mem, at, len ? len : 1), bytes, len);
			break;
		}
		case 2: {
			int r = virtq_pop(&vq, &chain);
			FZ_CHECK(r == 1 || r == 0 || r == -EINVAL, "virtq_pop returned %d", r);
			if (r != 1)
				break;
			FZ_CHECK(chain.head < vq.ring.num, "head %u of %u", chain.head, vq.ring.num);
			FZ_CHECK(chain.nr_out + chain.nr_in <= VIRTQ_CHAIN_MAX, "chain of %u+%u",
				 chain.nr_out, chain.nr_in);
			uint64_t out = 0, in = 0;
			for (unsigned i = 0; i < chain.nr_out + chain.nr_in; i++) {
				check_iov(&mem, &chain.iov[i]);
				*(i < chain.nr_out ? &out : &in) += chain.iov[i].iov_len;
			}
			FZ_CHECK(out == chain.out_len && in == chain.in_len, "lengths %llu/%llu, sums %llu/%llu",
				 (unsigned long long)chain.out_len, (unsigned long long)chain.in_len,
				 (unsigned long long)out, (unsigned long long)in);
			FZ_CHECK(nr_heads < vq.ring.num, "%u chains in flight on a queue of %u",
				 nr_heads + 1, vq.ring.num);
			heads[nr_heads++] = chain.head;
			/* Copies through the chain touch exactly the buffers checked above. */
			size_t len = fz_u16(&f) % sizeof(scratch);
			uint64_t off = fz_u16(&f);
			virtq_chain_read(&chain, off, scratch, len);
			virtq_chain_write(&chain, off, scratch, len);
			break;
		}
		case 3:             /* the device returns one chain it took */
			if (nr_heads) {
				unsigned i = fz_u8(&f) % nr_heads;
				virtq_push(&vq, heads[i], fz_u32(&f));
				heads[i] = heads[--nr_heads];
			}
			break;
		case 4:
			virtq_should_interrupt(&vq);
			break;
		case 5:
			virtq_enable_notify(&vq);
			break;
		case 6:             /* the in-flight count as the queue itself keeps it */
			FZ_CHECK(vq.in_flight == nr_heads, "in_flight %u, %u chains taken and not returned",
				 vq.in_flight, nr_heads);
			FZ_CHECK((uint16_t)(vq.last_avail - vq.used_idx) <= vq.ring.num || vq.broken,
				 "last_avail %u, used %u, size %u", vq.last_avail, vq.used_idx, vq.ring.num);
			break;
		}
	}
out:
	guest_memory_destroy(&mem);
	return 0;
}
