#include <criterion/criterion.h>

#include "devices/virtio_rng.h"
#include "virtio_driver.h"

#define MiB  (1ULL << 20)
#define F_V1 (1ULL << 32)

static struct test_rig rig;
static struct virtio_rng rng;

static void setup(void)
{
	struct error err = { 0 };
	rig_init(&rig, 8 * MiB);
	cr_assert_eq(virtio_rng_init(&rng, &rig.mem, &rig.chip, &rig.loop, -1, &err), 0, "%s", err.msg);
	cr_assert_eq(pci_bus_plug(&rig.pci, &rng.vp.pci), 0);
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
	struct virtq_desc *d = gpa(&rig, ring_base(0), 16);
	*d = (struct virtq_desc){ TD_BUFFERS, 8, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 0 };
	kick(&rig, 0, 0);
	cr_assert(device_status(&rig) & 0x40);
}
