/*
 * The virtio-mmio transport (virtio 1.2 4.2, version 2 registers) for a virtio
 * device: a register window on the MMIO bus, each queue's doorbell an ioeventfd on
 * QueueNotify matching its index, and one level-triggered IOAPIC pin held while
 * InterruptStatus is non-zero.
 */
#ifndef RINGVM_VIRTIO_MMIO_H
#define RINGVM_VIRTIO_MMIO_H

#include <pthread.h>

#include "devices/virtio_dev.h"
#include "irq/irq.h"
#include "services/bus.h"
#include "services/error.h"

/* The register window: registers to 0x100, then the device configuration (4.2.2). */
#define VIRTIO_MMIO_WINDOW  (0x100 + VIRTIO_CONFIG_MAX)

struct virtio_mmio {
	struct virtio_dev *dev;
	uint64_t base;
	uint32_t gsi;
	struct irq_source irq;
	bool irq_ready;
	pthread_mutex_t irq_lock;   /* InterruptStatus and the line move together */
	struct bus *bus;            /* where the window is registered, once it is */
	unsigned log_budget;        /* bad register accesses the log still reports */
};

/* Drives dev through a window at base on bus and interrupt pin gsi of chip. */
int virtio_mmio_init(struct virtio_mmio *mm, struct virtio_dev *dev, struct bus *bus, uint64_t base,
		     struct irq_chip *chip, uint32_t gsi, struct error *err);

/* Removes the window, the doorbells and the pin; the device's I/O threads must have stopped. */
void virtio_mmio_destroy(struct virtio_mmio *mm);

/* The window's access function (what the bus calls; tests call it directly). */
void virtio_mmio_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

#endif
