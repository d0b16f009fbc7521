/*
 * A guest for the virtio-pci fuzz targets: the input is a program of guest operations
 * (configuration cycles, BAR accesses, stores into guest RAM, doorbells) run against
 * the real transport and device, with the device's io_uring loop run here, in this
 * thread, between operations. Some operations are whole driver steps (negotiate, set
 * up the queues, make a chain available) so that short inputs reach the requests.
 * After the program: a reset, which must complete, and the invariants per queue.
 */
#ifndef RINGVM_FUZZ_VIRTIO_H
#define RINGVM_FUZZ_VIRTIO_H

#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>
#include <time.h>

#include "abi/virtio.h"
#include "devices/pci.h"
#include "devices/virtio_pci.h"
#include "fuzz.h"
#include "services/bus.h"
#include "services/loop.h"

#define VF_RAM      (16ULL << 20)
#define VF_SLOT     1                   /* where pci_bus_plug puts the first device */
#define VF_RINGS    0x100000ULL         /* queue q's rings: 4 KiB at VF_RINGS + q * 4 KiB */
#define VF_AVAIL    0x400               /* within those 4 KiB, for queues up to 64 */
#define VF_USED     0x800
#define VF_BUFFERS  0x200000ULL         /* buffers: descriptors point into 1 MiB from here */
#define VF_WINDOW   0x200000ULL         /* guest stores land in [VF_RINGS, VF_RINGS + this) */

struct vf {
	struct guest_memory mem;
	struct bus pio, mmio;
	struct pci_bus pci;
	struct loop loop;
	struct irq_chip chip;
	struct virtio_pci vp;               /* the transport of the device under test */
	struct virtio_pci extra[2];         /* more functions, for fuzz_pci */
	struct virtio_dev *dev;
	uint64_t bar;
	uint32_t common, isr, device, notify, notify_mult;
	uint16_t qsize[VIRTIO_MAX_QUEUES];  /* as the driver set them up (0: not) */
	uint16_t avail_idx[VIRTIO_MAX_QUEUES];
};

static inline void vf_init(struct vf *v)
{
	struct error err = { 0 };
	memset(v, 0, sizeof(*v));
	if (guest_memory_create(&v->mem, VF_RAM, &err))
		fz_fail("guest RAM: %s", err.msg);
	bus_init(&v->pio, "pio");
	bus_init(&v->mmio, "mmio");
	pci_bus_init(&v->pci, &v->pio, &v->mmio, NULL, NULL);
	if (loop_init(&v->loop, 64, &err))
		fz_fail("loop: %s", err.msg);
	loop_start(&v->loop);
	/* No KVM: MSI injection fails quietly. */
	v->chip = (struct irq_chip){ .vm_fd = -1, .mode = IRQCHIP_KERNEL, .path = IRQ_PATH_MSI };
}

static inline uint32_t vf_cfg_read(struct vf *v, uint32_t off, uint32_t len)
{
	uint32_t val = 0;
	pci_config_access(&v->pci, VF_SLOT, off, (uint8_t *)&val, len, false);
	return val;
}

/* Puts dev on the PCI bus through tp; 0 or -errno. */
static inline int vf_attach(struct vf *v, struct virtio_pci *tp, struct virtio_dev *dev)
{
	int r = virtio_pci_init(tp, dev, &v->chip);
	return r ? r : pci_bus_plug(&v->pci, &tp->pci);
}

/* Plugs dev, then finds BAR 0 and its structures as a driver does (virtio 1.2, 4.1.4). */
static inline void vf_plug(struct vf *v, struct virtio_dev *dev)
{
	if (vf_attach(v, &v->vp, dev))
		fz_fail("plug");
	v->dev = dev;
	v->bar = vf_cfg_read(v, PCI_BASE_ADDRESS_0, 4) & PCI_BASE_ADDRESS_MEM_MASK;
	for (uint32_t cap = vf_cfg_read(v, PCI_CAPABILITY_LIST, 1), n = 0; cap && n < 48;
	     cap = vf_cfg_read(v, cap + PCI_CAP_LIST_NEXT, 1), n++) {
		if (vf_cfg_read(v, cap + PCI_CAP_LIST_ID, 1) != PCI_CAP_ID_VNDR)
			continue;
		uint32_t type = vf_cfg_read(v, cap + offsetof(struct virtio_pci_cap, cfg_type), 1);
		uint32_t off = vf_cfg_read(v, cap + offsetof(struct virtio_pci_cap, offset), 4);
		if (type == VIRTIO_PCI_CAP_COMMON_CFG)
			v->common = off;
		else if (type == VIRTIO_PCI_CAP_ISR_CFG)
			v->isr = off;
		else if (type == VIRTIO_PCI_CAP_DEVICE_CFG)
			v->device = off;
		else if (type == VIRTIO_PCI_CAP_NOTIFY_CFG) {
			v->notify = off;
			v->notify_mult = vf_cfg_read(v, cap + offsetof(struct virtio_pci_notify_cap,
								       notify_off_multiplier), 4);
		}
	}
}

static inline uint64_t vf_bar_access(struct vf *v, uint64_t off, uint64_t val, uint32_t len,
				     bool write)
{
	bus_dispatch(&v->mmio, v->bar + off, (uint8_t *)&val, len, write);
	return val;
}

#define VF_COMMON(field) offsetof(struct virtio_pci_common_cfg, field)
#define VF_WIDTH(field)  sizeof(((struct virtio_pci_common_cfg *)0)->field)
#define vf_common_read(v, field) \
	vf_bar_access(v, (v)->common + VF_COMMON(field), 0, VF_WIDTH(field), false)
#define vf_common_write(v, field, val) \
	vf_bar_access(v, (v)->common + VF_COMMON(field), val, VF_WIDTH(field), true)

/* The loop's ready work, without waiting for the host (or briefly, with wait_ms). */
static inline void vf_poll(struct vf *v, int wait_ms)
{
	for (int i = 0; i < 64 && loop_poll(&v->loop, wait_ms) > 0; i++)
		;
}

static inline int64_t vf_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Writes device_status 0 and waits for the reset to complete: a guest cannot wedge it. */
static inline void vf_reset(struct vf *v)
{
	vf_common_write(v, device_status, 0);
	int64_t deadline = vf_now_ms() + 5000;
	while (vf_common_read(v, device_status) != 0) {
		FZ_CHECK(vf_now_ms() < deadline, "a reset did not complete in 5 s");
		loop_poll(&v->loop, 10);
	}
	memset(v->qsize, 0, sizeof(v->qsize));
}

/* No queue has more chains in flight than it holds. */
static inline void vf_check_queues(struct vf *v)
{
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		const struct virtq *vq = &v->dev->queue[q].vq;
		if (!vq->ring.num || vq->broken)
			continue;
		FZ_CHECK(vq->in_flight <= vq->ring.num, "queue %u: in_flight %u in a queue of %u", q,
			 vq->in_flight, vq->ring.num);
		FZ_CHECK((uint16_t)(vq->last_avail - vq->used_idx) <= vq->ring.num,
			 "queue %u: %u chains in flight in a queue of %u", q,
			 (uint16_t)(vq->last_avail - vq->used_idx), vq->ring.num);
	}
}

static inline uint16_t vf_nr_queues(struct vf *v)
{
	uint16_t n = (uint16_t)vf_common_read(v, num_queues);
	return n > VIRTIO_MAX_QUEUES ? VIRTIO_MAX_QUEUES : n;
}

/* A driver's bring-up: reset, features (the device's, masked by the input), queues, DRIVER_OK. */
static inline void vf_bring_up(struct vf *v, struct fz *f)
{
	uint64_t mask = fz_u64(f), features = 0;
	uint8_t shape = fz_u8(f);
	vf_reset(v);
	vf_common_write(v, device_status, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	vf_common_write(v, device_status, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	for (uint32_t half = 0; half < 2; half++) {
		vf_common_write(v, device_feature_select, half);
		features |= vf_common_read(v, device_feature) << (32 * half);
	}
	features &= ~mask;          /* an all-zero mask (the default) takes every feature */
	for (uint32_t half = 0; half < 2; half++) {
		vf_common_write(v, guest_feature_select, half);
		vf_common_write(v, guest_feature, (uint32_t)(features >> (32 * half)));
	}
	vf_common_write(v, device_status, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
			VIRTIO_CONFIG_S_FEATURES_OK);
	unsigned nq = vf_nr_queues(v);
	uint16_t size = (uint16_t)(1u << (shape % 7));      /* 1 to 64: fits the 4 KiB of rings */
	for (unsigned q = 0; q < nq; q++) {
		uint64_t base = VF_RINGS + q * 0x1000ULL;
		memset(gpa_to_hva(&v->mem, base, 0x1000), 0, 0x1000);
		vf_common_write(v, queue_select, q);
		vf_common_write(v, queue_size, size);
		vf_common_write(v, queue_desc_lo, (uint32_t)base);
		vf_common_write(v, queue_desc_hi, 0);
		vf_common_write(v, queue_avail_lo, (uint32_t)(base + VF_AVAIL));
		vf_common_write(v, queue_avail_hi, 0);
		vf_common_write(v, queue_used_lo, (uint32_t)(base + VF_USED));
		vf_common_write(v, queue_used_hi, 0);
		vf_common_write(v, queue_enable, 1);
		v->qsize[q] = size;
		v->avail_idx[q] = 0;
	}
	vf_common_write(v, device_status, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
			VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
	vf_poll(v, 0);
}

static inline void vf_notify(struct vf *v, unsigned q)
{
	vf_common_write(v, queue_select, q);
	uint32_t off = (uint32_t)vf_common_read(v, queue_notify_off);
	vf_bar_access(v, v->notify + off * v->notify_mult, q, 2, true);
}

/* The common configuration's fields: (offset, width), for writes that hit a field whole. */
static const uint8_t vf_fields[][2] = {
	{ VF_COMMON(device_feature_select), 4 }, { VF_COMMON(device_feature), 4 },
	{ VF_COMMON(guest_feature_select), 4 }, { VF_COMMON(guest_feature), 4 },
	{ VF_COMMON(msix_config), 2 }, { VF_COMMON(num_queues), 2 },
	{ VF_COMMON(device_status), 1 }, { VF_COMMON(config_generation), 1 },
	{ VF_COMMON(queue_select), 2 }, { VF_COMMON(queue_size), 2 },
	{ VF_COMMON(queue_msix_vector), 2 }, { VF_COMMON(queue_enable), 2 },
	{ VF_COMMON(queue_notify_off), 2 }, { VF_COMMON(queue_desc_lo), 8 },
	{ VF_COMMON(queue_avail_lo), 8 }, { VF_COMMON(queue_used_lo), 8 },
};

/* Device-specific operations (a frame from the host, say): the target's, or NULL. */
typedef void (*vf_device_op)(struct vf *v, struct fz *f);

/* Runs the input's program; the caller then calls vf_finish. */
static inline void vf_run(struct vf *v, struct fz *f, vf_device_op device_op)
{
	while (fz_more(f)) {
		uint8_t op = fz_u8(f);
		switch (op % 13) {
		case 0: {       /* configuration write: any offset of the 4 KiB, aligned */
			uint32_t len = 1u << (fz_u8(f) % 3), off = fz_u16(f) & 0xfff & ~(len - 1);
			uint32_t val = fz_u32(f);
			pci_config_access(&v->pci, VF_SLOT, off, (uint8_t *)&val, len, true);
			break;
		}
		case 1: {
			uint32_t len = 1u << (fz_u8(f) % 3), off = fz_u16(f) & 0xfff & ~(len - 1);
			vf_cfg_read(v, off, len);
			break;
		}
		case 2: {       /* BAR 0 write: any offset, any width (the bus splits nothing) */
			uint32_t len = fz_width(f);
			uint64_t off = fz_u16(f);
			vf_bar_access(v, off, fz_u64(f), len, true);
			break;
		}
		case 3: {
			uint32_t len = fz_width(f);
			vf_bar_access(v, fz_u16(f), 0, len, false);
			break;
		}
		case 4: {       /* a common configuration field, written whole */
			const uint8_t *fl = vf_fields[fz_u8(f) % (sizeof(vf_fields) / sizeof(vf_fields[0]))];
			vf_bar_access(v, v->common + fl[0], fz_u64(f), fl[1], true);
			break;
		}
		case 5: {       /* the device configuration */
			uint32_t len = fz_width(f);
			uint64_t off = v->device + fz_u8(f), val = fz_u64(f);
			vf_bar_access(v, off, val, len, fz_u8(f) & 1);
			break;
		}
		case 6: {       /* the guest stores into rings or buffers */
			uint64_t at = VF_RINGS + fz_u32(f) % VF_WINDOW;
			const uint8_t *bytes;
			size_t len = fz_take(f, fz_u8(f), &bytes);
			if (len)
				memcpy(gpa_to_hva(&v->mem, at, len), bytes, len);
			break;
		}
		case 7: {       /* a descriptor: addr in the buffers (or anywhere), len, flags, next */
			unsigned q = fz_u8(f) % VIRTIO_MAX_QUEUES;
			uint16_t size = v->qsize[q] ? v->qsize[q] : 1;
			unsigned i = fz_u8(f) % size;
			struct vring_desc d;
			uint32_t where = fz_u32(f);
			d.addr = where & 0x80000000u ? fz_u64(f) : VF_BUFFERS + (where & 0xfffff);
			d.len = fz_u32(f);
			d.flags = fz_u16(f);
			d.next = fz_u16(f);
			memcpy(gpa_to_hva(&v->mem, VF_RINGS + q * 0x1000ULL + i * sizeof(d), sizeof(d)),
			       &d, sizeof(d));
			break;
		}
		case 8: {       /* make a chain available and ring the doorbell */
			unsigned q = fz_u8(f) % VIRTIO_MAX_QUEUES;
			uint16_t head = fz_u16(f);
			uint16_t size = v->qsize[q];
			if (!size)
				break;
			struct vring_avail *avail = gpa_to_hva(&v->mem, VF_RINGS + q * 0x1000ULL + VF_AVAIL,
							       sizeof(*avail) + 2u * size);
			avail->ring[v->avail_idx[q] % size] = head;
			avail->idx = ++v->avail_idx[q];
			vf_notify(v, q);
			break;
		}
		case 9:         /* a doorbell alone */
			vf_notify(v, fz_u8(f) % VIRTIO_MAX_QUEUES);
			break;
		case 10:
			vf_poll(v, fz_u8(f) & 1);
			vf_check_queues(v);
			break;
		case 11:
			vf_bring_up(v, f);
			break;
		case 12:
			if (device_op)
				device_op(v, f);
			break;
		}
	}
}

/* What every input ends with: the work done, the invariants, a reset that completes. */
static inline void vf_finish(struct vf *v)
{
	vf_poll(v, 1);
	vf_check_queues(v);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		if (v->qsize[q])
			FZ_DEBUG("queue %u: %u used of %u made available%s\n", q,
				 v->dev->queue[q].vq.used_idx, v->avail_idx[q],
				 v->dev->queue[q].vq.broken ? " (broken)" : "");
	FZ_DEBUG("device status 0x%x\n", (unsigned)vf_common_read(v, device_status));
	vf_reset(v);
}

static inline void vf_fini(struct vf *v)
{
	loop_cancel_all(&v->loop, 1000);
	loop_destroy(&v->loop);
	pci_bus_destroy(&v->pci);
	virtio_pci_destroy(&v->vp);
	for (unsigned i = 0; i < 2; i++)
		virtio_pci_destroy(&v->extra[i]);
	bus_destroy(&v->pio);
	bus_destroy(&v->mmio);
	guest_memory_destroy(&v->mem);
}

#endif
