/*
 * The virtio-mmio transport (virtio-rng behind it): the input is a program of guest
 * operations on the register window (any offset, any width), stores into guest RAM,
 * whole driver steps (bring-up, a descriptor, a chain made available), interrupt
 * acknowledgements and host-side configuration changes, with the device's loop run
 * here between them. Afterwards a reset must complete and leave no interrupt pending.
 */
#include <linux/virtio_mmio.h>

#include "abi/address_map.h"
#include "devices/virtio_mmio.h"
#include "devices/virtio_rng.h"
#include "virtio_fuzz.h"

#define BASE AM_VIRTIO_MMIO_BASE

enum { OP_WRITE, OP_READ, OP_REG, OP_BRING_UP, OP_DESC, OP_AVAIL, OP_POLL, OP_ACK, OP_CONFIG,
       OP_STORE, OP_COUNT };

static struct vf rig;           /* large; fully reset by vf_init for each input */
static struct virtio_rng rng;
static struct virtio_mmio mm;
static uint16_t qsize, avail_idx;

static uint32_t reg(uint32_t off, uint32_t val, bool write)
{
	bus_dispatch(&rig.mmio, BASE + off, (uint8_t *)&val, 4, write);
	return val;
}

static void bring_up(uint64_t features, unsigned log2_size)
{
	reg(VIRTIO_MMIO_STATUS, 0, true);
	int64_t deadline = vf_now_ms() + 2000;
	while (reg(VIRTIO_MMIO_STATUS, 0, false) && vf_now_ms() < deadline)
		vf_poll(&rig, 1);
	reg(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE, true);
	reg(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER, true);
	for (uint32_t sel = 0; sel < 2; sel++) {
		reg(VIRTIO_MMIO_DRIVER_FEATURES_SEL, sel, true);
		reg(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> (32 * sel)), true);
	}
	reg(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
				VIRTIO_CONFIG_S_FEATURES_OK, true);
	qsize = (uint16_t)(1u << (log2_size % 11));
	reg(VIRTIO_MMIO_QUEUE_SEL, 0, true);
	reg(VIRTIO_MMIO_QUEUE_NUM, qsize, true);
	reg(VIRTIO_MMIO_QUEUE_DESC_LOW, VF_RINGS, true);
	reg(VIRTIO_MMIO_QUEUE_AVAIL_LOW, VF_RINGS + qsize * 16u, true);
	reg(VIRTIO_MMIO_QUEUE_USED_LOW, VF_RINGS + qsize * 16u + 0x1000, true);
	reg(VIRTIO_MMIO_QUEUE_READY, 1, true);
	avail_idx = 0;
	reg(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
				VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK, true);
	vf_poll(&rig, 0);
}

static void store(uint64_t gpa, const void *p, size_t n)
{
	void *at = gpa_to_hva(&rig.mem, gpa, n);
	if (at)
		memcpy(at, p, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	struct error err = { 0 };

	vf_init(&rig);
	if (virtio_rng_init(&rng, &rig.mem, &rig.loop, -1, &err))
		fz_fail("virtio_rng_init: %s", err.msg);
	if (virtio_mmio_init(&mm, &rng.vdev, &rig.mmio, BASE, &rig.chip, AM_VIRTIO_MMIO_FIRST_IRQ, &err))
		fz_fail("virtio_mmio_init: %s", err.msg);
	qsize = avail_idx = 0;
	while (fz_more(&f)) {
		uint8_t op = fz_u8(&f) % OP_COUNT;
		switch (op) {
		case OP_WRITE: case OP_READ: {  /* anywhere in the window, any width */
			uint32_t off = fz_u16(&f) % VIRTIO_MMIO_WINDOW, len = fz_width(&f);
			uint64_t val = op == OP_WRITE ? fz_u64(&f) : 0;
			bus_dispatch(&rig.mmio, BASE + off, (uint8_t *)&val, len, op == OP_WRITE);
			break;
		}
		case OP_REG: {                  /* a register, as a driver accesses them */
			uint32_t off = (fz_u8(&f) * 4u) % VIRTIO_MMIO_CONFIG;
			reg(off, fz_u32(&f), true);
			break;
		}
		case OP_BRING_UP: {
			uint64_t mask = fz_u64(&f);
			bring_up(mask | VIRTIO_BIT(VIRTIO_F_VERSION_1), fz_u8(&f));
			break;
		}
		case OP_DESC: {                 /* descriptor i: in the buffers, or anywhere */
			struct vring_desc d;
			unsigned i = fz_u8(&f) % (qsize ? qsize : 16);
			uint32_t off = fz_u32(&f);
			d.addr = off & 1 ? off : VF_BUFFERS + off % 0x100000;
			d.len = fz_u32(&f) % 0x20000;
			d.flags = fz_u16(&f);
			d.next = fz_u16(&f);
			store(VF_RINGS + i * sizeof(d), &d, sizeof(d));
			break;
		}
		case OP_AVAIL: {                /* a head made available, and the doorbell */
			uint16_t head = fz_u16(&f), n = qsize ? qsize : 16;
			uint64_t avail = VF_RINGS + n * 16u;
			store(avail + 4 + 2u * (avail_idx % n), &head, 2);
			avail_idx++;
			store(avail + 2, &avail_idx, 2);
			reg(VIRTIO_MMIO_QUEUE_NOTIFY, fz_u8(&f) & 0x80 ? fz_u16(&f) : 0, true);
			break;
		}
		case OP_POLL:
			vf_poll(&rig, fz_u8(&f) & 1);
			break;
		case OP_ACK:
			reg(VIRTIO_MMIO_INTERRUPT_ACK, reg(VIRTIO_MMIO_INTERRUPT_STATUS, 0, false), true);
			break;
		case OP_CONFIG:                 /* the host side: a resize, say */
			virtio_config_changed(&rng.vdev);
			break;
		case OP_STORE: {
			const uint8_t *bytes;
			uint32_t off = fz_u32(&f) % VF_WINDOW;
			size_t n = fz_take(&f, fz_u8(&f), &bytes);
			store(VF_RINGS + off, bytes, n);
			break;
		}
		}
	}
	/* Whatever the guest did, a reset completes and leaves nothing pending. */
	reg(VIRTIO_MMIO_STATUS, 0, true);
	int64_t deadline = vf_now_ms() + 5000;
	while (reg(VIRTIO_MMIO_STATUS, 0, false) && vf_now_ms() < deadline)
		vf_poll(&rig, 1);
	FZ_CHECK(!reg(VIRTIO_MMIO_STATUS, 0, false), "the reset did not complete");
	FZ_CHECK(!reg(VIRTIO_MMIO_INTERRUPT_STATUS, 0, false), "an interrupt survived the reset");
	FZ_CHECK(!reg(VIRTIO_MMIO_QUEUE_READY, 0, false), "queue 0 still ready after the reset");
	virtio_mmio_destroy(&mm);
	vf_fini(&rig);
	virtio_rng_destroy(&rng);
	return 0;
}
