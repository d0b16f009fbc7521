/*
 * blkbench: the guest side of bench/blk. On device 0, queue 0, 4 KiB reads
 * at random 4 KiB-aligned LBAs (blk_random_lba(), the same sequence for each
 * depth) with blkbench.qd= requests kept in flight (comma-separated depths,
 * default 1,32), blkbench.ops= reads per depth (default 20000). Completions
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

/*
 * ops reads with depth in flight; NULL or why it stopped. Each slot's chain
 * is added once and then requeued as it is with a new LBA, so a read costs
 * a few dozen instructions. Interrupts stay unmasked but to check before
 * halting, as in irqlat. Forced inline so that each wait mode gets a loop of
 * its own.
 */
static inline __attribute__((always_inline)) const char *
run(struct blk_dev *blk, uint32_t depth, uint32_t ops, enum wait_mode mode)
{
	struct virtq *vq = blk->vdev.vq[0];
	uint64_t lbas = BLK_XORSHIFT_SEED, mask = blk_lba_mask(blk->capacity);
	uint32_t issued = 0, done = 0, progress = 0;
	const char *err = NULL;

	for (; issued < depth && issued < ops; issued++)
		if (blk_submit(blk, 0, &reqs[issued], VIRTIO_BLK_T_IN, blk_random_lba(&lbas, mask),
				buf, BLK_SEG_SIZE) < 0)
			return "queue depth larger than the ring holds";
	timeout_start(STALL_NS);
	irq_enable();
	virtq_kick(vq);
	while (done < ops) {
		uint32_t len, before = issued;
		int head;

		while (!virtq_has_used(vq)) {
			if (timeout_expired()) {
				if (done == progress) {
					err = virtio_status(&blk->vdev) & VIRTIO_CONFIG_S_NEEDS_RESET ?
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
			if (!virtq_has_used(vq))
				irq_enable_and_halt();
			else
				irq_enable();
		}
		while ((head = virtq_next_used(vq, &len)) >= 0) {
			uint8_t status = ((struct blk_req *)vq->token[head])->status;

			if (status != VIRTIO_BLK_S_OK) {
				err = blk_status_text(blk, status);
				goto out;
			}
			done++;
			if (issued < ops) {
				blk_requeue(vq, (uint16_t)head, blk_random_lba(&lbas, mask));
				issued++;
			}
		}
		if (head == -2) {
			err = "device returned a head beyond the ring";
			goto out;
		}
		if (issued != before)
			virtq_kick(vq);
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
	uint32_t depths[MAX_DEPTHS], ops = DEFAULT_OPS;
	unsigned nr_depths, mode = WAIT_HLT;
	struct blk_dev *blk;
	const char *err;

	if ((err = parse_depths(list ? list : DEFAULT_DEPTHS, depths, &nr_depths)) ||
	    (err = cmdline_get_uint("blkbench.ops", MAX_OPS, &ops)) ||
	    (err = cmdline_get_choice("blkbench.wait", wait_modes, 2, &mode)))
		return err;
	if (ops == 0)
		return "blkbench.ops= must be at least 1";
	if (blk_count() == 0)
		return "no virtio-blk device";
	printf("blkbench tsc_khz %u\n", timer_tsc_khz());
	for (unsigned i = 0; i < nr_depths; i++) {
		/* A fresh ring each time: run() keeps its chains (requeued, never freed). */
		if ((err = blk_open(0, &blk)))
			return err;
		if (blk->capacity < 8)
			return "disk smaller than 4 KiB";
		virtq_set_interrupts(blk->vdev.vq[0], mode == WAIT_HLT);
		uint64_t start = rdtsc();

		err = mode == WAIT_SPIN ? run(blk, depths[i], ops, WAIT_SPIN) :
					  run(blk, depths[i], ops, WAIT_HLT);
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
