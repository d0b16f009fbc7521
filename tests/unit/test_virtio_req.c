/*
 * The request engine (devices/virtio_req) under a device that holds its requests
 * until the test completes them: in flight, budget, sessions and resets, each
 * arranged by hand so the order of events is the test's, not the host's.
 */
#include <criterion/criterion.h>

#include "devices/virtio_req.h"
#include "services/util.h"
#include "virtio_driver.h"

#define MiB  (1ULL << 20)
#define F_V1 VIRTIO_BIT(VIRTIO_F_VERSION_1)

struct hold {
	struct virtio_dev vdev;
	struct vreq_queue rq;
	bool immediate;             /* complete each request as it starts, else hold it */
	unsigned republish;         /* immediate: re-publish the chain this many times more */
	struct vreq *held[VIRTQ_MAX_SIZE];
	unsigned nr_held;
	struct loop_work complete_work;     /* completes every held request, from the mailbox */
};

static struct test_rig rig;
static struct hold hold;

static int hold_start(void *dev, struct vreq *r)
{
	struct hold *h = dev;

	if (!h->immediate) {
		cr_assert_lt(h->nr_held, VIRTQ_MAX_SIZE);
		h->held[h->nr_held++] = r;
		return 0;
	}
	uint16_t head = r->chain.head;
	vreq_complete(r, 0);
	/* The guest on another vCPU: each completion seen, the same chain goes back at once. */
	if (h->republish) {
		h->republish--;
		struct vring_avail *avail = avail_ring(&rig, 0);
		avail->ring[rig.avail_idx[0] % TD_QSIZE] = head;
		__atomic_store_n(&avail->idx, ++rig.avail_idx[0], __ATOMIC_RELEASE);
	}
	return 0;
}

static void complete_held(struct loop_work *work)
{
	struct hold *h = container_of(work, struct hold, complete_work);

	while (h->nr_held)
		vreq_complete(h->held[--h->nr_held], 0);
}

static void hold_notify(void *impl, unsigned q, struct virtq *vq)
{
	(void)q;
	vreq_queue_notify(&((struct hold *)impl)->rq, vq);
}

static void hold_config(void *impl, uint32_t offset, uint8_t *data, uint32_t len)
{
	(void)impl, (void)offset, (void)data, (void)len;
}

static void hold_config_write(void *impl, uint32_t offset, const uint8_t *data, uint32_t len)
{
	(void)impl, (void)offset, (void)data, (void)len;
}

static int hold_activate(void *impl, uint64_t features)
{
	(void)impl, (void)features;
	return 0;
}

static bool hold_reset(void *impl, unsigned q)
{
	(void)q;
	return vreq_queue_reset(&((struct hold *)impl)->rq);
}

static const struct virtio_device_ops hold_ops = {
	.queue_notify = hold_notify, .config_read = hold_config, .config_write = hold_config_write,
	.activate = hold_activate, .reset = hold_reset,
};

static void start_session(void)
{
	cr_assert(negotiate(&rig, F_V1));
	setup_queue(&rig, 0);
	driver_ok(&rig);
	cr_assert_eq(device_status(&rig), TD_RUNNING);
}

static void setup(void)
{
	rig_init(&rig, 8 * MiB);
	memset(&hold, 0, sizeof(hold));
	hold.complete_work.run = complete_held;
	struct virtio_device_info info = { .name = "hold", .type = VIRTIO_ID_RNG,
					   .pci_class = PCI_CLASS_CODE_UNASSIGNED, .num_queues = 1 };
	struct loop *loop = &rig.loop;
	cr_assert_eq(virtio_dev_init(&hold.vdev, &info, &hold_ops, &hold, &rig.mem, &loop, 1, -1), 0);
	cr_assert_eq(vreq_queue_init(&hold.rq, &hold.vdev, 0, loop, sizeof(struct vreq), 0, hold_start,
				     &hold), 0);
	rig_plug(&rig, &hold.vdev);
	start_session();
}

static void teardown(void)
{
	rig_fini(&rig);
	vreq_queue_destroy(&hold.rq);
	virtio_dev_destroy(&hold.vdev);
}

TestSuite(virtio_req, .init = setup, .fini = teardown, .timeout = 30);

static volatile struct vring_used *used_ring(void)
{
	return gpa(&rig, ring_base(0) + TD_USED, sizeof(struct vring_used) +
		   sizeof(struct vring_used_elem) * TD_QSIZE);
}

/* Makes head available n more times, without a doorbell. */
static void publish(uint16_t head, unsigned n)
{
	struct vring_avail *avail = avail_ring(&rig, 0);
	for (unsigned i = 0; i < n; i++)
		avail->ring[rig.avail_idx[0]++ % TD_QSIZE] = head;
	avail->idx = rig.avail_idx[0];
}

static void wait_reset_done(void)
{
	int64_t deadline = rig_now_ms() + TD_DEADLINE_MS;
	while (device_status(&rig) != 0)
		rig_poll_until(&rig, deadline, "reset done");
}

/* After whatever happened: a clean re-initialisation, then one request goes through. */
static void expect_recovers(void)
{
	hold.immediate = true;
	hold.republish = 0;
	start_session();
	uint16_t head = add_desc(&rig, 0, TD_BUFFERS, 64, true, false);
	kick(&rig, 0, head);
	uint16_t got;
	take_used(&rig, 0, &got);
	cr_assert_eq(got, head);
	cr_assert_eq(device_status(&rig), TD_RUNNING);
}

/*
 * A driver that publishes a chain the device still holds: without a count of what is
 * in flight, each re-publication is one more request (and its memory) on the host.
 */
Test(virtio_req, republished_chains_never_exceed_the_queue_size)
{
	uint16_t head = add_desc(&rig, 0, TD_BUFFERS, 64, true, false);
	publish(head, TD_QSIZE);
	notify(&rig, 0);
	rig_settle(&rig);
	cr_assert_eq(hold.rq.in_flight, TD_QSIZE);
	cr_assert_eq(device_status(&rig), TD_RUNNING, "a full queue is still a working one");
	publish(head, TD_QSIZE);            /* the same chain again, all of them still held */
	notify(&rig, 0);
	rig_settle(&rig);
	cr_assert_eq(hold.rq.stats.max_in_flight, TD_QSIZE, "in flight: %u", hold.rq.stats.max_in_flight);
	cr_assert_eq(hold.rq.in_flight, TD_QSIZE);
	cr_assert(device_status(&rig) & VIRTIO_CONFIG_S_NEEDS_RESET);
	/* The reset waits for the held requests; then the device works again. */
	set_status(&rig, 0);
	rig_settle(&rig);
	cr_assert_neq(device_status(&rig), 0);
	loop_post(&rig.loop, &hold.complete_work);
	wait_reset_done();
	cr_assert_eq(used_ring()->idx, 0, "nothing of the old session was returned into the new");
	expect_recovers();
}

/*
 * A storm of chains that complete at once, re-published as each completes: one handler
 * call takes at most one queue's worth, and other work on the loop runs meanwhile.
 */
static bool marker_ran;

static void marker(struct loop_work *work)
{
	(void)work;
	marker_ran = true;
}

Test(virtio_req, a_storm_gets_one_queue_per_handler_call)
{
	struct loop_work console = { .run = marker };
	hold.immediate = true;
	hold.republish = 4000;
	uint16_t head = add_desc(&rig, 0, TD_BUFFERS, 64, true, false);
	publish(head, TD_QSIZE);
	notify(&rig, 0);
	cr_assert_gt(loop_poll(&rig.loop, 1000), 0);
	cr_assert_eq(hold.rq.stats.max_per_call, TD_QSIZE);
	cr_assert_gt(hold.republish, 0, "the storm goes on");
	/* Another device's work posted now runs while the storm still does. */
	loop_post(&rig.loop, &console);
	for (int i = 0; i < 3 && !marker_ran; i++)
		cr_assert_gt(loop_poll(&rig.loop, 1000), 0);
	cr_assert(marker_ran, "the loop came back for other work");
	cr_assert_gt(hold.republish, 0, "and the storm was still on");
	rig_settle(&rig);
	cr_assert_eq(hold.republish, 0);
	cr_assert_eq(hold.rq.stats.max_per_call, TD_QSIZE, "per call: %u", hold.rq.stats.max_per_call);
	cr_assert_geq(hold.rq.stats.deferred, 4000 / TD_QSIZE);
	cr_assert_eq(used_ring()->idx, (uint16_t)(TD_QSIZE + 4000));
	cr_assert_eq(device_status(&rig), TD_RUNNING, "a storm of good chains breaks nothing");
	cr_assert_leq(hold.rq.stats.max_in_flight, 1);
}

/* A held request completes in the same batch as the reset that ends its session. */
Test(virtio_req, reset_then_completion_in_one_batch)
{
	uint16_t head = add_desc(&rig, 0, TD_BUFFERS, 64, true, false);
	publish(head, 1);
	notify(&rig, 0);
	rig_settle(&rig);
	cr_assert_eq(hold.nr_held, 1);
	set_status(&rig, 0);                        /* posts the queue's reset */
	loop_post(&rig.loop, &hold.complete_work);  /* behind it, in the same mailbox batch */
	cr_assert_gt(loop_poll(&rig.loop, 1000), 0);
	cr_assert_eq(device_status(&rig), 0, "the reset finished with the completion");
	cr_assert_eq(used_ring()->idx, 0, "the old session's request returned nothing");
	expect_recovers();
}

Test(virtio_req, completion_then_reset_in_one_batch)
{
	uint16_t head = add_desc(&rig, 0, TD_BUFFERS, 64, true, false);
	publish(head, 1);
	notify(&rig, 0);
	rig_settle(&rig);
	cr_assert_eq(hold.nr_held, 1);
	(void)take_isr(&rig);                       /* clears it */
	loop_post(&rig.loop, &hold.complete_work);
	set_status(&rig, 0);                        /* the reset, behind the completion */
	cr_assert_gt(loop_poll(&rig.loop, 1000), 0);
	cr_assert_eq(device_status(&rig), 0);
	cr_assert_eq(used_ring()->idx, 1, "used before the reset");
	/* The batch's interrupt decision was the old session's: nothing is signalled. */
	cr_assert_eq(take_isr(&rig), 0);
	expect_recovers();
}

/* Reset, a second reset while the first waits, a re-initialisation; then twice again. */
Test(virtio_req, reset_twice_with_a_reinit_between)
{
	uint16_t head = add_desc(&rig, 0, TD_BUFFERS, 64, true, false);
	publish(head, 1);
	notify(&rig, 0);
	rig_settle(&rig);
	set_status(&rig, 0);
	rig_settle(&rig);
	cr_assert_neq(device_status(&rig), 0, "the reset waits for the held request");
	set_status(&rig, 0);                        /* absorbed by the pending one */
	rig_settle(&rig);
	loop_post(&rig.loop, &hold.complete_work);
	wait_reset_done();
	cr_assert_eq(hold.rq.epoch, 1, "one reset of the queue, not two");
	expect_recovers();
	set_status(&rig, 0);
	wait_reset_done();
	set_status(&rig, 0);                        /* a reset of a reset device: nothing */
	rig_settle(&rig);
	expect_recovers();
	cr_assert_eq(hold.rq.epoch, 2);
	cr_assert_eq(hold.rq.in_flight, 0);
}

/* A queue of the largest size ringvm offers, full: every request of the pool is out. */
Test(virtio_req, a_full_queue_of_the_largest_size_works)
{
	const uint64_t rings = 0x400000;
	set_status(&rig, 0);
	wait_reset_done();
	cr_assert(negotiate(&rig, F_V1));
	memset(gpa(&rig, rings, 0x3000), 0, 0x3000);
	setup_queue_at(&rig, 0, VIRTQ_MAX_SIZE, rings, rings + 0x1000, rings + 0x2000);
	driver_ok(&rig);
	struct vring_desc *d = gpa(&rig, rings, sizeof(*d) * VIRTQ_MAX_SIZE);
	struct vring_avail *avail = gpa(&rig, rings + 0x1000, 0x1000);
	for (unsigned i = 0; i < VIRTQ_MAX_SIZE; i++) {
		d[i] = (struct vring_desc){ TD_BUFFERS + 64 * i, 64, VRING_DESC_F_WRITE, 0 };
		avail->ring[i] = (uint16_t)i;
	}
	avail->idx = VIRTQ_MAX_SIZE;
	notify(&rig, 0);
	rig_settle(&rig);
	cr_assert_eq(hold.rq.in_flight, VIRTQ_MAX_SIZE);
	cr_assert_eq(device_status(&rig), TD_RUNNING, "a full queue is a working one");
	loop_post(&rig.loop, &hold.complete_work);
	rig_settle(&rig);
	cr_assert_eq(((struct vring_used *)gpa(&rig, rings + 0x2000, 0x1000))->idx, VIRTQ_MAX_SIZE);
	/* All back: the same chains again, and then one more than the queue can hold. */
	for (unsigned i = 0; i < VIRTQ_MAX_SIZE; i++)
		avail->ring[i] = (uint16_t)i;
	avail->idx = 2 * VIRTQ_MAX_SIZE;
	notify(&rig, 0);
	rig_settle(&rig);
	cr_assert_eq(device_status(&rig), TD_RUNNING);
	avail->ring[0] = 0;
	avail->idx = 2 * VIRTQ_MAX_SIZE + 1;
	notify(&rig, 0);
	rig_settle(&rig);
	cr_assert(device_status(&rig) & VIRTIO_CONFIG_S_NEEDS_RESET);
	cr_assert_eq(hold.rq.stats.max_in_flight, VIRTQ_MAX_SIZE);
	set_status(&rig, 0);
	loop_post(&rig.loop, &hold.complete_work);
	wait_reset_done();
	expect_recovers();
}
