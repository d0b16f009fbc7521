/*
 * A minimal virtio-pci driver for unit tests: it reaches a device model only the
 * way a guest would (configuration cycles, BAR accesses, rings in guest memory),
 * and runs the device's io_uring loop itself, so no KVM is involved.
 */
#ifndef RINGVM_TEST_VIRTIO_DRIVER_H
#define RINGVM_TEST_VIRTIO_DRIVER_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "devices/pci.h"
#include "devices/virtio_pci.h"
#include "services/bus.h"
#include "services/loop.h"

#define TD_BAR       0xc0000000ULL      /* where pci_bus_plug puts the first BAR */
#define TD_QSIZE     16
#define TD_RINGS     0x100000ULL        /* per queue: 4 KiB of rings */
#define TD_BUFFERS   0x200000ULL
#define TD_DEADLINE_MS 10000            /* an fdatasync on a busy host takes what it takes */

struct test_rig {
	struct guest_memory mem;
	struct bus pio, mmio;
	struct pci_bus pci;
	struct loop loop;
	struct irq_chip chip;
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
}

static inline void rig_fini(struct test_rig *rig)
{
	loop_cancel_all(&rig->loop, 1000);
	loop_destroy(&rig->loop);
	pci_bus_destroy(&rig->pci);
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

static inline uint64_t bar_read(struct test_rig *rig, uint64_t off, uint32_t len)
{
	uint64_t v = 0;
	cr_assert(bus_dispatch(&rig->mmio, TD_BAR + off, (uint8_t *)&v, len, false), "BAR read 0x%llx",
		  (unsigned long long)off);
	return v;
}

static inline void bar_write(struct test_rig *rig, uint64_t off, uint64_t v, uint32_t len)
{
	cr_assert(bus_dispatch(&rig->mmio, TD_BAR + off, (uint8_t *)&v, len, true));
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
	bar_write(rig, 0x00, 0, 4);
	uint64_t lo = bar_read(rig, 0x04, 4);
	bar_write(rig, 0x00, 1, 4);
	return lo | bar_read(rig, 0x04, 4) << 32;
}

/* ACKNOWLEDGE, DRIVER, features, FEATURES_OK; returns whether the device kept FEATURES_OK. */
static inline bool negotiate(struct test_rig *rig, uint64_t features)
{
	bar_write(rig, 0x14, 0, 1);
	/* A reset completes only when the requests in flight have. */
	int64_t deadline = rig_now_ms() + TD_DEADLINE_MS;
	while (bar_read(rig, 0x14, 1) != 0)
		rig_poll_until(rig, deadline, "reset done");
	bar_write(rig, 0x14, 1, 1);
	bar_write(rig, 0x14, 3, 1);
	bar_write(rig, 0x08, 0, 4);
	bar_write(rig, 0x0c, (uint32_t)features, 4);
	bar_write(rig, 0x08, 1, 4);
	bar_write(rig, 0x0c, (uint32_t)(features >> 32), 4);
	bar_write(rig, 0x14, 0xb, 1);
	return bar_read(rig, 0x14, 1) & 8;
}

static inline uint64_t ring_base(unsigned q)
{
	return TD_RINGS + q * 0x1000;
}

static inline void setup_queue(struct test_rig *rig, unsigned q)
{
	bar_write(rig, 0x16, q, 2);
	bar_write(rig, 0x18, TD_QSIZE, 2);
	bar_write(rig, 0x20, ring_base(q), 8);
	bar_write(rig, 0x28, ring_base(q) + 0x400, 8);
	bar_write(rig, 0x30, ring_base(q) + 0x800, 8);
	bar_write(rig, 0x1c, 1, 2);
	memset(gpa(rig, ring_base(q), 0x1000), 0, 0x1000);
	rig->avail_idx[q] = rig->used_seen[q] = 0;
	rig->next_desc[q] = 0;
}

static inline void driver_ok(struct test_rig *rig)
{
	bar_write(rig, 0x14, 0xf, 1);
	rig_settle(rig);
}

/* Adds descriptor (addr, len, writable) to the chain being built on q; returns its index. */
static inline uint16_t add_desc(struct test_rig *rig, unsigned q, uint64_t addr, uint32_t len,
				bool writable, bool more)
{
	uint16_t i = (uint16_t)(rig->next_desc[q]++ % TD_QSIZE);
	struct virtq_desc *d = gpa(rig, ring_base(q) + 16 * i, 16);
	*d = (struct virtq_desc){ addr, len,
				  (uint16_t)((writable ? VIRTQ_DESC_F_WRITE : 0) | (more ? VIRTQ_DESC_F_NEXT : 0)),
				  (uint16_t)((i + 1) % TD_QSIZE) };
	return i;
}

/* Makes head available on q and rings the doorbell (a trapped write: no ioeventfd here). */
static inline void kick(struct test_rig *rig, unsigned q, uint16_t head)
{
	uint16_t *avail = gpa(rig, ring_base(q) + 0x400, 4 + 2 * TD_QSIZE);
	avail[2 + rig->avail_idx[q] % TD_QSIZE] = head;
	avail[1] = ++rig->avail_idx[q];
	bar_write(rig, 0x3000 + 4 * q, q, 2);
	rig_settle(rig);
}

/* The next used element of q, waited for: its length; fails the test if none comes in time. */
static inline uint32_t take_used(struct test_rig *rig, unsigned q, uint16_t *head)
{
	volatile uint16_t *used = gpa(rig, ring_base(q) + 0x800, 4 + 8 * TD_QSIZE);
	int64_t deadline = rig_now_ms() + TD_DEADLINE_MS;
	char what[32];
	snprintf(what, sizeof(what), "queue %u: a used element", q);
	while (used[1] == rig->used_seen[q])
		rig_poll_until(rig, deadline, what);
	volatile uint32_t *elem = (volatile uint32_t *)&used[2] + 2 * (rig->used_seen[q]++ % TD_QSIZE);
	if (head)
		*head = (uint16_t)elem[0];
	return elem[1];
}

static inline uint8_t device_status(struct test_rig *rig)
{
	return (uint8_t)bar_read(rig, 0x14, 1);
}

#endif
