#include <criterion/criterion.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/virtio_rng.h"
#include "virtio_driver.h"

#define MiB  (1ULL << 20)
#define F_V1 VIRTIO_BIT(VIRTIO_F_VERSION_1)

static struct test_rig rig;
static struct virtio_rng rng;

static void setup(void)
{
	struct error err = { 0 };
	rig_init(&rig, 8 * MiB);
	cr_assert_eq(virtio_rng_init(&rng, &rig.mem, &rig.loop, -1, &err), 0, "%s", err.msg);
	rig_plug(&rig, &rng.vdev);
	cr_assert(negotiate(&rig, F_V1));
	setup_queue(&rig, 0);
	driver_ok(&rig);
}

static void teardown(void)
{
	rig_fini(&rig);
	virtio_rng_destroy(&rng);
}

TestSuite(virtio_rng, .init = setup, .fini = teardown, .timeout = 30);

Test(virtio_rng, fills_writable_buffers)
{
	uint8_t *a = gpa(&rig, TD_BUFFERS, 64), *b = gpa(&rig, TD_BUFFERS + 64, 64);
	memset(a, 0, 128);
	uint16_t head = add_desc(&rig, 0, TD_BUFFERS, 64, true, false);
	kick(&rig, 0, head);
	cr_assert_eq(take_used(&rig, 0, NULL), 64);
	head = add_desc(&rig, 0, TD_BUFFERS + 64, 64, true, false);
	kick(&rig, 0, head);
	cr_assert_eq(take_used(&rig, 0, NULL), 64);
	static const uint8_t zero[64];
	cr_assert_neq(memcmp(a, zero, 64), 0, "bytes arrived");
	cr_assert_neq(memcmp(a, b, 64), 0, "and they differ");
}

Test(virtio_rng, counters_after_known_traffic)
{
	for (unsigned i = 0; i < 2; i++) {
		uint16_t head = add_desc(&rig, 0, TD_BUFFERS, 100, true, false);
		kick(&rig, 0, head);
		cr_assert_eq(take_used(&rig, 0, NULL), 100);
	}
	uint16_t head = add_desc(&rig, 0, TD_BUFFERS, 64, false, false);
	kick(&rig, 0, head);
	cr_assert_eq(take_used(&rig, 0, NULL), 0);

	struct virtio_rng_counters c;
	virtio_rng_counters(&rng, &c);
	cr_assert_eq(c.requests, 3, "the readable-only chain is answered too");
	cr_assert_eq(c.bytes, 200);
	struct virtio_dev_counters d;
	virtio_dev_counters(&rng.vdev, &d);
	cr_assert_eq(d.doorbells, 3);
	cr_assert_geq(d.interrupts_queue, 1);
	cr_assert_eq(d.broken_queues, 0);
	cr_assert_eq(d.interrupts_config, 0);
}

Test(virtio_rng, readable_buffers_get_nothing)
{
	uint8_t *a = gpa(&rig, TD_BUFFERS, 64);
	memset(a, 0x33, 64);
	uint16_t head = add_desc(&rig, 0, TD_BUFFERS, 64, false, false);
	kick(&rig, 0, head);
	cr_assert_eq(take_used(&rig, 0, NULL), 0);
	cr_assert_eq(a[0], 0x33);
}

Test(virtio_rng, loop_in_chain_needs_reset)
{
	struct vring_desc *d = gpa(&rig, ring_base(0), sizeof(*d));
	*d = (struct vring_desc){ TD_BUFFERS, 8, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 0 };
	kick(&rig, 0, 0);
	cr_assert(device_status(&rig) & VIRTIO_CONFIG_S_NEEDS_RESET);
	struct virtio_dev_counters dc;
	virtio_dev_counters(&rng.vdev, &dc);
	cr_assert_eq(dc.broken_queues, 1);
	cr_assert_eq(dc.interrupts_config, 1);
	struct virtio_rng_counters c;
	virtio_rng_counters(&rng, &c);
	cr_assert_eq(c.requests, 0);
}

/*
 * The guest resets the device while a read it asked for is in flight, and the
 * read's completion and the reset land in one batch, the completion first: the
 * interrupt decision made after the batch must not look at the reset queue.
 */
Test(virtio_rng, reset_in_the_batch_of_a_completion)
{
	struct io_uring *ring = &rig.loop.ring;
	struct io_uring_cqe *cqe;

	uint16_t head = add_desc(&rig, 0, TD_BUFFERS, 64, true, false);
	struct vring_avail *avail = avail_ring(&rig, 0);
	avail->ring[0] = head;
	avail->idx = 1;
	notify(&rig, 0);                                /* the doorbell: a posted kick */
	cr_assert_eq(loop_poll(&rig.loop, 1000), 1, "the kick ran and queued the read");
	cr_assert_eq(rng.rq.in_flight, 1);
	/* The read goes out and completes; its CQE waits, not yet dispatched. */
	cr_assert_geq(io_uring_submit_and_wait(ring, 1), 0);
	cr_assert_eq(io_uring_cq_ready(ring), 1);
	set_status(&rig, 0);                            /* reset: posted behind it */
	cr_assert_eq(io_uring_wait_cqe_nr(ring, &cqe, 2), 0);
	cr_assert_eq(loop_poll(&rig.loop, 0), 2, "completion and reset in one batch");
	int64_t deadline = rig_now_ms() + TD_DEADLINE_MS;
	while (device_status(&rig) != 0)
		rig_poll_until(&rig, deadline, "reset done");
	/* And the device works again afterwards. */
	cr_assert(negotiate(&rig, F_V1));
	setup_queue(&rig, 0);
	driver_ok(&rig);
	head = add_desc(&rig, 0, TD_BUFFERS, 64, true, false);
	kick(&rig, 0, head);
	cr_assert_eq(take_used(&rig, 0, NULL), 64);
}

/* The guest's re-initialisation, as a vCPU would do it while the I/O thread runs. */
struct reinit {
	struct loop_op op;
	int gate;
	uint64_t count;
	bool ran;
};

static void reinit_now(struct loop_op *op, int res, unsigned flags)
{
	struct reinit *ri = (struct reinit *)op;

	(void)res, (void)flags;
	ri->ran = true;
	offer_features(&rig, F_V1);
	setup_queue(&rig, 0);
	set_status(&rig, TD_RUNNING);
}

/*
 * A second reset while one waits for a read in flight, then a re-initialisation
 * as soon as the first completes: the second must not reset the new session.
 * The entropy source is a pipe here, so the test decides when the read completes.
 */
Test(virtio_rng, second_reset_while_one_is_pending)
{
	struct io_uring *ring = &rig.loop.ring;
	struct io_uring_cqe *cqe;
	struct reinit ri = { .op.complete = reinit_now, .gate = eventfd(0, 0) };
	int source[2];
	static const uint8_t bytes[64] = { 1 };

	cr_assert_eq(pipe(source), 0);
	cr_assert_geq(dup2(source[0], rng.fd), 0);
	uint16_t head = add_desc(&rig, 0, TD_BUFFERS, 64, true, false);
	kick(&rig, 0, head);
	cr_assert_eq(rng.rq.in_flight, 1);
	set_status(&rig, 0);
	rig_settle(&rig);
	cr_assert_neq(device_status(&rig), 0, "the reset waits for the read");
	/* The re-initialisation runs right after the read's completion finishes the reset. */
	struct io_uring_sqe *sqe = loop_sqe(&rig.loop, &ri.op);
	io_uring_prep_read(sqe, ri.gate, &ri.count, sizeof(ri.count), 0);
	cr_assert_geq(io_uring_submit(ring), 0);
	cr_assert_eq(write(source[1], bytes, sizeof(bytes)), sizeof(bytes));
	cr_assert_eq(io_uring_wait_cqe_nr(ring, &cqe, 1), 0);
	uint64_t one = 1;
	cr_assert_eq(write(ri.gate, &one, sizeof(one)), sizeof(one));
	cr_assert_eq(io_uring_wait_cqe_nr(ring, &cqe, 2), 0);
	set_status(&rig, 0);                            /* the second reset, the first still pending */
	rig_settle(&rig);
	cr_assert(ri.ran);
	cr_assert_eq(device_status(&rig), TD_RUNNING, "DRIVER_OK of the new session holds");
	cr_assert_eq(write(source[1], bytes, sizeof(bytes)), sizeof(bytes));
	head = add_desc(&rig, 0, TD_BUFFERS, 64, true, false);
	kick(&rig, 0, head);
	cr_assert_eq(take_used(&rig, 0, NULL), 64);
	close(ri.gate);
	close(source[0]);
	close(source[1]);
}

Test(virtio_rng, config_change_bumps_the_generation_and_interrupts)
{
	(void)take_isr(&rig);
	uint32_t gen = config_generation(&rig);
	virtio_config_changed(&rng.vdev);
	cr_assert_eq(config_generation(&rig), (gen + 1) & (rig_mmio(&rig) ? 0xffffffff : 0xff));
	cr_assert_eq(take_isr(&rig), VIRTIO_ISR_CONFIG);
	cr_assert_eq(take_isr(&rig), 0, "acknowledged");
	struct virtio_dev_counters d;
	virtio_dev_counters(&rng.vdev, &d);
	cr_assert_eq(d.interrupts_config, 1);
	cr_assert_eq(d.interrupts_queue, 0);
}
