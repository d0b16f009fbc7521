/*
 * virtiortt: the round trip of one virtio-blk request, from the moment it is
 * in the ring (just before the kick that publishes and notifies) to the entry
 * of the queue's MSI-X interrupt handler (isr.S reads the TSC there): 4 KiB
 * reads at depth 1 on device 0, queue 0, at blk_random_lba()'s LBAs.
 * virtiortt.samples= (default 100000) are recorded after virtiortt.warmup=
 * (default 1000), and printed as irqlat's histogram with PATH virtio-blk and
 * SOURCE msix, so bench/irqlat's parser reads it.
 */
#include <stdbool.h>
#include <stdint.h>

#include "cmdline.h"
#include "cpu.h"
#include "histogram.h"
#include "printf.h"
#include "test.h"
#include "timer.h"
#include "virtio_blk.h"

#define DEFAULT_SAMPLES 100000
#define DEFAULT_WARMUP  1000
#define MAX_SAMPLES     1000000000
#define STALL_NS        (1 * NS_PER_S)

static struct histogram hist;
static struct blk_req req;
static uint8_t buf[BLK_SEG_SIZE] __attribute__((aligned(4096)));
static char reason[120];

/*
 * total round trips, the first warmup not recorded; NULL or why it stopped.
 * The request's chain is added once and requeued as it is with a new LBA
 * (the last requeue is never kicked: the next open resets the device).
 */
static const char *measure(struct blk_dev *blk, uint32_t total, uint32_t warmup)
{
	struct virtq *vq = blk->vdev.vq[0];
	uint8_t vector = vq->vector;
	uint64_t lbas = BLK_XORSHIFT_SEED, mask = blk_lba_mask(blk->capacity);
	uint32_t progress = 0, len;
	const char *err = NULL;
	int head;

	head = blk_submit(blk, 0, &req, VIRTIO_BLK_T_IN, blk_random_lba(&lbas, mask), buf,
			  sizeof(buf));
	if (head < 0)
		return "request refused by the driver";
	timeout_start(STALL_NS);
	irq_enable();
	for (uint32_t i = 0; i < total; i++) {
		uint32_t before = virtio_irqs(vector);
		uint64_t start = rdtsc();

		virtq_kick(vq);
		while (virtio_irqs(vector) == before) {
			if (timeout_expired()) {
				if (i == progress) {
					err = virtio_status(&blk->vdev) & VIRTIO_CONFIG_S_NEEDS_RESET ?
					      "no interrupt for 1 s, device needs reset" :
					      "no interrupt for 1 s";
					goto out;
				}
				progress = i;
				timeout_start(STALL_NS);
			}
			irq_disable();
			if (virtio_irqs(vector) == before)
				irq_enable_and_halt();
			else
				irq_enable();
		}
		if (i >= warmup)
			histogram_add(&hist, virtio_irq_tsc - start);
		if (virtq_next_used(vq, &len) != head) {
			err = "interrupt without the request back";
			goto out;
		}
		if (req.status != VIRTIO_BLK_S_OK) {
			err = blk_status_text(blk, req.status);
			goto out;
		}
		blk_requeue(vq, (uint16_t)head, blk_random_lba(&lbas, mask));
	}
out:
	irq_disable();
	timeout_stop();
	return err;
}

static const char *test_virtiortt(void)
{
	uint32_t samples = DEFAULT_SAMPLES, warmup = DEFAULT_WARMUP;
	struct blk_dev *blk;
	const char *err;

	if ((err = cmdline_get_uint("virtiortt.samples", MAX_SAMPLES, &samples)) ||
	    (err = cmdline_get_uint("virtiortt.warmup", MAX_SAMPLES, &warmup)))
		return err;
	if (samples == 0)
		return "virtiortt.samples= must be at least 1";
	if (blk_count() == 0)
		return "no virtio-blk device";
	if ((err = blk_open(0, &blk)))
		return err;
	if (blk->capacity < 8)
		return "disk smaller than 4 KiB";
	printf("irqlat tsc_khz %u\n", timer_tsc_khz());
	printf("irqlat begin virtio-blk msix samples %u warmup %u\n", samples, warmup);
	histogram_clear(&hist);
	if ((err = measure(blk, warmup + samples, warmup))) {
		snprintf(reason, sizeof(reason), "virtio-blk msix: %s", err);
		return reason;
	}
	histogram_print_buckets(&hist, "irqlat");
	printf("irqlat end virtio-blk msix min %lu max %lu\n", hist.min, hist.max);
	return NULL;
}

GUEST_TEST("virtiortt", test_virtiortt);
