/*
 * blk: every virtio-blk device. Capacity and serial (GET_ID); then, writable,
 * blk_pattern.h's pattern over the whole disk in large requests spread over
 * every queue at once, read back and checked, FLUSH, and WRITE_ZEROES and
 * DISCARD on sectors 8-15 and 16-23 when offered (zeros read back; then the
 * pattern is written there again, so the disk ends holding it whole); read
 * only, a write must fail with IOERR while reads work. The own MSI-X vector
 * of each queue that had a request must have fired.
 */
#include <stdbool.h>
#include <stdint.h>

#include "blk_pattern.h"
#include "cpu.h"
#include "printf.h"
#include "test.h"
#include "timer.h"
#include "virtio_blk.h"

#define BATCH_BYTES  (512 * 1024)   /* written (or read) at once, split between the queues */
#define RANGE_ZEROES 8              /* WRITE_ZEROES here, DISCARD on the next 8 */
#define RANGE_SECTORS 8
#define WAIT_NS      (5 * NS_PER_S)
#define IRQ_WAIT_NS  (100 * NS_PER_MS)

static uint8_t wbuf[BATCH_BYTES] __attribute__((aligned(4096)));
static uint8_t rbuf[BATCH_BYTES] __attribute__((aligned(4096)));
static struct blk_req reqs[VIRTIO_MAX_QUEUES];
static bool queue_used[VIRTIO_MAX_QUEUES];    /* had a request: its vector must have fired */
static char reason[160];

static const char *fail(unsigned n, const char *what, const char *why)
{
	snprintf(reason, sizeof(reason), "blk %u: %s: %s", n, what, why);
	return reason;
}

/* Waits for the requests of one batch, one per queue below used; NULL or why not. */
static const char *complete_batch(struct blk_dev *blk, unsigned used)
{
	for (unsigned q = 0; q < used; q++) {
		struct virtq *vq = blk->vdev.vq[q];
		void *token;
		uint32_t len;

		if (!virtq_wait(vq, WAIT_NS))
			return blk_status_text(blk, BLK_S_TIMEOUT);
		if (virtq_get(vq, &token, &len) != 1 || token != &reqs[q])
			return "device returned a request that was not outstanding";
		if (reqs[q].status != VIRTIO_BLK_S_OK)
			return blk_status_text(blk, reqs[q].status);
		queue_used[q] = true;
	}
	return NULL;
}

/*
 * Writes (write) or reads and checks the pattern on sectors [first, end),
 * chunk sectors per request, one request per queue at a time.
 */
static const char *pattern_pass(struct blk_dev *blk, bool write, uint64_t first, uint64_t end,
				uint32_t chunk, uint64_t seed)
{
	static char why[100];
	uint8_t *buf = write ? wbuf : rbuf;

	for (uint64_t lba = first; lba < end;) {
		uint64_t start = lba;
		unsigned used = 0;
		const char *err;

		for (; used < blk->nr_queues && lba < end; used++) {
			uint32_t n = end - lba < chunk ? (uint32_t)(end - lba) : chunk;
			uint8_t *at = buf + (size_t)used * chunk * BLK_SECTOR;

			if (write)
				blk_pattern_fill(at, lba, n, seed);
			if (blk_submit(blk, used, &reqs[used], write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN,
					lba, at, n * BLK_SECTOR) < 0)
				return "request refused by the driver";
			virtq_kick(blk->vdev.vq[used]);
			lba += n;
		}
		if ((err = complete_batch(blk, used)))
			return err;
		for (unsigned q = 0; !write && q < used; q++) {
			uint64_t at_lba = start + (uint64_t)q * chunk;
			uint32_t n = end - at_lba < chunk ? (uint32_t)(end - at_lba) : chunk;
			uint32_t bad = blk_pattern_check(rbuf + (size_t)q * chunk * BLK_SECTOR, at_lba,
							 n, seed);

			if (bad < n) {
				snprintf(why, sizeof(why), "sector %lu read back wrong (queue %u)",
					 at_lba + bad, q);
				return why;
			}
		}
	}
	return NULL;
}

/* WRITE_ZEROES and DISCARD when offered, then the pattern again over both ranges. */
static const char *zeroes_and_discard(struct blk_dev *blk, uint32_t chunk, uint64_t seed)
{
	static struct virtio_blk_discard_write_zeroes range;
	uint64_t features = blk->vdev.features;
	const uint64_t *words = (const uint64_t *)rbuf;
	uint8_t status;
	const char *err;

	if (blk->capacity < RANGE_ZEROES + 2 * RANGE_SECTORS)
		return NULL;
	if (features & VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES)) {
		range = (struct virtio_blk_discard_write_zeroes){ .sector = RANGE_ZEROES,
							  .num_sectors = RANGE_SECTORS };
		if ((status = blk_request(blk, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, &range,
					  sizeof(range))) != VIRTIO_BLK_S_OK)
			return blk_status_text(blk, status);
		if ((status = blk_request(blk, 0, VIRTIO_BLK_T_IN, RANGE_ZEROES, rbuf,
					  RANGE_SECTORS * BLK_SECTOR)) != VIRTIO_BLK_S_OK)
			return blk_status_text(blk, status);
		for (unsigned i = 0; i < RANGE_SECTORS * BLK_SECTOR / 8; i++)
			if (words[i])
				return "WRITE_ZEROES left data behind";
	}
	if (features & VIRTIO_BIT(VIRTIO_BLK_F_DISCARD)) {
		range = (struct virtio_blk_discard_write_zeroes){ .sector = RANGE_ZEROES + RANGE_SECTORS,
							  .num_sectors = RANGE_SECTORS };
		if ((status = blk_request(blk, 0, VIRTIO_BLK_T_DISCARD, 0, &range,
					  sizeof(range))) != VIRTIO_BLK_S_OK)
			return blk_status_text(blk, status);
	}
	if ((err = pattern_pass(blk, true, RANGE_ZEROES, RANGE_ZEROES + 2 * RANGE_SECTORS, chunk,
				seed)) ||
	    (err = pattern_pass(blk, false, RANGE_ZEROES, RANGE_ZEROES + 2 * RANGE_SECTORS, chunk,
				seed)))
		return err;
	return NULL;
}

/* The device's serial, "(none)" when it has none; NULL status OK or why not. */
static const char *read_serial(struct blk_dev *blk, char serial[VIRTIO_BLK_ID_BYTES + 1])
{
	uint8_t status;

	for (unsigned i = 0; i <= VIRTIO_BLK_ID_BYTES; i++)
		serial[i] = 0;
	status = blk_request(blk, 0, VIRTIO_BLK_T_GET_ID, 0, serial, VIRTIO_BLK_ID_BYTES);
	if (status != VIRTIO_BLK_S_OK)
		return blk_status_text(blk, status);
	for (unsigned i = 0; serial[i]; i++)
		if (serial[i] < ' ' || serial[i] > '~')
			serial[i] = '?';  /* keep the report one line */
	if (!serial[0])
		snprintf(serial, VIRTIO_BLK_ID_BYTES + 1, "(none)");
	return NULL;
}

static const char *test_device(unsigned n, uint64_t seed)
{
	uint32_t irqs[VIRTIO_MAX_QUEUES];
	char serial[VIRTIO_BLK_ID_BYTES + 1];
	struct blk_dev *blk;
	const char *err;
	uint32_t chunk;
	uint8_t status;

	if ((err = blk_open(n, &blk)))
		return fail(n, "setup", err);
	if (blk->capacity == 0)
		return fail(n, "capacity", "0 sectors");
	if ((err = read_serial(blk, serial)))
		return fail(n, "GET_ID", err);
	/* Whole segments per request, and the batch split between the queues. */
	chunk = blk->max_segs * (BLK_SEG_SIZE / BLK_SECTOR);
	if (chunk > BATCH_BYTES / BLK_SECTOR / blk->nr_queues)
		chunk = BATCH_BYTES / BLK_SECTOR / blk->nr_queues / 8 * 8;
	/* A small disk still gets a request on every queue. */
	if (chunk > (blk->capacity + blk->nr_queues - 1) / blk->nr_queues)
		chunk = (uint32_t)((blk->capacity + blk->nr_queues - 1) / blk->nr_queues);
	for (unsigned q = 0; q < blk->nr_queues; q++) {
		irqs[q] = virtio_irqs(blk->vdev.vq[q]->vector);
		queue_used[q] = false;
	}

	if (blk->ro) {
		status = blk_request(blk, 0, VIRTIO_BLK_T_OUT, 0, wbuf, BLK_SEG_SIZE);
		if (status != VIRTIO_BLK_S_IOERR)
			return fail(n, "write to a read-only disk",
				    status == VIRTIO_BLK_S_OK ? "succeeded" :
				    blk_status_text(blk, status));
		uint64_t end = blk->capacity < (uint64_t)chunk * blk->nr_queues ?
			       blk->capacity : (uint64_t)chunk * blk->nr_queues;

		/* Reads on every queue; the content is whatever the disk holds. */
		for (uint64_t lba = 0; lba < end; lba += chunk) {
			unsigned q = (unsigned)(lba / chunk);
			uint32_t sectors = end - lba < chunk ? (uint32_t)(end - lba) : chunk;

			if (blk_submit(blk, q, &reqs[q], VIRTIO_BLK_T_IN, lba, rbuf + lba * BLK_SECTOR,
					sectors * BLK_SECTOR) < 0)
				return fail(n, "read", "request refused by the driver");
			virtq_kick(blk->vdev.vq[q]);
		}
		if ((err = complete_batch(blk, (unsigned)((end + chunk - 1) / chunk))))
			return fail(n, "read", err);
	} else {
		if ((err = pattern_pass(blk, true, 0, blk->capacity, chunk, seed)))
			return fail(n, "pattern write", err);
		if ((err = pattern_pass(blk, false, 0, blk->capacity, chunk, seed)))
			return fail(n, "pattern read", err);
		if ((blk->vdev.features & VIRTIO_BIT(VIRTIO_BLK_F_FLUSH)) &&
		    (status = blk_request(blk, 0, VIRTIO_BLK_T_FLUSH, 0, 0, 0)) != VIRTIO_BLK_S_OK)
			return fail(n, "FLUSH", blk_status_text(blk, status));
		if ((err = zeroes_and_discard(blk, chunk, seed)))
			return fail(n, "WRITE_ZEROES/DISCARD", err);
	}
	for (unsigned q = 0; q < blk->nr_queues; q++) {
		uint8_t vector = blk->vdev.vq[q]->vector;

		if (queue_used[q] && !virtio_interrupt_seen(vector, irqs[q], IRQ_WAIT_NS)) {
			snprintf(reason, sizeof(reason), "blk %u: queue %u: no interrupt on vector 0x%x",
				 n, q, vector);
			return reason;
		}
	}
	printf("blk %u: %lu sectors, %u queues, serial %s, %s: ok\n", n, blk->capacity,
	       blk->nr_queues, serial, blk->ro ? "ro" : "rw");
	return NULL;
}

static const char *test_blk(void)
{
	unsigned count = blk_count();
	uint64_t seed;
	const char *err;

	if ((err = blk_pattern_seed(&seed)))
		return err;
	if (count == 0)
		return "no virtio-blk device";
	for (unsigned n = 0; n < count; n++)
		if ((err = test_device(n, seed)))
			return err;
	return NULL;
}

GUEST_TEST("blk", test_blk);
