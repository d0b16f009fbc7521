/*
 * blkbench: the guest side of bench/blk. On queue 0 of devices 0 to
 * blkbench.devs= - 1 (default 1), 4 KiB reads at random 4 KiB-aligned LBAs
 * (blk_random_lba(), the same sequence for each depth and device) with
 * blkbench.qd= requests kept in flight in all (comma-separated depths, default
 * 1,32; split evenly over the devices), blkbench.ops= reads per depth in all
 * (default 20000; likewise). Completions
 * are taken by halting for the queue's interrupt (blkbench.wait=hlt, the
 * default) or by polling the used ring with interrupts off (spin). Prints
 * the TSC cycles each depth took.
 */
#include <stdbool.h>
#include <stdint.h>

#include "cmdline.h"
#include "cpu.h"
#include "printf.h"
#include "test.h"
#include "timer.h"
#include "virtio_blk.h"

#define DEFAULT_DEPTHS "1,32"
#define DEFAULT_OPS    20000
#define MAX_OPS        1000000000
#define MAX_DEPTH      64
#define MAX_DEPTHS     8
#define STALL_NS       (1 * NS_PER_S)
#define MAX_DEVS       BLK_MAX_DEVS

enum wait_mode { WAIT_HLT, WAIT_SPIN };

static const char *const wait_modes[] = { "hlt", "spin" };

static struct blk_req reqs[MAX_DEPTH];
static uint8_t buf[BLK_SEG_SIZE] __attribute__((aligned(4096)));  /* every read's: data unused */
static char reason[120];

/* Reads "1,32"-style depths into depths; NULL or what was wrong. */
static const char *parse_depths(const char *list, uint32_t *depths, unsigned *count)
{
	*count = 0;
	while (*list) {
		uint32_t d = 0;
		unsigned digits = 0;

		for (; *list >= '0' && *list <= '9' && d <= MAX_DEPTH; list++, digits++)
			d = d * 10 + (uint32_t)(*list - '0');
		if (!digits || d == 0 || d > MAX_DEPTH || (*list && *list != ',') ||
		    *count == MAX_DEPTHS)
			return "blkbench.qd= needs up to 8 depths of 1 to 64, comma-separated";
		depths[(*count)++] = d;
		if (*list)
			list++;
	}
	return *count ? NULL : "blkbench.qd= is empty";
}

/* One device's share of a run. */
struct share {
	struct blk_dev *blk;
	struct virtq *vq;
	uint64_t lbas, mask;
	uint32_t issued;
};

static bool any_used(const struct share *sh, unsigned nr)
{
	for (unsigned i = 0; i < nr; i++)
		if (virtq_has_used(sh[i].vq))
			return true;
	return false;
}

/*
 * ops reads per device with depth in flight on each of nr devices; NULL or why
 * it stopped. Each slot's chain is added once and then requeued as it is with
 * a new LBA, so a read costs a few dozen instructions. Interrupts stay
 * unmasked but to check before halting, as in irqlat. Forced inline so that
 * each wait mode gets a loop of its own.
 */
static inline __attribute__((always_inline)) const char *
run(struct share *sh, unsigned nr, uint32_t depth, uint32_t ops, enum wait_mode mode)
{
	uint32_t done = 0, progress = 0;
	const char *err = NULL;

	for (unsigned d = 0; d < nr; d++) {
		struct share *s = &sh[d];
		s->vq = s->blk->vdev.vq[0];
		s->lbas = BLK_XORSHIFT_SEED;
		s->mask = blk_lba_mask(s->blk->capacity);
		for (s->issued = 0; s->issued < depth && s->issued < ops; s->issued++)
			if (blk_submit(s->blk, 0, &reqs[d * depth + s->issued], VIRTIO_BLK_T_IN,
				       blk_random_lba(&s->lbas, s->mask), buf, BLK_SEG_SIZE) < 0)
				return "queue depth larger than the ring holds";
	}
	timeout_start(STALL_NS);
	irq_enable();
	for (unsigned d = 0; d < nr; d++)
		virtq_kick(sh[d].vq);
	while (done < ops * nr) {
		while (!any_used(sh, nr)) {
			if (timeout_expired()) {
				if (done == progress) {
					err = virtio_status(&sh[0].blk->vdev) & VIRTIO_CONFIG_S_NEEDS_RESET ?
					      "no completion for 1 s, device needs reset" :
					      "no completion for 1 s";
					goto out;
				}
				progress = done;
				timeout_start(STALL_NS);
			}
			if (mode == WAIT_SPIN) {
				cpu_relax();
				continue;
			}
			irq_disable();
			if (!any_used(sh, nr))
				irq_enable_and_halt();
			else
				irq_enable();
		}
		for (unsigned d = 0; d < nr; d++) {
			struct share *s = &sh[d];
			uint32_t len, before = s->issued;
			int head;

			while ((head = virtq_next_used(s->vq, &len)) >= 0) {
				uint8_t status = ((struct blk_req *)s->vq->token[head])->status;

				if (status != VIRTIO_BLK_S_OK) {
					err = blk_status_text(s->blk, status);
					goto out;
				}
				done++;
				if (s->issued < ops) {
					blk_requeue(s->vq, (uint16_t)head, blk_random_lba(&s->lbas, s->mask));
					s->issued++;
				}
			}
			if (head == -2) {
				err = "device returned a head beyond the ring";
				goto out;
			}
			if (s->issued != before)
				virtq_kick(s->vq);
		}
	}
out:
	irq_disable();
	timeout_stop();
	/* Whatever is still out comes back to a reset, at the next open. */
	return err;
}

static const char *test_blkbench(void)
{
	const char *list = cmdline_get("blkbench.qd");
	uint32_t depths[MAX_DEPTHS], ops = DEFAULT_OPS, devs = 1;
	unsigned nr_depths, mode = WAIT_HLT;
	struct share sh[MAX_DEVS];
	const char *err;

	if ((err = parse_depths(list ? list : DEFAULT_DEPTHS, depths, &nr_depths)) ||
	    (err = cmdline_get_uint("blkbench.ops", MAX_OPS, &ops)) ||
	    (err = cmdline_get_uint("blkbench.devs", MAX_DEVS, &devs)) ||
	    (err = cmdline_get_choice("blkbench.wait", wait_modes, 2, &mode)))
		return err;
	if (ops == 0)
		return "blkbench.ops= must be at least 1";
	if (devs == 0)
		return "blkbench.devs= must be at least 1";
	if (blk_count() < devs)
		return devs == 1 ? "no virtio-blk device" : "fewer virtio-blk devices than blkbench.devs=";
	/* Even shares: what is printed is what ran. */
	if (ops % devs)
		return "blkbench.ops= must be a multiple of blkbench.devs=";
	for (unsigned i = 0; i < nr_depths; i++)
		if (depths[i] % devs)
			return "each blkbench.qd= depth must be a multiple of blkbench.devs=";
	printf("blkbench tsc_khz %u\n", timer_tsc_khz());
	for (unsigned i = 0; i < nr_depths; i++) {
		/* A fresh ring each time: run() keeps its chains (requeued, never freed). */
		for (unsigned d = 0; d < devs; d++) {
			if ((err = blk_open(d, &sh[d].blk)))
				return err;
			if (sh[d].blk->capacity < 8)
				return "disk smaller than 4 KiB";
			virtq_set_interrupts(sh[d].blk->vdev.vq[0], mode == WAIT_HLT);
		}
		uint64_t start = rdtsc();

		err = mode == WAIT_SPIN ? run(sh, devs, depths[i] / devs, ops / devs, WAIT_SPIN) :
					  run(sh, devs, depths[i] / devs, ops / devs, WAIT_HLT);
		uint64_t cycles = rdtsc() - start;

		if (err) {
			snprintf(reason, sizeof(reason), "qd %u: %s", depths[i], err);
			return reason;
		}
		printf("blkbench qd %u ops %u cycles %lu\n", depths[i], ops, cycles);
	}
	return NULL;
}

GUEST_TEST("blkbench", test_blkbench);
