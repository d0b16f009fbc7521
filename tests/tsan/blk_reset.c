/*
 * ThreadSanitizer stress: virtio-blk reset while requests are in flight (issue 11,
 * finding 1), with every thread the device has in ringvm real at once. It drives
 * the device only as a guest would (tests/unit/virtio_driver.h, with plain asserts:
 * Criterion cannot run under TSan), and checks its own outcome, so it fails without
 * TSan too.
 *
 *   main:    the device's main loop: queue 0 and the device's own work (resets)
 *   tsan-io: an I/O thread running queue 1
 *   feeder:  the disk is a pipe it fills at moments of its own, so reads end before,
 *            during and after each reset's batch
 *   vcpu0:   resets, re-initialises and publishes reads on both queues, over and over
 *   vcpu1:   a second vCPU reading the device's status, ISR and configuration meanwhile
 *
 * Then the last reset completes and a clean session reads the disk on both queues.
 */
#include "plain_assert.h"

#include <fcntl.h>
#include <linux/virtio_blk.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "../unit/virtio_driver.h"
#include "devices/virtio_blk.h"
#include "services/iothread.h"

#define ROUNDS    1000
#define QUEUES    2
#define DISK_SIZE (1 << 20)
#define HDR       TD_BUFFERS
#define DATA      (TD_BUFFERS + 0x10000)     /* queue q, read i: + q * 0x8000 + i * 0x1000 */
#define STATUS    (TD_BUFFERS + 0x100)       /* queue q's i-th status: STATUS + q * 16 + i */
#define FEATURES  (VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_BLK_F_MQ))

static struct test_rig rig;
static struct virtio_blk blk;
static _Atomic bool vcpu0_done, feeder_stop;
static _Atomic unsigned rounds_done;

static void *vcpu0(void *arg)
{
	(void)arg;
	for (unsigned round = 0; round < ROUNDS; round++) {
		set_status(&rig, 0);
		int64_t deadline = rig_now_ms() + TD_DEADLINE_MS;
		while (device_status(&rig) != 0)
			cr_assert_lt(rig_now_ms(), deadline, "round %u: the reset never completed", round);
		cr_assert(offer_features(&rig, FEATURES), "round %u: features refused", round);
		for (unsigned q = 0; q < QUEUES; q++)
			setup_queue(&rig, q);
		set_status(&rig, TD_RUNNING);
		for (unsigned q = 0; q < QUEUES; q++) {
			struct vring_avail *avail = avail_ring(&rig, q);
			for (unsigned i = 0; i < 1 + (round + q) % 5; i++) {
				uint16_t head = add_desc(&rig, q, HDR, sizeof(struct virtio_blk_outhdr),
							 false, true);
				add_desc(&rig, q, DATA + q * 0x8000 + 0x1000 * i, 4096, true, true);
				add_desc(&rig, q, STATUS + q * 16 + i, 1, true, false);
				avail->ring[rig.avail_idx[q]++ % TD_QSIZE] = head;
			}
			__atomic_store_n(&avail->idx, rig.avail_idx[q], __ATOMIC_RELEASE);
			notify(&rig, q);
		}
		/* Reset at a different moment each round: before, during or after the reads. */
		for (volatile unsigned spin = 0; spin < (round * 7919u) % 20000u; spin++)
			;
		atomic_fetch_add(&rounds_done, 1);
	}
	atomic_store(&vcpu0_done, true);
	return NULL;
}

/* Registers a second vCPU may read at any time; none changes what vcpu0 relies on. */
static void *vcpu1(void *arg)
{
	uint64_t sink = 0;

	(void)arg;
	while (!atomic_load(&vcpu0_done)) {
		sink += device_status(&rig);
		sink += common_read(&rig, num_queues);
		sink += common_read(&rig, config_generation);
		sink += bar_read(&rig, rig.at.isr, 1);
		sink += config_read(&rig, offsetof(struct virtio_blk_config, capacity), 8);
		sink += config_read(&rig, offsetof(struct virtio_blk_config, num_queues), 2);
	}
	return (void *)(uintptr_t)(sink & 1);
}

static void *feeder(void *arg)
{
	int fd = *(int *)arg;
	static const uint8_t bytes[8192];
	unsigned x = 1;

	while (!atomic_load(&feeder_stop)) {
		x = x * 1103515245u + 12345u;
		(void)!write(fd, bytes, 1 + (x >> 8) % sizeof(bytes));
		for (volatile unsigned spin = 0; spin < (x >> 4) % 5000u; spin++)
			;
	}
	return NULL;
}

/* One read of sector on q, in a clean session: its status. */
static uint8_t read_sector(unsigned q, uint64_t sector)
{
	struct virtio_blk_outhdr *hdr = gpa(&rig, HDR, sizeof(*hdr));
	*hdr = (struct virtio_blk_outhdr){ .type = VIRTIO_BLK_T_IN, .sector = sector };
	uint8_t *status = gpa(&rig, STATUS, 1);
	*status = 0xaa;
	uint16_t head = add_desc(&rig, q, HDR, sizeof(*hdr), false, true);
	add_desc(&rig, q, DATA, 512, true, true);
	add_desc(&rig, q, STATUS, 1, true, false);
	kick(&rig, q, head);
	uint16_t done;
	cr_assert_eq(take_used(&rig, q, &done), 513, "queue %u: the sector and its status", q);
	cr_assert_eq(done, head);
	return *status;
}

int main(void)
{
	struct error err = { 0 };
	struct iothread io;
	char path[] = "/tmp/ringvm-tsan-disk-XXXXXX";
	pthread_t v0, v1, fd_thread;
	int p[2];

	/* The image: every byte 0xee, so a clean read shows it came from the disk. */
	int img_fd = mkstemp(path);
	cr_assert_geq(img_fd, 0, "%s", path);
	static uint8_t fill[DISK_SIZE];
	memset(fill, 0xee, sizeof(fill));
	cr_assert_eq(pwrite(img_fd, fill, sizeof(fill), 0), (ssize_t)sizeof(fill));
	close(img_fd);

	rig_init(&rig, 16 << 20);
	cr_assert_eq(iothread_init(&io, "tsan-io", NULL, NULL, &err), 0, "%s", err.msg);
	cr_assert_eq(iothread_start(&io, &err), 0, "%s", err.msg);
	struct disk_config cfg = { .queues = QUEUES };
	struct blk_image img;
	strcpy(cfg.path, path);
	cr_assert_eq(virtio_blk_open(&img, &cfg, &err), 0, "%s", err.msg);
	struct loop *loops[] = { &rig.loop, &io.loop };
	cr_assert_eq(virtio_blk_init(&blk, &cfg, &img, 1, 0, &rig.mem, loops, 2, -1, &err),
		     0, "%s", err.msg);
	unlink(path);
	rig_plug(&rig, &blk.vdev);
	cr_assert(negotiate(&rig, FEATURES));
	cr_assert_eq(blk.queue[1].loop, &io.loop, "queue 1 on the I/O thread");

	/* The disk becomes a pipe; every read asks for sector 8 of it. */
	int disk = dup(blk.fd);
	cr_assert_eq(pipe2(p, O_NONBLOCK), 0);
	cr_assert_geq(dup2(p[0], blk.fd), 0);
	struct virtio_blk_outhdr *hdr = gpa(&rig, HDR, sizeof(*hdr));
	*hdr = (struct virtio_blk_outhdr){ .type = VIRTIO_BLK_T_IN, .sector = 8 };
	pthread_create(&fd_thread, NULL, feeder, &p[1]);
	pthread_create(&v0, NULL, vcpu0, NULL);
	pthread_create(&v1, NULL, vcpu1, NULL);
	while (!atomic_load(&vcpu0_done))
		cr_assert_geq(loop_poll(&rig.loop, 1), 0, "the main loop failed");
	pthread_join(v0, NULL);
	pthread_join(v1, NULL);
	atomic_store(&feeder_stop, true);
	pthread_join(fd_thread, NULL);
	close(p[1]);                    /* what still waits reads the end of the pipe */

	/* The last reset waits for every read in flight, on both threads. */
	cr_assert(negotiate(&rig, FEATURES), "the device recovers");
	cr_assert_eq(dup2(disk, blk.fd), blk.fd);
	close(disk);
	close(p[0]);
	for (unsigned q = 0; q < QUEUES; q++)
		setup_queue(&rig, q);
	driver_ok(&rig);
	cr_assert_eq(device_status(&rig), TD_RUNNING);
	for (unsigned q = 0; q < QUEUES; q++) {
		memset(gpa(&rig, DATA, 512), 0, 512);
		cr_assert_eq(read_sector(q, 3), VIRTIO_BLK_S_OK, "queue %u", q);
		cr_assert_eq(((uint8_t *)gpa(&rig, DATA, 512))[511], 0xee, "queue %u read the disk", q);
	}
	cr_assert_eq(blk.queue[0].rq.in_flight, 0);
	cr_assert(blk.queue[0].rq.stats.max_in_flight <= TD_QSIZE);
	printf("blk-reset: %u rounds of reset under reads on two threads, up to %u reads in flight "
	       "on queue 0; the device recovered\n", atomic_load(&rounds_done),
	       blk.queue[0].rq.stats.max_in_flight);
	iothread_destroy(&io);
	rig_fini(&rig);
	virtio_blk_destroy(&blk);
	return 0;
}
