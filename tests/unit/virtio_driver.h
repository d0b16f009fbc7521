/*
 * A minimal virtio driver for unit tests: it reaches a device model only the way a
 * guest would (PCI: configuration cycles, BAR accesses; MMIO: the register window;
 * rings in guest memory), and runs the device's io_uring loop itself, so no KVM is
 * involved. The transport is PCI, or virtio-mmio where the test is built with TD_MMIO
 * (the same tests run on both) or sets rig->transport before rig_plug.
 */
#ifndef RINGVM_TEST_VIRTIO_DRIVER_H
#define RINGVM_TEST_VIRTIO_DRIVER_H

/* A plain program (tests/tsan) defines TD_PLAIN_ASSERTS and the cr_assert* used here. */
#ifndef TD_PLAIN_ASSERTS
#include <criterion/criterion.h>
#endif
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "abi/address_map.h"
#include "abi/virtio.h"
#include "devices/pci.h"
#include "devices/virtio_mmio.h"
#include "devices/virtio_pci.h"
#include "services/bus.h"
#include "services/loop.h"

#define TD_SLOT      1                  /* where pci_bus_plug puts the first device */
#define TD_QSIZE     16
#define TD_RINGS     0x100000ULL        /* per queue: 4 KiB of rings */
#define TD_AVAIL     0x400              /* the rings' places in those 4 KiB */
#define TD_USED      0x800
#define TD_BUFFERS   0x200000ULL
#define TD_DEADLINE_MS 10000            /* an fdatasync on a busy host takes what it takes */
#define TD_MMIO_BASE AM_VIRTIO_MMIO_BASE   /* the first slot, as the machine places it */
#define TD_MMIO_GSI  AM_VIRTIO_MMIO_FIRST_IRQ
#define TD_RUNNING   (VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | \
		      VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK)

/* What the driver found through the device's capabilities: BAR 0 and where each structure is. */
struct td_layout {
	bool found;
	uint64_t bar;
	uint32_t common, isr, device, notify;   /* offsets in BAR 0 */
	uint32_t notify_mult;
};

enum td_transport { TD_PCI, TD_MMIO_TRANSPORT };

struct test_rig {
	enum td_transport transport;
	struct virtio_pci vp;
	struct virtio_mmio mm;
	struct guest_memory mem;
	struct bus pio, mmio;
	struct pci_bus pci;
	struct loop loop;
	struct irq_chip chip;
	struct td_layout at;
	uint32_t notify_off[VIRTIO_MAX_QUEUES];
	uint16_t avail_idx[VIRTIO_MAX_QUEUES];
	uint16_t used_seen[VIRTIO_MAX_QUEUES];
	unsigned next_desc[VIRTIO_MAX_QUEUES];
};

static inline void rig_init(struct test_rig *rig, uint64_t ram)
{
	struct error err = { 0 };
	memset(rig, 0, sizeof(*rig));
	cr_assert_eq(guest_memory_create(&rig->mem, ram, &err), 0, "%s", err.msg);
	bus_init(&rig->pio, "pio");
	bus_init(&rig->mmio, "mmio");
	pci_bus_init(&rig->pci, &rig->pio, &rig->mmio, NULL, NULL);
	cr_assert_eq(loop_init(&rig->loop, 64, &err), 0, "%s", err.msg);
	loop_start(&rig->loop);
	/* No KVM: MSI injection fails quietly, which the tests do not rely on. */
	rig->chip = (struct irq_chip){ .vm_fd = -1, .mode = IRQCHIP_KERNEL, .path = IRQ_PATH_MSI };
#ifdef TD_MMIO
	rig->transport = TD_MMIO_TRANSPORT;
#endif
}

/* Attaches dev through the rig's transport: a PCI slot, or the first virtio-mmio slot. */
static inline void rig_plug(struct test_rig *rig, struct virtio_dev *dev)
{
	struct error err = { 0 };
	if (rig->transport == TD_MMIO_TRANSPORT) {
		cr_assert_eq(virtio_mmio_init(&rig->mm, dev, &rig->mmio, TD_MMIO_BASE, &rig->chip, TD_MMIO_GSI,
					      &err), 0, "%s", err.msg);
		return;
	}
	cr_assert_eq(virtio_pci_init(&rig->vp, dev, &rig->chip), 0);
	cr_assert_eq(pci_bus_plug(&rig->pci, &rig->vp.pci), 0);
}

static inline void rig_fini(struct test_rig *rig)
{
	loop_cancel_all(&rig->loop, 1000);
	loop_destroy(&rig->loop);
	pci_bus_destroy(&rig->pci);
	virtio_pci_destroy(&rig->vp);
	virtio_mmio_destroy(&rig->mm);
	bus_destroy(&rig->pio);
	bus_destroy(&rig->mmio);
	guest_memory_destroy(&rig->mem);
}

static inline void *gpa(struct test_rig *rig, uint64_t addr, uint64_t len)
{
	void *p = gpa_to_hva(&rig->mem, addr, len);
	cr_assert_not_null(p);
	return p;
}

static inline uint32_t cfg_read(struct test_rig *rig, uint32_t off, uint32_t len)
{
	uint32_t v = 0;
	pci_config_access(&rig->pci, TD_SLOT, off, (uint8_t *)&v, len, false);
	return v;
}

/* Walks the capability list as a guest driver would (virtio 1.2, 4.1.4), once. */
static inline const struct td_layout *rig_layout(struct test_rig *rig)
{
	struct td_layout *at = &rig->at;
	bool common = false, isr = false, notify = false;

	if (at->found)
		return at;
	cr_assert(cfg_read(rig, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST, "no capability list");
	at->bar = cfg_read(rig, PCI_BASE_ADDRESS_0, 4) & PCI_BASE_ADDRESS_MEM_MASK;
	for (uint32_t cap = cfg_read(rig, PCI_CAPABILITY_LIST, 1); cap;
	     cap = cfg_read(rig, cap + PCI_CAP_LIST_NEXT, 1)) {
		if (cfg_read(rig, cap + PCI_CAP_LIST_ID, 1) != PCI_CAP_ID_VNDR)
			continue;
		uint32_t type = cfg_read(rig, cap + offsetof(struct virtio_pci_cap, cfg_type), 1);
		uint32_t off = cfg_read(rig, cap + offsetof(struct virtio_pci_cap, offset), 4);
		if (type == VIRTIO_PCI_CAP_PCI_CFG)
			continue;       /* its window is the driver's to aim */
		cr_assert_eq(cfg_read(rig, cap + offsetof(struct virtio_pci_cap, bar), 1), 0,
			     "structure %u outside BAR 0", type);
		if (type == VIRTIO_PCI_CAP_COMMON_CFG) {
			at->common = off;
			common = true;
		} else if (type == VIRTIO_PCI_CAP_ISR_CFG) {
			at->isr = off;
			isr = true;
		} else if (type == VIRTIO_PCI_CAP_DEVICE_CFG) {
			at->device = off;
		} else if (type == VIRTIO_PCI_CAP_NOTIFY_CFG) {
			at->notify = off;
			at->notify_mult = cfg_read(rig, cap + offsetof(struct virtio_pci_notify_cap,
									notify_off_multiplier), 4);
			notify = true;
		}
	}
	cr_assert(common && isr && notify, "virtio capabilities missing");
	at->found = true;
	return at;
}

static inline uint64_t bar_read(struct test_rig *rig, uint64_t off, uint32_t len)
{
	uint64_t v = 0;
	cr_assert(bus_dispatch(&rig->mmio, rig_layout(rig)->bar + off, (uint8_t *)&v, len, false),
		  "BAR read 0x%llx", (unsigned long long)off);
	return v;
}

static inline void bar_write(struct test_rig *rig, uint64_t off, uint64_t v, uint32_t len)
{
	cr_assert(bus_dispatch(&rig->mmio, rig_layout(rig)->bar + off, (uint8_t *)&v, len, true));
}

/* A common configuration field, accessed with the width it has in the kernel's struct. */
#define TD_COMMON(field) offsetof(struct virtio_pci_common_cfg, field)
#define TD_WIDTH(field)  sizeof(((struct virtio_pci_common_cfg *)0)->field)
#define common_read(rig, field) \
	bar_read(rig, rig_layout(rig)->common + TD_COMMON(field), TD_WIDTH(field))
#define common_write(rig, field, v) \
	bar_write(rig, rig_layout(rig)->common + TD_COMMON(field), v, TD_WIDTH(field))

/* A virtio-mmio register (VIRTIO_MMIO_*), with the 32-bit access the driver must use. */
static inline uint32_t mmio_read(struct test_rig *rig, uint32_t off)
{
	uint32_t v = 0;
	cr_assert(bus_dispatch(&rig->mmio, TD_MMIO_BASE + off, (uint8_t *)&v, 4, false),
		  "MMIO read 0x%x", off);
	return v;
}

static inline void mmio_write(struct test_rig *rig, uint32_t off, uint32_t v)
{
	cr_assert(bus_dispatch(&rig->mmio, TD_MMIO_BASE + off, (uint8_t *)&v, 4, true));
}

static inline bool rig_mmio(const struct test_rig *rig)
{
	return rig->transport == TD_MMIO_TRANSPORT;
}

/* len bytes of the device configuration at offset (offsetof a uapi virtio_*_config). */
static inline uint64_t config_read(struct test_rig *rig, size_t offset, uint32_t len)
{
	if (rig_mmio(rig)) {
		uint64_t v = 0;
		cr_assert(bus_dispatch(&rig->mmio, TD_MMIO_BASE + VIRTIO_MMIO_CONFIG + offset, (uint8_t *)&v,
				       len, false));
		return v;
	}
	return bar_read(rig, rig_layout(rig)->device + offset, len);
}

/* The interrupt status, acknowledged: PCI's ISR read clears it, MMIO's InterruptACK does. */
static inline uint8_t take_isr(struct test_rig *rig)
{
	if (rig_mmio(rig)) {
		uint32_t v = mmio_read(rig, VIRTIO_MMIO_INTERRUPT_STATUS);
		mmio_write(rig, VIRTIO_MMIO_INTERRUPT_ACK, v);
		return (uint8_t)v;
	}
	return (uint8_t)bar_read(rig, rig_layout(rig)->isr, 1);
}

/* The configuration generation (PCI's is a byte). */
static inline uint32_t config_generation(struct test_rig *rig)
{
	if (rig_mmio(rig))
		return mmio_read(rig, VIRTIO_MMIO_CONFIG_GENERATION);
	return (uint32_t)common_read(rig, config_generation);
}

/* Runs the loop until nothing more completes for a moment. */
static inline void rig_settle(struct test_rig *rig)
{
	while (loop_poll(&rig->loop, 50) > 0)
		;
}

static inline int64_t rig_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Runs the loop once, briefly; fails the test, naming what, once deadline (rig_now_ms)
 * has passed. Waiting for a named event rather than for a quiet moment: a quiet
 * moment says nothing about an operation the host is slow to finish.
 */
static inline void rig_poll_until(struct test_rig *rig, int64_t deadline, const char *what)
{
	cr_assert_lt(rig_now_ms(), deadline, "%s: not within %d ms", what, TD_DEADLINE_MS);
	cr_assert_geq(loop_poll(&rig->loop, 10), 0, "the loop failed");
}

static inline uint64_t device_features(struct test_rig *rig)
{
	if (rig_mmio(rig)) {
		mmio_write(rig, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
		uint64_t lo = mmio_read(rig, VIRTIO_MMIO_DEVICE_FEATURES);
		mmio_write(rig, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
		return lo | (uint64_t)mmio_read(rig, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	}
	common_write(rig, device_feature_select, 0);
	uint64_t lo = common_read(rig, device_feature);
	common_write(rig, device_feature_select, 1);
	return lo | common_read(rig, device_feature) << 32;
}

static inline void driver_features(struct test_rig *rig, uint64_t features)
{
	if (rig_mmio(rig)) {
		mmio_write(rig, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
		mmio_write(rig, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
		mmio_write(rig, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
		mmio_write(rig, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
		return;
	}
	common_write(rig, guest_feature_select, 0);
	common_write(rig, guest_feature, (uint32_t)features);
	common_write(rig, guest_feature_select, 1);
	common_write(rig, guest_feature, (uint32_t)(features >> 32));
}

static inline uint8_t device_status(struct test_rig *rig)
{
	if (rig_mmio(rig))
		return (uint8_t)mmio_read(rig, VIRTIO_MMIO_STATUS);
	return (uint8_t)common_read(rig, device_status);
}

static inline void set_status(struct test_rig *rig, uint8_t status)
{
	if (rig_mmio(rig)) {
		mmio_write(rig, VIRTIO_MMIO_STATUS, status);
		return;
	}
	common_write(rig, device_status, status);
}

/*
 * On a device already reset: ACKNOWLEDGE, DRIVER, features, FEATURES_OK; returns whether
 * the device kept FEATURES_OK. For callers that cannot poll the loop for the reset.
 */
static inline bool offer_features(struct test_rig *rig, uint64_t features)
{
	set_status(rig, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	set_status(rig, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	driver_features(rig, features);
	set_status(rig, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
			VIRTIO_CONFIG_S_FEATURES_OK);
	return device_status(rig) & VIRTIO_CONFIG_S_FEATURES_OK;
}

/* Resets the device, waiting for it, then offer_features. */
static inline bool negotiate(struct test_rig *rig, uint64_t features)
{
	set_status(rig, 0);
	/* A reset completes only when the requests in flight have. */
	int64_t deadline = rig_now_ms() + TD_DEADLINE_MS;
	while (device_status(rig) != 0)
		rig_poll_until(rig, deadline, "reset done");
	return offer_features(rig, features);
}

static inline uint64_t ring_base(unsigned q)
{
	return TD_RINGS + q * 0x1000;
}

/* Queue q's layout, and enables it. */
static inline void setup_queue_at(struct test_rig *rig, unsigned q, uint16_t size, uint64_t desc,
				  uint64_t avail, uint64_t used)
{
	if (rig_mmio(rig)) {
		mmio_write(rig, VIRTIO_MMIO_QUEUE_SEL, q);
		cr_assert_geq(mmio_read(rig, VIRTIO_MMIO_QUEUE_NUM_MAX), size, "queue %u's maximum", q);
		mmio_write(rig, VIRTIO_MMIO_QUEUE_NUM, size);
		mmio_write(rig, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
		mmio_write(rig, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
		mmio_write(rig, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)avail);
		mmio_write(rig, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)(avail >> 32));
		mmio_write(rig, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)used);
		mmio_write(rig, VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)(used >> 32));
		mmio_write(rig, VIRTIO_MMIO_QUEUE_READY, 1);
		return;
	}
	common_write(rig, queue_select, q);
	common_write(rig, queue_size, size);
	/* The 64-bit addresses in one access each, as a driver may (4.1.3.1). */
	bar_write(rig, rig_layout(rig)->common + TD_COMMON(queue_desc_lo), desc, 8);
	bar_write(rig, rig->at.common + TD_COMMON(queue_avail_lo), avail, 8);
	bar_write(rig, rig->at.common + TD_COMMON(queue_used_lo), used, 8);
	rig->notify_off[q] = (uint32_t)common_read(rig, queue_notify_off);
	common_write(rig, queue_enable, 1);
}

static inline void setup_queue(struct test_rig *rig, unsigned q)
{
	setup_queue_at(rig, q, TD_QSIZE, ring_base(q), ring_base(q) + TD_AVAIL, ring_base(q) + TD_USED);
	memset(gpa(rig, ring_base(q), 0x1000), 0, 0x1000);
	rig->avail_idx[q] = rig->used_seen[q] = 0;
	rig->next_desc[q] = 0;
}

static inline void driver_ok(struct test_rig *rig)
{
	set_status(rig, TD_RUNNING);
	rig_settle(rig);
}

/* Adds descriptor (addr, len, writable) to the chain being built on q; returns its index. */
static inline uint16_t add_desc(struct test_rig *rig, unsigned q, uint64_t addr, uint32_t len,
				bool writable, bool more)
{
	uint16_t i = (uint16_t)(rig->next_desc[q]++ % TD_QSIZE);
	struct vring_desc *d = gpa(rig, ring_base(q) + sizeof(*d) * i, sizeof(*d));
	*d = (struct vring_desc){ addr, len,
				  (uint16_t)((writable ? VRING_DESC_F_WRITE : 0) | (more ? VRING_DESC_F_NEXT : 0)),
				  (uint16_t)((i + 1) % TD_QSIZE) };
	return i;
}

static inline struct vring_avail *avail_ring(struct test_rig *rig, unsigned q)
{
	return gpa(rig, ring_base(q) + TD_AVAIL,
		   sizeof(struct vring_avail) + sizeof(__virtio16) * TD_QSIZE);
}

/* Writes q's doorbell: a trapped write here, no ioeventfd. */
static inline void notify(struct test_rig *rig, unsigned q)
{
	if (rig_mmio(rig)) {
		mmio_write(rig, VIRTIO_MMIO_QUEUE_NOTIFY, q);
		return;
	}
	bar_write(rig, rig->at.notify + rig->notify_off[q] * rig->at.notify_mult, q, 2);
}

/* Makes head available on q and rings the doorbell (a trapped write: no ioeventfd here). */
static inline void kick(struct test_rig *rig, unsigned q, uint16_t head)
{
	struct vring_avail *avail = avail_ring(rig, q);
	avail->ring[rig->avail_idx[q] % TD_QSIZE] = head;
	/* Release: the chain before the index, for a device on another thread. */
	__atomic_store_n(&avail->idx, ++rig->avail_idx[q], __ATOMIC_RELEASE);
	notify(rig, q);
	rig_settle(rig);
}

/* The next used element of q, waited for: its length; fails the test if none comes in time. */
static inline uint32_t take_used(struct test_rig *rig, unsigned q, uint16_t *head)
{
	volatile struct vring_used *used = gpa(rig, ring_base(q) + TD_USED,
					       sizeof(struct vring_used) +
					       sizeof(struct vring_used_elem) * TD_QSIZE);
	int64_t deadline = rig_now_ms() + TD_DEADLINE_MS;
	char what[32];
	snprintf(what, sizeof(what), "queue %u: a used element", q);
	/* Acquire: the element and the buffers are the device's (another thread's) until then. */
	while (__atomic_load_n(&used->idx, __ATOMIC_ACQUIRE) == rig->used_seen[q])
		rig_poll_until(rig, deadline, what);
	volatile struct vring_used_elem *elem = &used->ring[rig->used_seen[q]++ % TD_QSIZE];
	if (head)
		*head = (uint16_t)elem->id;
	return elem->len;
}

#endif
