/* The virtio-mmio transport: its registers, their checks, and the level line. */
#include <criterion/criterion.h>

#include "devices/virtio_rng.h"
#include "irq_recorder.h"
#include "virtio_driver.h"

#define MiB   (1ULL << 20)
#define F_V1  VIRTIO_BIT(VIRTIO_F_VERSION_1)

static struct test_rig rig;
static struct virtio_rng rng;
static struct irq_recorder *rec;

static void setup(void)
{
	struct error err = { 0 };
	rig_init(&rig, 8 * MiB);
	rig.transport = TD_MMIO_TRANSPORT;
	rec = rec_chip_init(&rig.chip, IRQCHIP_KERNEL, IRQ_PATH_IRQFD);
	cr_assert_eq(virtio_rng_init(&rng, &rig.mem, &rig.loop, -1, &err), 0, "%s", err.msg);
	rig_plug(&rig, &rng.vdev);
}

static void teardown(void)
{
	rig_fini(&rig);
	virtio_rng_destroy(&rng);
	rec_chip_destroy(&rig.chip, rec);
}

TestSuite(virtio_mmio, .init = setup, .fini = teardown, .timeout = 30);

static void start(void)
{
	cr_assert(negotiate(&rig, F_V1));
	setup_queue(&rig, 0);
	driver_ok(&rig);
	cr_assert_eq(device_status(&rig), TD_RUNNING);
}

/* The line's last level as KVM_IRQ_LINE left it, and that it was our pin. */
static bool line_level(void)
{
	unsigned n = rec_count(rec, REC_LINE);
	cr_assert_gt(n, 0, "the line never moved");
	struct rec_event e = rec_nth(rec, REC_LINE, n - 1);
	cr_assert_eq(e.gsi, TD_MMIO_GSI);
	return e.level;
}

/* The device's generic counters, whatever its transport. */
static struct virtio_dev_counters counters(void)
{
	struct virtio_dev_counters c;
	virtio_dev_counters(&rng.vdev, &c);
	return c;
}

static uint32_t raw_access(uint32_t off, uint32_t len, bool is_write, uint32_t v)
{
	cr_assert(bus_dispatch(&rig.mmio, TD_MMIO_BASE + off, (uint8_t *)&v, len, is_write));
	return v;
}

/* One 64-byte buffer through the queue; the device's answer is waited for. */
static void one_request(void)
{
	uint16_t head = add_desc(&rig, 0, TD_BUFFERS, 64, true, false);
	kick(&rig, 0, head);
	cr_assert_eq(take_used(&rig, 0, NULL), 64);
}

Test(virtio_mmio, identity)
{
	cr_assert_eq(mmio_read(&rig, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976, "\"virt\" (4.2.2)");
	cr_assert_eq(mmio_read(&rig, VIRTIO_MMIO_VERSION), 2, "no legacy interface");
	cr_assert_eq(mmio_read(&rig, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_RNG);
	cr_assert_eq(mmio_read(&rig, VIRTIO_MMIO_VENDOR_ID), VIRTIO_PCI_VENDOR);
	cr_assert_eq(mmio_read(&rig, VIRTIO_MMIO_QUEUE_NUM_MAX), VIRTQ_MAX_SIZE);
	mmio_write(&rig, VIRTIO_MMIO_QUEUE_SEL, 1);
	cr_assert_eq(mmio_read(&rig, VIRTIO_MMIO_QUEUE_NUM_MAX), 0, "queue 1 does not exist");
	cr_assert_eq(mmio_read(&rig, VIRTIO_MMIO_STATUS), 0);
	cr_assert_eq(mmio_read(&rig, VIRTIO_MMIO_SHM_LEN_LOW), 0xffffffff, "no shared memory");
	uint64_t f = device_features(&rig);
	cr_assert(f & F_V1);
	cr_assert(f & VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX));
	mmio_write(&rig, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
	cr_assert_eq(mmio_read(&rig, VIRTIO_MMIO_DEVICE_FEATURES), 0, "no features past bit 63");
}

Test(virtio_mmio, registers_take_only_aligned_32_bit_accesses)
{
	cr_assert_eq(raw_access(VIRTIO_MMIO_MAGIC_VALUE, 2, false, 0xdead), 0, "a 16-bit read reads nothing");
	cr_assert_eq(raw_access(VIRTIO_MMIO_MAGIC_VALUE + 1, 1, false, 0xde), 0);
	cr_assert_eq(raw_access(VIRTIO_MMIO_VERSION + 2, 4, false, 0xdeadbeef), 0, "misaligned");
	/* A status written with the wrong width is not a status written. */
	raw_access(VIRTIO_MMIO_STATUS, 1, true, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	cr_assert_eq(device_status(&rig), 0);
	raw_access(VIRTIO_MMIO_STATUS, 4, true, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	cr_assert_eq(device_status(&rig), VIRTIO_CONFIG_S_ACKNOWLEDGE);
	/* Read-only registers keep their value; write-only ones read as 0. */
	mmio_write(&rig, VIRTIO_MMIO_MAGIC_VALUE, 0);
	mmio_write(&rig, VIRTIO_MMIO_VERSION, 1);
	cr_assert_eq(mmio_read(&rig, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	cr_assert_eq(mmio_read(&rig, VIRTIO_MMIO_VERSION), 2);
	cr_assert_eq(mmio_read(&rig, VIRTIO_MMIO_QUEUE_NOTIFY), 0);
	/* Legacy registers do not exist in version 2. */
	mmio_write(&rig, VIRTIO_MMIO_QUEUE_PFN, 0x1234);
	cr_assert_eq(mmio_read(&rig, VIRTIO_MMIO_QUEUE_PFN), 0);
	/* virtio-rng has no configuration: reads of it are zeroes. */
	cr_assert_eq(raw_access(VIRTIO_MMIO_CONFIG, 4, false, 0xffffffff), 0);
	cr_assert_eq(raw_access(VIRTIO_MMIO_CONFIG + 0xfc, 4, false, 0xffffffff), 0);
}

Test(virtio_mmio, features_ok_needs_version_1_and_known_bits)
{
	cr_assert_not(negotiate(&rig, 0), "a legacy driver is refused");
	cr_assert_not(negotiate(&rig, F_V1 | VIRTIO_BIT(40)), "bit 40 was not offered");
	cr_assert(negotiate(&rig, F_V1));
	/* Once FEATURES_OK is set the features are fixed. */
	driver_features(&rig, F_V1 | VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX));
	cr_assert_eq(rng.vdev.driver_features, F_V1);
}

Test(virtio_mmio, queue_layout_is_fixed_while_running)
{
	start();
	struct virtio_queue *q = &rng.vdev.queue[0];
	mmio_write(&rig, VIRTIO_MMIO_QUEUE_NUM, 8);
	mmio_write(&rig, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x5000);
	mmio_write(&rig, VIRTIO_MMIO_QUEUE_READY, 0);
	cr_assert_eq(q->size, TD_QSIZE);
	cr_assert_eq(q->desc, ring_base(0));
	cr_assert_eq(mmio_read(&rig, VIRTIO_MMIO_QUEUE_READY), 1);
	one_request();
}

Test(virtio_mmio, queue_size_not_a_power_of_two_needs_reset)
{
	cr_assert(negotiate(&rig, F_V1));
	setup_queue(&rig, 0);
	mmio_write(&rig, VIRTIO_MMIO_QUEUE_NUM, 12);
	set_status(&rig, TD_RUNNING);
	rig_settle(&rig);
	cr_assert(device_status(&rig) & VIRTIO_CONFIG_S_NEEDS_RESET);
	cr_assert_eq(counters().broken_queues, 1, "a queue the device could not take");
	/* A queue that does not exist takes no layout. */
	cr_assert(negotiate(&rig, F_V1));
	mmio_write(&rig, VIRTIO_MMIO_QUEUE_SEL, 3);
	mmio_write(&rig, VIRTIO_MMIO_QUEUE_READY, 1);
	cr_assert_eq(mmio_read(&rig, VIRTIO_MMIO_QUEUE_READY), 0);
}

Test(virtio_mmio, used_buffers_raise_the_line_until_acknowledged)
{
	start();
	rec_clear(rec);
	one_request();
	cr_assert_eq(mmio_read(&rig, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	cr_assert(line_level(), "raised with the used buffer");
	mmio_write(&rig, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	cr_assert_eq(mmio_read(&rig, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	cr_assert_not(line_level(), "lowered by the acknowledgement");
	/* Reading the status does not acknowledge it (unlike PCI's ISR). */
	one_request();
	cr_assert_eq(mmio_read(&rig, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	cr_assert_eq(mmio_read(&rig, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	cr_assert(line_level());
	struct virtio_dev_counters c = counters();
	cr_assert_eq(c.interrupts_queue, 2, "one per used buffer");
	cr_assert_eq(c.doorbells, 2);
	cr_assert_eq(c.interrupts_config, 0);
}

Test(virtio_mmio, partial_acknowledgement_pulses_the_line)
{
	start();
	one_request();
	uint32_t gen = mmio_read(&rig, VIRTIO_MMIO_CONFIG_GENERATION);
	virtio_config_changed(&rng.vdev);
	cr_assert_eq(mmio_read(&rig, VIRTIO_MMIO_CONFIG_GENERATION), gen + 1, "a new generation");
	cr_assert_eq(mmio_read(&rig, VIRTIO_MMIO_INTERRUPT_STATUS),
		     VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG);
	rec_clear(rec);
	mmio_write(&rig, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	/* Still pending: down and up again, so an edge-triggered pin sees it too. */
	cr_assert_eq(rec_count(rec, REC_LINE), 2);
	cr_assert_not(rec_nth(rec, REC_LINE, 0).level);
	cr_assert(rec_nth(rec, REC_LINE, 1).level);
	cr_assert_eq(mmio_read(&rig, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	mmio_write(&rig, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_CONFIG);
	cr_assert_not(line_level());
	cr_assert_eq(counters().interrupts_config, 1);
}

Test(virtio_mmio, config_change_before_driver_ok_interrupts_nobody)
{
	uint32_t gen = mmio_read(&rig, VIRTIO_MMIO_CONFIG_GENERATION);
	virtio_config_changed(&rng.vdev);
	cr_assert_eq(mmio_read(&rig, VIRTIO_MMIO_CONFIG_GENERATION), gen + 1);
	cr_assert_eq(mmio_read(&rig, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	cr_assert_eq(rec_count(rec, REC_LINE), 0);
	cr_assert_eq(counters().interrupts_config, 0, "none was sent");
}

Test(virtio_mmio, reset_clears_status_queues_and_the_line)
{
	start();
	one_request();
	cr_assert(line_level());
	set_status(&rig, 0);
	int64_t deadline = rig_now_ms() + TD_DEADLINE_MS;
	while (device_status(&rig) != 0)
		rig_poll_until(&rig, deadline, "reset done");
	cr_assert_eq(mmio_read(&rig, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	cr_assert_not(line_level(), "the reset lowered the line");
	cr_assert_eq(mmio_read(&rig, VIRTIO_MMIO_QUEUE_READY), 0);
	cr_assert_eq(counters().resets, 1);
	/* And the device works again after it. */
	start();
	one_request();
	cr_assert_eq(counters().resets, 1, "a reset of a reset device is none");
}

Test(virtio_mmio, notify_of_a_missing_queue_is_ignored)
{
	start();
	mmio_write(&rig, VIRTIO_MMIO_QUEUE_NOTIFY, 7);
	mmio_write(&rig, VIRTIO_MMIO_QUEUE_NOTIFY, 0xffffffff);
	rig_settle(&rig);
	cr_assert_eq(device_status(&rig), TD_RUNNING);
	one_request();
	cr_assert_eq(counters().doorbells, 1, "only the existing queue's");
}
