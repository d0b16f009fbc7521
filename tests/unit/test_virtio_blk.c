#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/virtio_blk.h"
#include "services/iothread.h"
#include "virtio_driver.h"

#define MiB       (1ULL << 20)
#define DISK_SIZE (8 * MiB)      /* more than one write of zeroes (4 MiB) */
#define HDR       TD_BUFFERS
#define DATA      (TD_BUFFERS + 0x1000)
#define STATUS    (TD_BUFFERS + 0x100)
#define F_RO      VIRTIO_BIT(VIRTIO_BLK_F_RO)
#define F_FLUSH   VIRTIO_BIT(VIRTIO_BLK_F_FLUSH)
#define F_MQ      VIRTIO_BIT(VIRTIO_BLK_F_MQ)
#define F_DISCARD VIRTIO_BIT(VIRTIO_BLK_F_DISCARD)
#define F_WZ      VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES)
#define F_V1      VIRTIO_BIT(VIRTIO_F_VERSION_1)
#define CFG(field) offsetof(struct virtio_blk_config, field)

static struct test_rig rig;
static struct virtio_blk blk;
static char path[64] = "/tmp/ringvm-test-disk-XXXXXX";
static int fd;
static struct loop *other_loop;     /* set: odd queues run there, even ones on rig.loop */

/* The device on the image as opened and probed, but with the probe's answers replaced by fs's. */
static void open_disk_as(bool readonly, unsigned queues, const struct blk_image *fs)
{
	struct error err = { 0 };
	struct disk_config cfg = { .readonly = readonly, .queues = queues };
	struct blk_image img;
	strcpy(cfg.path, path);
	strcpy(cfg.serial, "ringvm-serial-1");
	cr_assert_eq(virtio_blk_open(&img, &cfg, &err), 0, "%s", err.msg);
	if (fs) {
		img.punch_hole = fs->punch_hole;
		img.zero_range = fs->zero_range;
	}
	struct loop *loops[] = { &rig.loop, other_loop };
	cr_assert_eq(virtio_blk_init(&blk, &cfg, &img, 1, 0, &rig.mem, loops,
				     other_loop ? 2 : 1, -1, &err),
		     0, "%s", err.msg);
	cr_assert_eq(img.fd, -1, "the device took the image");
	rig_plug(&rig, &blk.vdev);
}

static void open_disk(bool readonly, unsigned queues)
{
	open_disk_as(readonly, queues, NULL);
}

/* Makes the image at path's template. */
static void setup_image(void)
{
	fd = mkstemp(path);
	cr_assert_geq(fd, 0, "%s", path);
	cr_assert_eq(ftruncate(fd, DISK_SIZE), 0);
	/* Every sector starts as 0xee, so that anything written shows. */
	static uint8_t fill[64 * 1024];
	memset(fill, 0xee, sizeof(fill));
	for (unsigned off = 0; off < DISK_SIZE; off += sizeof(fill))
		cr_assert_eq(pwrite(fd, fill, sizeof(fill), off), (ssize_t)sizeof(fill));
}

static void setup(void)
{
	rig_init(&rig, 16 * MiB);
	blk.fd = -1;
	setup_image();
}

static void teardown(void)
{
	rig_fini(&rig);
	virtio_blk_destroy(&blk);
	close(fd);
	unlink(path);
	strcpy(path, "/tmp/ringvm-test-disk-XXXXXX");
}

TestSuite(virtio_blk, .init = setup, .fini = teardown, .timeout = 30);

static void start_as(bool readonly, unsigned queues, const struct blk_image *fs)
{
	open_disk_as(readonly, queues, fs);
	uint64_t offered = device_features(&rig);
	cr_assert(negotiate(&rig, offered & (F_V1 | F_FLUSH | F_RO | F_MQ | F_DISCARD | F_WZ)));
	for (unsigned q = 0; q < (queues ? queues : 1); q++)
		setup_queue(&rig, q);
	driver_ok(&rig);
	cr_assert_eq(device_status(&rig), TD_RUNNING);
}

static void start(bool readonly, unsigned queues)
{
	start_as(readonly, queues, NULL);
}

/* One request on q: header, optional data (writable for reads), status. */
static uint8_t request(unsigned q, uint32_t type, uint64_t sector, uint32_t len, bool data_writable,
		       uint32_t *used_len)
{
	struct virtio_blk_outhdr *hdr = gpa(&rig, HDR, sizeof(*hdr));
	*hdr = (struct virtio_blk_outhdr){ .type = type, .sector = sector };
	uint8_t *status = gpa(&rig, STATUS, 1);
	*status = 0xaa;
	uint16_t head = add_desc(&rig, q, HDR, sizeof(*hdr), false, true);
	if (len)
		add_desc(&rig, q, DATA, len, data_writable, true);
	add_desc(&rig, q, STATUS, 1, true, false);
	kick(&rig, q, head);
	uint16_t done;
	uint32_t n = take_used(&rig, q, &done);
	cr_assert_eq(done, head);
	if (used_len)
		*used_len = n;
	return *status;
}

Test(virtio_blk, identity_and_features)
{
	open_disk(false, 0);
	if (rig_mmio(&rig)) {
		cr_assert_eq(mmio_read(&rig, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976, "\"virt\"");
		cr_assert_eq(mmio_read(&rig, VIRTIO_MMIO_VERSION), 2);
		cr_assert_eq(mmio_read(&rig, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_BLOCK);
		mmio_write(&rig, VIRTIO_MMIO_QUEUE_SEL, 1);
		cr_assert_eq(mmio_read(&rig, VIRTIO_MMIO_QUEUE_NUM_MAX), 0, "one queue only");
	} else {
		cr_assert_eq(pci_get16(&rig.vp.pci, PCI_VENDOR_ID), VIRTIO_PCI_VENDOR);
		cr_assert_eq(pci_get16(&rig.vp.pci, PCI_DEVICE_ID), 0x1042, "modern virtio-blk (4.1.2.1)");
		cr_assert(pci_get16(&rig.vp.pci, PCI_STATUS) & PCI_STATUS_CAP_LIST);
		cr_assert_eq(common_read(&rig, num_queues), 1, "num_queues");
	}
	uint64_t f = device_features(&rig);
	cr_assert(f & F_V1 && f & F_FLUSH && f & F_DISCARD && f & F_WZ);
	cr_assert_not(f & F_RO);
	cr_assert_not(f & F_MQ, "one vCPU, one queue");
	cr_assert_eq(config_read(&rig, CFG(capacity), 8), DISK_SIZE / 512, "capacity");
	cr_assert_eq(config_read(&rig, CFG(seg_max), 4), 126, "seg_max");
	cr_assert_eq(config_read(&rig, CFG(blk_size), 4), 512, "blk_size");
	cr_assert_eq(config_read(&rig, CFG(write_zeroes_may_unmap), 1), 1, "write_zeroes_may_unmap");
}

Test(virtio_blk, features_ok_refused_without_version_1_or_with_unknown_bits)
{
	open_disk(false, 0);
	cr_assert_not(negotiate(&rig, F_FLUSH), "no VERSION_1: legacy is not offered");
	cr_assert(negotiate(&rig, F_V1 | F_FLUSH));
	cr_assert_not(negotiate(&rig, F_V1 | (1ULL << 40)), "a feature never offered");
}

Test(virtio_blk, write_read_flush_get_id)
{
	start(false, 0);
	uint8_t *data = gpa(&rig, DATA, 4096);
	for (unsigned i = 0; i < 4096; i++)
		data[i] = (uint8_t)(i * 7);
	cr_assert_eq(request(0, VIRTIO_BLK_T_OUT, 8, 4096, false, NULL), VIRTIO_BLK_S_OK, "write");
	uint8_t check[4096];
	cr_assert_eq(pread(fd, check, 4096, 8 * 512), 4096);
	cr_assert_eq(memcmp(check, data, 4096), 0, "on the disk");
	memset(data, 0, 4096);
	uint32_t used;
	cr_assert_eq(request(0, VIRTIO_BLK_T_IN, 8, 4096, true, &used), VIRTIO_BLK_S_OK, "read");
	cr_assert_eq(used, 4097, "data and status written");
	cr_assert_eq(memcmp(check, data, 4096), 0, "read back");
	cr_assert_eq(request(0, VIRTIO_BLK_T_FLUSH, 0, 0, false, NULL), VIRTIO_BLK_S_OK, "flush");
	cr_assert_eq(request(0, VIRTIO_BLK_T_GET_ID, 0, VIRTIO_BLK_ID_BYTES, true, &used),
		     VIRTIO_BLK_S_OK, "get id");
	cr_assert_eq(strncmp((char *)data, "ringvm-serial-1", VIRTIO_BLK_ID_BYTES), 0);
}

Test(virtio_blk, bad_requests_fail_cleanly)
{
	start(false, 0);
	cr_assert_eq(request(0, VIRTIO_BLK_T_IN, DISK_SIZE / 512, 512, true, NULL),
		     VIRTIO_BLK_S_IOERR, "read past the end: IOERR");
	cr_assert_eq(request(0, VIRTIO_BLK_T_IN, DISK_SIZE / 512 - 1, 1024, true, NULL),
		     VIRTIO_BLK_S_IOERR, "read straddling the end");
	cr_assert_eq(request(0, VIRTIO_BLK_T_OUT, UINT64_MAX / 256, 512, false, NULL),
		     VIRTIO_BLK_S_IOERR, "sector overflowing");
	cr_assert_eq(request(0, VIRTIO_BLK_T_IN, 0, 100, true, NULL),
		     VIRTIO_BLK_S_IOERR, "not whole sectors");
	cr_assert_eq(request(0, 77, 0, 0, false, NULL),
		     VIRTIO_BLK_S_UNSUPP, "unknown type: UNSUPP");
	cr_assert_eq(device_status(&rig), TD_RUNNING, "none of these breaks the device");
	cr_assert_eq(request(0, VIRTIO_BLK_T_IN, 0, 512, true, NULL),
		     VIRTIO_BLK_S_OK, "still works");
}

Test(virtio_blk, counters_after_known_traffic)
{
	start(false, 0);
	for (unsigned i = 0; i < 3; i++)
		cr_assert_eq(request(0, VIRTIO_BLK_T_IN, 8 * i, 4096, true, NULL), VIRTIO_BLK_S_OK);
	cr_assert_eq(request(0, VIRTIO_BLK_T_OUT, 8, 4096, false, NULL), VIRTIO_BLK_S_OK);
	cr_assert_eq(request(0, VIRTIO_BLK_T_FLUSH, 0, 0, false, NULL), VIRTIO_BLK_S_OK);
	cr_assert_eq(request(0, VIRTIO_BLK_T_GET_ID, 0, VIRTIO_BLK_ID_BYTES, true, NULL), VIRTIO_BLK_S_OK);
	cr_assert_eq(request(0, 77, 0, 0, false, NULL), VIRTIO_BLK_S_UNSUPP);
	cr_assert_eq(request(0, VIRTIO_BLK_T_IN, DISK_SIZE / 512, 512, true, NULL), VIRTIO_BLK_S_IOERR);

	struct virtio_blk_counters c;
	virtio_blk_counters(&blk, &c);
	cr_assert_eq(c.reads, 4, "3 reads and the one past the end");
	cr_assert_eq(c.bytes_read, 3 * 4096, "only the reads that succeeded");
	cr_assert_eq(c.writes, 1);
	cr_assert_eq(c.bytes_written, 4096);
	cr_assert_eq(c.flushes, 1);
	cr_assert_eq(c.other, 2, "GET_ID and the unknown type");
	cr_assert_eq(c.io_errors, 1);
	cr_assert_eq(c.unsupported, 1);

	struct virtio_dev_counters d;
	virtio_dev_counters(&blk.vdev, &d);
	cr_assert_geq(d.interrupts_queue, 1);
	cr_assert_leq(d.interrupts_queue, 8, "at most one per request here");
	cr_assert_eq(d.doorbells, 8, "one trapped doorbell per request");
	cr_assert_eq(d.interrupts_config, 0);
	cr_assert_eq(d.broken_queues, 0);
	cr_assert_eq(d.resets, 0);
}

Test(virtio_blk, readonly_refuses_writes)
{
	start(true, 0);
	cr_assert(device_features(&rig) & F_RO);
	cr_assert_eq(request(0, VIRTIO_BLK_T_OUT, 0, 512, false, NULL),
		     VIRTIO_BLK_S_IOERR, "write: IOERR");
	uint8_t sector[512];
	cr_assert_eq(pread(fd, sector, 512, 0), 512);
	cr_assert_eq(sector[0], 0xee, "untouched");
	cr_assert_eq(request(0, VIRTIO_BLK_T_IN, 0, 512, true, NULL),
		     VIRTIO_BLK_S_OK, "reads work");
}

Test(virtio_blk, discard_and_write_zeroes)
{
	start(false, 0);
	struct virtio_blk_discard_write_zeroes *range = gpa(&rig, DATA, sizeof(*range));
	*range = (typeof(*range)){ 16, 8, 0 };
	cr_assert_eq(request(0, VIRTIO_BLK_T_WRITE_ZEROES, 0, sizeof(*range), false, NULL),
		     VIRTIO_BLK_S_OK, "write zeroes");
	uint8_t sector[512];
	cr_assert_eq(pread(fd, sector, 512, 16 * 512), 512);
	cr_assert_eq(sector[0], 0);
	cr_assert_eq(pread(fd, sector, 512, 24 * 512), 512);
	cr_assert_eq(sector[0], 0xee, "only the range");
	*range = (typeof(*range)){ 64, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP };
	cr_assert_eq(request(0, VIRTIO_BLK_T_DISCARD, 0, sizeof(*range), false, NULL),
		     VIRTIO_BLK_S_UNSUPP, "discard with a flag: UNSUPP");
	*range = (typeof(*range)){ DISK_SIZE / 512 - 4, 8, 0 };
	cr_assert_eq(request(0, VIRTIO_BLK_T_DISCARD, 0, sizeof(*range), false, NULL),
		     VIRTIO_BLK_S_IOERR, "discard past the end: IOERR");
}

Test(virtio_blk, multiqueue)
{
	start(false, 4);
	cr_assert(device_features(&rig) & F_MQ);
	cr_assert_eq(config_read(&rig, CFG(num_queues), 2), 4, "num_queues in config");
	for (unsigned q = 0; q < 4; q++)
		cr_assert_eq(request(q, VIRTIO_BLK_T_IN, q * 8, 512, true, NULL), VIRTIO_BLK_S_OK, "queue %u", q);
}

/*
 * Queues spread over two loops, the second run by a real I/O thread: requests on each,
 * and a reset that must wait for both threads before the device reads as reset.
 */
Test(virtio_blk, queues_on_two_threads)
{
	struct iothread io;
	struct error err = { 0 };

	cr_assert_eq(iothread_init(&io, "test-io", NULL, NULL, &err), 0, "%s", err.msg);
	cr_assert_eq(iothread_start(&io, &err), 0, "%s", err.msg);
	other_loop = &io.loop;
	start(false, 4);
	cr_assert_eq(blk.queue[0].loop, &rig.loop);
	cr_assert_eq(blk.queue[1].loop, &io.loop);
	cr_assert_eq(blk.queue[3].loop, &io.loop);
	memset(gpa(&rig, DATA, 512), 0x5a, 512);
	cr_assert_eq(request(1, 1, 16, 512, false, NULL), 0, "a write on the I/O thread's queue");
	memset(gpa(&rig, DATA, 512), 0, 512);
	cr_assert_eq(request(2, 0, 16, 512, true, NULL), 0, "read back on the main loop's queue");
	cr_assert_eq(((uint8_t *)gpa(&rig, DATA, 512))[511], 0x5a);
	for (int round = 0; round < 2; round++) {
		cr_assert(negotiate(&rig, F_V1 | F_MQ), "reset with queues on both threads");
		for (unsigned q = 0; q < 4; q++)
			setup_queue(&rig, q);
		driver_ok(&rig);
		cr_assert_eq(device_status(&rig), 0xf);
		for (unsigned q = 0; q < 4; q++)
			cr_assert_eq(request(q, 0, q * 8, 512, true, NULL), 0, "round %d, queue %u", round, q);
	}
	iothread_destroy(&io);
	other_loop = NULL;
}

static void expect_needs_reset(void)
{
	cr_assert(device_status(&rig) & VIRTIO_CONFIG_S_NEEDS_RESET, "DEVICE_NEEDS_RESET");
	/* The driver's way out: reset, and the device works again. */
	cr_assert(negotiate(&rig, F_V1));
	setup_queue(&rig, 0);
	driver_ok(&rig);
	cr_assert_eq(device_status(&rig), TD_RUNNING);
	cr_assert_eq(request(0, VIRTIO_BLK_T_IN, 0, 512, true, NULL), VIRTIO_BLK_S_OK);
}

Test(virtio_blk, short_header_needs_reset)
{
	start(false, 0);
	uint16_t head = add_desc(&rig, 0, HDR, sizeof(struct virtio_blk_outhdr) / 2, false, true);
	add_desc(&rig, 0, STATUS, 1, true, false);
	kick(&rig, 0, head);
	expect_needs_reset();
}

Test(virtio_blk, broken_chain_counts_a_broken_queue_and_the_reset)
{
	start(false, 0);
	uint16_t head = add_desc(&rig, 0, HDR, sizeof(struct virtio_blk_outhdr) / 2, false, true);
	add_desc(&rig, 0, STATUS, 1, true, false);
	kick(&rig, 0, head);
	struct virtio_dev_counters d;
	virtio_dev_counters(&blk.vdev, &d);
	cr_assert_eq(d.broken_queues, 1);
	cr_assert_eq(d.interrupts_config, 1, "NEEDS_RESET's configuration interrupt");
	cr_assert_eq(d.resets, 0);
	expect_needs_reset();
	virtio_dev_counters(&blk.vdev, &d);
	cr_assert_eq(d.broken_queues, 1, "the reset repaired it");
	cr_assert_eq(d.resets, 1);
	struct virtio_blk_counters c;
	virtio_blk_counters(&blk, &c);
	cr_assert_eq(c.reads, 1, "the broken chain was no request");
}

Test(virtio_blk, read_into_readonly_buffer_needs_reset)
{
	start(false, 0);
	uint8_t *data = gpa(&rig, DATA, 512);
	memset(data, 0x11, 512);
	struct virtio_blk_outhdr *hdr = gpa(&rig, HDR, sizeof(*hdr));
	*hdr = (struct virtio_blk_outhdr){ .type = VIRTIO_BLK_T_IN };
	uint16_t head = add_desc(&rig, 0, HDR, sizeof(*hdr), false, true);
	add_desc(&rig, 0, DATA, 512, false, true);    /* the device would write here */
	add_desc(&rig, 0, STATUS, 1, true, false);
	kick(&rig, 0, head);
	cr_assert_eq(data[0], 0x11, "never written");
	expect_needs_reset();
}

Test(virtio_blk, buffer_outside_ram_needs_reset)
{
	start(false, 0);
	uint16_t head = add_desc(&rig, 0, HDR, sizeof(struct virtio_blk_outhdr), false, true);
	add_desc(&rig, 0, 0xd0000000ULL, 512, true, true);
	add_desc(&rig, 0, STATUS, 1, true, false);
	kick(&rig, 0, head);
	expect_needs_reset();
}

Test(virtio_blk, disk_in_use_is_refused)
{
	struct error err = { 0 };
	struct disk_config cfg = { 0 };
	strcpy(cfg.path, path);
	open_disk(false, 0);
	struct blk_image second;
	cr_assert_lt(virtio_blk_open(&second, &cfg, &err), 0);
	cr_assert(strstr(err.msg, "in use by another process"), "%s", err.msg);
	cr_assert_eq(second.fd, -1, "a failed open keeps nothing open");
}

static uint8_t sector_byte(uint64_t sector)
{
	uint8_t b;
	cr_assert_eq(pread(fd, &b, 1, (off_t)(sector * 512)), 1);
	return b;
}

/* WRITE_ZEROES over sectors [first, first + n): the range reads back as zeroes, its neighbours not. */
static void expect_write_zeroes(uint64_t first, uint32_t n, uint32_t flags)
{
	struct virtio_blk_discard_write_zeroes *range = gpa(&rig, DATA, sizeof(*range));
	*range = (typeof(*range)){ first, n, flags };
	cr_assert_eq(request(0, VIRTIO_BLK_T_WRITE_ZEROES, 0, sizeof(*range), false, NULL),
		     VIRTIO_BLK_S_OK, "write zeroes: OK");
	static uint8_t got[6 * MiB];
	cr_assert_leq(n * 512ULL, sizeof(got));
	cr_assert_eq(pread(fd, got, n * 512ULL, (off_t)(first * 512)), (ssize_t)(n * 512ULL));
	for (uint64_t i = 0; i < n * 512ULL; i++)
		cr_assert_eq(got[i], 0, "byte %llu of the range", (unsigned long long)i);
	cr_assert_eq(sector_byte(first - 1), 0xee, "before the range");
	cr_assert_eq(sector_byte(first + n), 0xee, "after the range");
}

Test(virtio_blk, open_probes_without_changing_the_image)
{
	struct error err = { 0 };
	struct disk_config cfg = { 0 };
	struct blk_image img;
	struct stat before, after;
	strcpy(cfg.path, path);
	cr_assert_eq(fstat(fd, &before), 0);
	cr_assert_eq(virtio_blk_open(&img, &cfg, &err), 0, "%s", err.msg);
	cr_assert_eq(img.capacity, DISK_SIZE / 512);
	cr_assert(img.write_zeroes, "a writable regular file");
	cr_assert_eq(fstat(fd, &after), 0);
	cr_assert_eq(after.st_size, before.st_size, "the probe keeps the size");
	cr_assert_eq(after.st_blocks, before.st_blocks, "and the allocation");
	cr_assert_eq(sector_byte(DISK_SIZE / 512 - 1), 0xee, "and the data");
	virtio_blk_close(&img);
	cr_assert_eq(img.fd, -1);

	cfg.readonly = true;
	cr_assert_eq(virtio_blk_open(&img, &cfg, &err), 0, "%s", err.msg);
	cr_assert_not(img.write_zeroes || img.punch_hole, "nothing to zero or discard read-only");
	virtio_blk_close(&img);
}

Test(virtio_blk, open_refuses_what_cannot_be_a_disk)
{
	struct disk_config cfg = { 0 };
	struct blk_image img;
	struct {
		const char *path, *needle;
	} cases[] = {
		{ "/nonexistent/disk.img", "cannot open disk '/nonexistent/disk.img': No such file" },
		{ "/tmp", "is neither a file nor a block device" },
		{ "/dev/null", "is neither a file nor a block device" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct error err = { 0 };
		strcpy(cfg.path, cases[i].path);
		cfg.readonly = true;
		cr_assert_lt(virtio_blk_open(&img, &cfg, &err), 0, "%s", cases[i].path);
		cr_assert(strstr(err.msg, cases[i].needle), "'%s' lacks '%s'", err.msg, cases[i].needle);
		cr_assert_eq(img.fd, -1, "nothing left open");
	}
	struct error err = { 0 };
	cr_assert_eq(ftruncate(fd, 511), 0);
	strcpy(cfg.path, path);
	cr_assert_lt(virtio_blk_open(&img, &cfg, &err), 0);
	cr_assert(strstr(err.msg, "smaller than one 512-byte sector"), "%s", err.msg);
	/* Empty is not a mistake: a placeholder drive, as Kata makes them. */
	cr_assert_eq(ftruncate(fd, 0), 0);
	cr_assert_eq(virtio_blk_open(&img, &cfg, &err), 0, "%s", err.msg);
	cr_assert_eq(img.capacity, 0);
	virtio_blk_close(&img);
}

Test(virtio_blk, without_fallocate_write_zeroes_writes_zeroes)
{
	/* As on 9p or NFS without ALLOCATE/DEALLOCATE: neither mode is there. */
	struct blk_image none = { .punch_hole = false, .zero_range = false };
	start_as(false, 0, &none);
	uint64_t f = device_features(&rig);
	cr_assert(f & F_WZ, "WRITE_ZEROES is offered all the same");
	cr_assert_not(f & F_DISCARD, "DISCARD is not: it could only be ignored");
	expect_write_zeroes(16, 8, 0);
	/* UNMAP allowed, but no hole to punch */
	expect_write_zeroes(40, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	expect_write_zeroes(100, 5 * MiB / 512, 0);         /* more than one write's worth (4 MiB) */
	cr_assert_eq(sector_byte(DISK_SIZE / 512 - 1), 0xee);
	struct virtio_blk_discard_write_zeroes *range = gpa(&rig, DATA, sizeof(*range));
	*range = (typeof(*range)){ 0, 8, 0 };
	cr_assert_eq(request(0, VIRTIO_BLK_T_DISCARD, 0, sizeof(*range), false, NULL),
		     VIRTIO_BLK_S_UNSUPP, "DISCARD not offered: UNSUPP");
	cr_assert_eq(device_status(&rig), TD_RUNNING);
}

Test(virtio_blk, fallocate_mode_missing_at_run_time_falls_back)
{
	/* tmpfs punches holes but has no FALLOC_FL_ZERO_RANGE: the first try fails with EOPNOTSUPP. */
	close(fd);
	unlink(path);
	strcpy(path, "/dev/shm/ringvm-test-disk-XXXXXX");
	setup_image();
	start(false, 0);
	cr_assert(blk.punch_hole, "tmpfs punches holes");
	uint64_t f = device_features(&rig);
	cr_assert(f & F_WZ && f & F_DISCARD);
	expect_write_zeroes(16, 8, 0);
	cr_assert_not(blk.zero_range, "learnt: not asked again");
	expect_write_zeroes(40, 8, 0);
	/* UNMAP: a punched hole reads as zeroes */
	expect_write_zeroes(64, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	struct virtio_blk_discard_write_zeroes *range = gpa(&rig, DATA, sizeof(*range));
	*range = (typeof(*range)){ 80, 8, 0 };
	cr_assert_eq(request(0, VIRTIO_BLK_T_DISCARD, 0, sizeof(*range), false, NULL),
		     VIRTIO_BLK_S_OK, "discard");
}

Test(virtio_blk, discard_without_punch_hole_at_run_time_is_a_hint_not_taken)
{
	/* The probe said yes, the file system later said EOPNOTSUPP. */
	struct blk_image only_punch = { .punch_hole = true, .zero_range = false };
	start_as(false, 0, &only_punch);
	cr_assert(device_features(&rig) & F_DISCARD);
	blk.punch_hole = false;     /* what a run-time EOPNOTSUPP leaves behind */
	struct virtio_blk_discard_write_zeroes *range = gpa(&rig, DATA, sizeof(*range));
	*range = (typeof(*range)){ 16, 8, 0 };
	cr_assert_eq(request(0, VIRTIO_BLK_T_DISCARD, 0, sizeof(*range), false, NULL),
		     VIRTIO_BLK_S_OK, "DISCARD: OK, nothing done");
	cr_assert_eq(sector_byte(16), 0xee);
	expect_write_zeroes(32, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
}

/* --- a hostile guest on another thread ------------------------------------------ */

#define BIG_QSIZE  256                      /* what ringvm offers, as the finding had it */
#define BIG_RINGS  0x800000ULL              /* descriptors; avail +4 KiB, used +8 KiB */
#define STORM_BUF  0x810000ULL

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct storm {
	pthread_t thread;
	_Atomic bool stop;
	unsigned rounds;
	uint64_t published;
};

static void *storm_guest(void *arg)
{
	struct storm *s = arg;
	volatile struct vring_avail *avail = gpa(&rig, BIG_RINGS + 0x1000, 0x1000);
	volatile struct vring_used *used = gpa(&rig, BIG_RINGS + 0x2000, 0x1000);
	uint16_t idx = 0;

	/*
	 * The two chains, published again and again in turn while the device still holds
	 * them: each completion it sees makes room for more, as long as no more than a
	 * queue's worth is unanswered, so the ring itself is never overrun.
	 */
	while (!atomic_load(&s->stop)) {
		unsigned n = 0;
		while ((uint16_t)(idx - used->idx) < BIG_QSIZE) {
			avail->ring[idx % BIG_QSIZE] = idx % 2 ? 3 : 0;
			n++;
			idx++;
		}
		if (n) {
			__atomic_store_n(&avail->idx, idx, __ATOMIC_RELEASE);
			s->published += n;
			notify(&rig, 0);
		}
	}
	return NULL;
}

/* Queue 0 with BIG_QSIZE entries and two chains: a 4 KiB read (head 0), an unknown type (head 3). */
static void start_big_queue(void)
{
	open_disk(false, 1);
	cr_assert(negotiate(&rig, F_V1));
	memset(gpa(&rig, BIG_RINGS, 0x3000), 0, 0x3000);
	setup_queue_at(&rig, 0, BIG_QSIZE, BIG_RINGS, BIG_RINGS + 0x1000, BIG_RINGS + 0x2000);
	struct virtio_blk_outhdr *read = gpa(&rig, STORM_BUF, sizeof(*read));
	struct virtio_blk_outhdr *odd = gpa(&rig, STORM_BUF + 0x100, sizeof(*odd));
	*read = (struct virtio_blk_outhdr){ .type = VIRTIO_BLK_T_IN };
	*odd = (struct virtio_blk_outhdr){ .type = 0x7777 };
	struct vring_desc *d = gpa(&rig, BIG_RINGS, 5 * sizeof(*d));
	d[0] = (struct vring_desc){ STORM_BUF, sizeof(*read), VRING_DESC_F_NEXT, 1 };
	d[1] = (struct vring_desc){ STORM_BUF + 0x1000, 4096, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2 };
	d[2] = (struct vring_desc){ STORM_BUF + 0x200, 1, VRING_DESC_F_WRITE, 0 };
	d[3] = (struct vring_desc){ STORM_BUF + 0x100, sizeof(*odd), VRING_DESC_F_NEXT, 4 };
	d[4] = (struct vring_desc){ STORM_BUF + 0x300, 1, VRING_DESC_F_WRITE, 0 };
	driver_ok(&rig);
	cr_assert_eq(device_status(&rig), TD_RUNNING);
}

/*
 * The re-publish storm of the hostile-guest finding (there: 7,104 requests in flight on
 * a 256-entry queue, the thread held 0.77 s in one call): now at most a queue's worth in
 * flight, one queue's worth per handler call, and the device recovers on a reset.
 */
Test(virtio_blk, republish_storm_is_bounded)
{
	struct storm s = { 0 };
	start_big_queue();
	cr_assert_eq(pthread_create(&s.thread, NULL, storm_guest, &s), 0);
	int64_t end = rig_now_ms() + 500, longest_poll = 0;
	uint64_t most_cpu = 0;      /* of one wake-up: what the thread itself spent, not the host's noise */
	unsigned polls = 0;
	while (rig_now_ms() < end) {
		int64_t t = rig_now_ms();
		uint64_t cpu = thread_cpu_ns();
		cr_assert_geq(loop_poll(&rig.loop, 10), 0);
		if (thread_cpu_ns() - cpu > most_cpu)
			most_cpu = thread_cpu_ns() - cpu;
		if (rig_now_ms() - t > longest_poll)
			longest_poll = rig_now_ms() - t;
		polls++;
	}
	atomic_store(&s.stop, true);
	pthread_join(s.thread, NULL);
	rig_settle(&rig);
	const struct vreq_stats *st = &blk.queue[0].rq.stats;
	fprintf(stderr, "storm: %llu chains published in 500 ms; most in flight %u (queue %u); "
		"most chains in one handler call %u; longest handler call %.3f ms; %llu calls, "
		"%llu cut by the budget; %u loop wake-ups, the longest %lld ms (CPU %.3f ms)\n",
		(unsigned long long)s.published, st->max_in_flight, BIG_QSIZE, st->max_per_call,
		st->max_call_ns / 1e6, (unsigned long long)st->calls, (unsigned long long)st->deferred,
		polls, (long long)longest_poll, most_cpu / 1e6);
	cr_assert_gt(s.published, BIG_QSIZE, "the storm ran");
	cr_assert_leq(st->max_in_flight, BIG_QSIZE);
	cr_assert_leq(st->max_per_call, BIG_QSIZE);
	/* The finding: 0.77 s in one call. Wall time here includes a busy host's preemption. */
	cr_assert_lt(st->max_call_ns, 500 * 1000000ULL, "one call held the thread %llu ns",
		     (unsigned long long)st->max_call_ns);
	cr_assert_lt(most_cpu, 50 * 1000000ULL, "one wake-up took %llu ns of CPU",
		     (unsigned long long)most_cpu);
	/* A clean re-initialisation, and a good read and write. */
	cr_assert(negotiate(&rig, F_V1));
	setup_queue(&rig, 0);
	driver_ok(&rig);
	cr_assert_eq(device_status(&rig), TD_RUNNING);
	memset(gpa(&rig, DATA, 512), 0x3c, 512);
	cr_assert_eq(request(0, VIRTIO_BLK_T_OUT, 40, 512, false, NULL), VIRTIO_BLK_S_OK);
	memset(gpa(&rig, DATA, 512), 0, 512);
	cr_assert_eq(request(0, VIRTIO_BLK_T_IN, 40, 512, true, NULL), VIRTIO_BLK_S_OK);
	cr_assert_eq(((uint8_t *)gpa(&rig, DATA, 512))[100], 0x3c);
}

/* A vCPU resetting and re-initialising the device over and over while its reads are in flight. */
static void *resetting_guest(void *arg)
{
	struct storm *s = arg;

	for (unsigned round = 0; round < s->rounds; round++) {
		set_status(&rig, 0);
		int64_t deadline = rig_now_ms() + TD_DEADLINE_MS;
		while (device_status(&rig) != 0 && rig_now_ms() < deadline)
			;
		if (device_status(&rig) != 0)
			break;      /* the main thread finds the device not reset */
		offer_features(&rig, F_V1);
		setup_queue(&rig, 0);
		set_status(&rig, TD_RUNNING);
		struct vring_avail *avail = avail_ring(&rig, 0);
		for (unsigned i = 0; i < 1 + round % 5; i++) {
			uint16_t head = add_desc(&rig, 0, HDR, sizeof(struct virtio_blk_outhdr), false, true);
			add_desc(&rig, 0, DATA + 0x1000 * i, 4096, true, true);
			add_desc(&rig, 0, STATUS + i, 1, true, false);
			avail->ring[rig.avail_idx[0]++ % TD_QSIZE] = head;
		}
		__atomic_store_n(&avail->idx, rig.avail_idx[0], __ATOMIC_RELEASE);
		notify(&rig, 0);
		/* Reset at a different moment each round: before, during or after the reads. */
		for (volatile unsigned spin = 0; spin < (round * 7919u) % 20000u; spin++)
			;
	}
	atomic_store(&s->stop, true);
	return NULL;
}

/* The disk's bytes, a few at a time at moments of its own: reads complete when they like. */
struct feeder {
	pthread_t thread;
	int fd;
	_Atomic bool stop;
};

static void *feed(void *arg)
{
	struct feeder *f = arg;
	static const uint8_t bytes[8192];
	unsigned x = 1;

	while (!atomic_load(&f->stop)) {
		x = x * 1103515245u + 12345u;
		(void)!write(f->fd, bytes, 1 + (x >> 8) % sizeof(bytes));
		for (volatile unsigned spin = 0; spin < (x >> 4) % 5000u; spin++)
			;
	}
	return NULL;
}

/*
 * A vCPU resets and re-initialises the device over and over while its reads are in
 * flight; the disk is a pipe fed by a third thread, so the reads end at moments
 * that fall before, during and after each reset's batch.
 */
Test(virtio_blk, reset_races_completions_from_another_thread)
{
	struct storm s = { .rounds = 300 };
	struct feeder f = { 0 };
	int p[2];
	start(false, 0);
	int disk = dup(blk.fd);
	cr_assert_eq(pipe2(p, O_NONBLOCK), 0);
	cr_assert_geq(dup2(p[0], blk.fd), 0);
	f.fd = p[1];
	struct virtio_blk_outhdr *hdr = gpa(&rig, HDR, sizeof(*hdr));
	*hdr = (struct virtio_blk_outhdr){ .type = VIRTIO_BLK_T_IN, .sector = 8 };
	cr_assert_eq(pthread_create(&f.thread, NULL, feed, &f), 0);
	cr_assert_eq(pthread_create(&s.thread, NULL, resetting_guest, &s), 0);
	while (!atomic_load(&s.stop))
		cr_assert_geq(loop_poll(&rig.loop, 1), 0);
	pthread_join(s.thread, NULL);
	atomic_store(&f.stop, true);
	pthread_join(f.thread, NULL);
	close(p[1]);                    /* what still waits reads the end of the pipe */
	int64_t deadline = rig_now_ms() + TD_DEADLINE_MS;
	while (blk.queue[0].rq.in_flight)
		rig_poll_until(&rig, deadline, "the last reads");
	cr_assert_eq(dup2(disk, blk.fd), blk.fd);
	close(disk);
	close(p[0]);
	cr_assert_eq(device_status(&rig) & ~TD_RUNNING, 0, "the last session runs, unbroken");
	cr_assert_leq(blk.queue[0].rq.stats.max_in_flight, TD_QSIZE);
	/* And works after one more clean re-initialisation. */
	cr_assert(negotiate(&rig, F_V1));
	setup_queue(&rig, 0);
	driver_ok(&rig);
	cr_assert_eq(request(0, VIRTIO_BLK_T_IN, 0, 512, true, NULL), VIRTIO_BLK_S_OK);
	cr_assert_eq(blk.queue[0].rq.in_flight, 0);
}
