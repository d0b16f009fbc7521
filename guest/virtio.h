/*
 * The virtio-pci modern transport (virtio 1.2, 4.1): the vendor capabilities
 * that locate the common, notify, ISR and device configuration, status and
 * feature negotiation, queue setup with one MSI-X vector per queue, reset.
 * Every register access is an exit, so a device is set up with as few as the
 * specification allows and the drivers poll memory, not registers. Devices on
 * virtio-mmio (4.2, version 2; the slots of abi/address_map.h) work the same
 * way through their register window, all queues on the slot's IOAPIC pin.
 */
#ifndef RINGVM_GUEST_VIRTIO_H
#define RINGVM_GUEST_VIRTIO_H

#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <stdbool.h>
#include <stdint.h>

#include "abi/virtio.h"
#include "layout.h"
#include "msix.h"
#include "pci.h"
#include "virtq.h"

#define VIRTIO_MAX_QUEUES 16    /* per device */

struct virtio_dev {
	const struct pci_func *pci;         /* NULL on virtio-mmio */
	uintptr_t mmio;                     /* virtio-mmio: the register window; 0 on PCI */
	unsigned mmio_pin;                  /* virtio-mmio: its IOAPIC pin */
	uintptr_t common, device, notify;   /* configuration structures, in BARs; device 0: none */
	uint32_t notify_multiplier;
	struct msix msix;
	uint64_t features;                  /* negotiated */
	uint16_t device_queues;             /* the device's num_queues */
	unsigned nr_queues;                 /* set up by virtio_start_queues() */
	uint8_t vector[VIRTIO_MAX_QUEUES + 1];  /* CPU vector per MSI-X entry; 0: configuration */
	struct virtq *vq[VIRTIO_MAX_QUEUES];    /* from a static pool, kept across resets */
};

/*
 * Interrupts each virtio vector took (index: vector - VEC_VIRTIO_FIRST) and
 * the TSC at the last one's entry; isr.S's handlers write them.
 */
extern volatile uint32_t virtio_irq_count[NR_VIRTIO_VECTORS];
extern volatile uint64_t virtio_irq_tsc;

/* The count of vector's interrupts so far. */
static inline uint32_t virtio_irqs(uint8_t vector)
{
	return virtio_irq_count[vector - VEC_VIRTIO_FIRST];
}

/*
 * Halts up to ns until vector's count moved from before; true if it did. A
 * completion seen before its waiter halted leaves the interrupt pending until
 * the CPU next halts (unmasking alone need not deliver it at once under
 * emulation), so this is how to check that an interrupt came.
 */
bool virtio_interrupt_seen(uint8_t vector, uint32_t before, uint64_t ns);

/* How many devices of type there are on either transport, counting up to max. */
unsigned virtio_count(uint16_t type, unsigned max);

/*
 * Finds the nth device of type (PCI functions first, then virtio-mmio slots) and
 * its transport's structures (and, on PCI, its MSI-X table); NULL or why not.
 */
const char *virtio_attach(struct virtio_dev *dev, uint16_t type, unsigned n);

/*
 * Resets dev and negotiates VERSION_1 plus whatever of wanted it offers, up
 * to FEATURES_OK; the driver may then read its configuration. NULL or why not.
 */
const char *virtio_negotiate(struct virtio_dev *dev, uint64_t wanted);

/*
 * Sets up the first nr_queues queues (up to VIRTQ_MAX_SIZE entries, an
 * MSI-X vector each) and sets DRIVER_OK. virtio_negotiate() and this again
 * re-initialize a device after a reset. NULL or why not.
 */
const char *virtio_start_queues(struct virtio_dev *dev, unsigned nr_queues);

/* Writes 0 to the status and waits until the device reads back reset. */
void virtio_reset(struct virtio_dev *dev);

/* The device status register. */
uint8_t virtio_status(const struct virtio_dev *dev);

/* Device-specific configuration reads (offset into it), 64 bits consistent across generations. */
uint8_t virtio_config8(const struct virtio_dev *dev, unsigned offset);
uint16_t virtio_config16(const struct virtio_dev *dev, unsigned offset);
uint32_t virtio_config32(const struct virtio_dev *dev, unsigned offset);
uint64_t virtio_config64(const struct virtio_dev *dev, unsigned offset);

#endif
