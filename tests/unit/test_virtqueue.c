#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "devices/virtqueue.h"

#define MiB (1ULL << 20)
#define QSIZE 8
#define DESC  0x10000ULL
#define AVAIL 0x11000ULL
#define USED  0x12000ULL
#define DATA  0x20000ULL

static struct guest_memory mem;
static struct virtq vq;
static struct virtq_chain chain;

static struct vring_desc *desc(unsigned i)
{
	return gpa_to_hva(&mem, DESC + sizeof(struct vring_desc) * i, sizeof(struct vring_desc));
}

/* Both rings with their event fields, as vring_init lays them out for the legacy ABI. */
static struct vring_avail *avail(void)
{
	return gpa_to_hva(&mem, AVAIL, sizeof(struct vring_avail) + sizeof(__virtio16) * (QSIZE + 1));
}

static struct vring_used *used(void)
{
	return gpa_to_hva(&mem, USED, sizeof(struct vring_used) +
				      sizeof(struct vring_used_elem) * QSIZE + sizeof(__virtio16));
}

static void setup(void)
{
	struct error err = { 0 };
	cr_assert_eq(guest_memory_create(&mem, 4 * MiB, &err), 0, "%s", err.msg);
	cr_assert_eq(virtq_init(&vq, &mem, QSIZE, DESC, AVAIL, USED, true, true), 0, "%s", vq.error);
}

static void teardown(void) { guest_memory_destroy(&mem); }

TestSuite(virtq, .init = setup, .fini = teardown);

static void set_desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	*desc(i) = (struct vring_desc){ addr, len, flags, next };
}

/* Makes chain head available as the next entry. */
static void offer(uint16_t head)
{
	uint16_t idx = avail()->idx;
	avail()->ring[idx % QSIZE] = head;
	avail()->idx = idx + 1;
}

static void expect_broken(const char *needle)
{
	cr_assert_eq(virtq_pop(&vq, &chain), -EINVAL);
	cr_assert(vq.broken);
	cr_assert(strstr(vq.error, needle), "'%s' should mention '%s'", vq.error, needle);
	cr_assert_eq(virtq_pop(&vq, &chain), -EINVAL, "a broken queue stays broken");
}

Test(virtq, empty_queue_pops_nothing)
{
	cr_assert_eq(virtq_pop(&vq, &chain), 0);
}

Test(virtq, readable_then_writable_chain)
{
	set_desc(0, DATA, 16, VRING_DESC_F_NEXT, 3);
	set_desc(3, DATA + 0x100, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 5);
	set_desc(5, DATA + 0x400, 1, VRING_DESC_F_WRITE, 0);
	offer(0);
	cr_assert_eq(virtq_pop(&vq, &chain), 1);
	cr_assert_eq(chain.head, 0);
	cr_assert_eq(chain.nr_out, 1);
	cr_assert_eq(chain.nr_in, 2);
	cr_assert_eq(chain.out_len, 16);
	cr_assert_eq(chain.in_len, 513);
	cr_assert_eq(chain.iov[1].iov_base, gpa_to_hva(&mem, DATA + 0x100, 1));
	virtq_push(&vq, chain.head, 513);
	cr_assert_eq(used()->idx, 1, "used index published");
	cr_assert_eq(used()->ring[0].id, 0, "used element id");
	cr_assert_eq(used()->ring[0].len, 513, "used element length");
	cr_assert_eq(virtq_pop(&vq, &chain), 0);
}

Test(virtq, out_of_range_addresses)
{
	set_desc(0, 4 * MiB - 8, 16, 0, 0);           /* runs off the end of RAM */
	offer(0);
	expect_broken("outside guest RAM");
}

Test(virtq, address_that_wraps)
{
	set_desc(0, UINT64_MAX - 4, 16, 0, 0);
	offer(0);
	expect_broken("outside guest RAM");
}

Test(virtq, loop_in_chain)
{
	set_desc(0, DATA, 8, VRING_DESC_F_NEXT, 1);
	set_desc(1, DATA, 8, VRING_DESC_F_NEXT, 0);
	offer(0);
	expect_broken("a loop?");
}

Test(virtq, self_loop)
{
	set_desc(2, DATA, 8, VRING_DESC_F_NEXT, 2);
	offer(2);
	expect_broken("longer than the queue");
}

Test(virtq, next_beyond_table)
{
	set_desc(0, DATA, 8, VRING_DESC_F_NEXT, QSIZE);
	offer(0);
	expect_broken("beyond a table");
}

Test(virtq, head_beyond_table)
{
	offer(QSIZE + 3);
	expect_broken("chain head 11");
}

Test(virtq, zero_length_buffers_carry_nothing)
{
	set_desc(0, DATA, 0, VRING_DESC_F_NEXT, 1);
	set_desc(1, DATA, 4, VRING_DESC_F_WRITE, 0);
	offer(0);
	cr_assert_eq(virtq_pop(&vq, &chain), 1);
	cr_assert_eq(chain.nr_out, 0);
	cr_assert_eq(chain.nr_in, 1);
	/* Even an empty buffer must lie in RAM. */
	set_desc(2, 0xf0000000ULL, 0, 0, 0);
	offer(2);
	expect_broken("outside guest RAM");
}

Test(virtq, readable_after_writable)
{
	set_desc(0, DATA, 8, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	set_desc(1, DATA, 8, 0, 0);
	offer(0);
	expect_broken("after a writable one");
}

Test(virtq, avail_index_jump)
{
	avail()->idx = QSIZE + 1;                     /* more entries than the queue holds */
	expect_broken("avail index moved by 9");
}

/* The in-flight limit refuses only a driver that re-offers chains; returned ones are free again. */
Test(virtq, a_full_queue_again_once_chains_are_used)
{
	set_desc(0, DATA, 8, 0, 0);
	for (unsigned round = 0; round < 3; round++) {
		for (unsigned i = 0; i < QSIZE; i++) {
			offer(0);
			cr_assert_eq(virtq_pop(&vq, &chain), 1, "round %u, chain %u", round, i);
		}
		for (unsigned i = 0; i < QSIZE; i++)
			virtq_push(&vq, 0, 0);
	}
}

Test(virtq, index_wraparound)
{
	/* Start just below 2^16: indices wrap while the ring position keeps cycling. */
	vq.last_avail = vq.used_idx = vq.signalled_used = 0xfffe;
	avail()->idx = 0xfffe;
	used()->idx = 0xfffe;
	for (unsigned round = 0; round < 4; round++) {
		set_desc(round, DATA + 64 * round, 8, 0, 0);
		offer((uint16_t)round);
		cr_assert_eq(virtq_pop(&vq, &chain), 1, "round %u", round);
		cr_assert_eq(chain.head, round);
		virtq_push(&vq, chain.head, 0);
	}
	cr_assert_eq(vq.last_avail, 2);
	cr_assert_eq(used()->idx, 2);
}

Test(virtq, indirect_table)
{
	struct vring_desc *table = gpa_to_hva(&mem, DATA + 0x1000, 3 * sizeof(*table));
	table[0] = (struct vring_desc){ DATA, 16, VRING_DESC_F_NEXT, 1 };
	table[1] = (struct vring_desc){ DATA + 0x100, 4096, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2 };
	table[2] = (struct vring_desc){ DATA + 0x2000, 1, VRING_DESC_F_WRITE, 0 };
	set_desc(4, DATA + 0x1000, 3 * sizeof(*table), VRING_DESC_F_INDIRECT, 0);
	offer(4);
	cr_assert_eq(virtq_pop(&vq, &chain), 1);
	cr_assert_eq(chain.head, 4);
	cr_assert_eq(chain.nr_out + chain.nr_in, 3);
	cr_assert_eq(chain.in_len, 4097);
}

Test(virtq, nested_indirect_is_refused)
{
	struct vring_desc *table = gpa_to_hva(&mem, DATA + 0x1000, 2 * sizeof(*table));
	table[0] = (struct vring_desc){ DATA + 0x1000, 2 * sizeof(*table), VRING_DESC_F_INDIRECT, 0 };
	set_desc(0, DATA + 0x1000, 2 * sizeof(*table), VRING_DESC_F_INDIRECT, 0);
	offer(0);
	expect_broken("not allowed here");
}

Test(virtq, indirect_table_problems)
{
	set_desc(0, DATA, 24, VRING_DESC_F_INDIRECT, 0);     /* not a multiple of 16 */
	offer(0);
	expect_broken("indirect table of 24 bytes");
}

Test(virtq, indirect_not_negotiated)
{
	struct virtq plain;
	cr_assert_eq(virtq_init(&plain, &mem, QSIZE, DESC, AVAIL, USED, false, false), 0);
	set_desc(0, DATA, 32, VRING_DESC_F_INDIRECT, 0);
	offer(0);
	cr_assert_eq(virtq_pop(&plain, &chain), -EINVAL);
	cr_assert(strstr(plain.error, "not allowed"));
}

Test(virtq, bad_rings_refused_at_init)
{
	struct virtq q;
	cr_assert_eq(virtq_init(&q, &mem, 6, DESC, AVAIL, USED, false, false), -EINVAL, "not a power of two");
	cr_assert_eq(virtq_init(&q, &mem, 512, DESC, AVAIL, USED, false, false), -EINVAL, "too big");
	cr_assert_eq(virtq_init(&q, &mem, 8, DESC + 8, AVAIL, USED, false, false), -EINVAL, "misaligned");
	cr_assert_eq(virtq_init(&q, &mem, 8, DESC, AVAIL, 4 * MiB - 16, false, false), -EINVAL,
		     "used ring runs off RAM");
	cr_assert(strstr(q.error, "outside guest RAM"));
}

Test(virtq, event_idx_interrupt_decision)
{
	struct vring r = { .num = QSIZE, .desc = desc(0), .avail = avail(), .used = used() };
	__virtio16 *used_event = &vring_used_event(&r);
	for (unsigned i = 0; i < 3; i++) {
		set_desc(i, DATA, 8, 0, 0);
		offer((uint16_t)i);
	}
	*used_event = 1;                  /* interrupt me once the second buffer is used */
	cr_assert_eq(virtq_pop(&vq, &chain), 1);
	virtq_push(&vq, chain.head, 0);
	cr_assert_not(virtq_should_interrupt(&vq), "used index 1 has not passed used_event 1");
	cr_assert_eq(virtq_pop(&vq, &chain), 1);
	virtq_push(&vq, chain.head, 0);
	cr_assert(virtq_should_interrupt(&vq), "used index 2 passed used_event 1");
	cr_assert_not(virtq_should_interrupt(&vq), "nothing new since");
	cr_assert(virtq_enable_notify(&vq), "the third buffer is still waiting");
	cr_assert_eq(vring_avail_event(&r), 2, "avail_event asks for the next");
}

Test(virtq, no_interrupt_flag_without_event_idx)
{
	struct virtq plain;
	cr_assert_eq(virtq_init(&plain, &mem, QSIZE, DESC, AVAIL, USED, false, false), 0);
	set_desc(0, DATA, 8, 0, 0);
	offer(0);
	avail()->flags = VRING_AVAIL_F_NO_INTERRUPT;
	cr_assert_eq(virtq_pop(&plain, &chain), 1);
	virtq_push(&plain, chain.head, 0);
	cr_assert_not(virtq_should_interrupt(&plain));
	avail()->flags = 0;
	offer(0);
	cr_assert_eq(virtq_pop(&plain, &chain), 1);
	virtq_push(&plain, chain.head, 0);
	cr_assert(virtq_should_interrupt(&plain));
}

Test(virtq, chain_copy_helpers)
{
	uint8_t *a = gpa_to_hva(&mem, DATA, 8), *b = gpa_to_hva(&mem, DATA + 0x100, 8);
	memcpy(a, "abcdefgh", 8);
	set_desc(0, DATA, 3, VRING_DESC_F_NEXT, 1);
	set_desc(1, DATA + 3, 5, VRING_DESC_F_NEXT, 2);
	set_desc(2, DATA + 0x100, 4, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 3);
	set_desc(3, DATA + 0x104, 4, VRING_DESC_F_WRITE, 0);
	offer(0);
	cr_assert_eq(virtq_pop(&vq, &chain), 1);
	char got[8];
	cr_assert_eq(virtq_chain_read(&chain, 2, got, 4), 4, "reads across buffers");
	cr_assert_eq(memcmp(got, "cdef", 4), 0);
	cr_assert_eq(virtq_chain_read(&chain, 6, got, 8), 2, "short at the end");
	cr_assert_eq(virtq_chain_write(&chain, 2, "WXYZ", 4), 4);
	cr_assert_eq(memcmp(b + 2, "WXYZ", 4), 0);
	cr_assert_eq(virtq_chain_write(&chain, 7, "12", 2), 1, "never past the writable bytes");
}

/*
 * The same chain offered again while the device still holds it: the queue has num
 * descriptors, so num chains are all a driver can have in flight; one more is a
 * chain re-published, and would pin a request on the host for nothing.
 */
Test(virtq, no_more_than_num_chains_in_flight)
{
	set_desc(0, DATA, 8, VRING_DESC_F_WRITE, 0);
	for (unsigned i = 0; i < QSIZE; i++) {
		offer(0);
		cr_assert_eq(virtq_pop(&vq, &chain), 1, "chain %u", i);
	}
	cr_assert_eq(vq.in_flight, QSIZE);
	cr_assert_eq(virtq_pending(&vq), 0);
	virtq_push(&vq, 0, 0);                 /* one back: room for one */
	offer(0);
	cr_assert_eq(virtq_pop(&vq, &chain), 1);
	offer(0);
	cr_assert_eq(virtq_pending(&vq), 1);
	expect_broken("in flight");
}
