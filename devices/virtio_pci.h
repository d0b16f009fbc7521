/*
 * The virtio 1.x PCI transport (modern only) for a virtio device: capabilities for
 * the common, notify, ISR and device configuration structures in BAR 0, MSI-X, and
 * each queue's doorbell on its own address in BAR 0 (an ioeventfd once mapped).
 */
#ifndef RINGVM_VIRTIO_PCI_H
#define RINGVM_VIRTIO_PCI_H

#include <stdatomic.h>

#include "devices/msix.h"
#include "devices/pci.h"
#include "devices/virtio_dev.h"
#include "irq/irq.h"

struct virtio_pci {
	struct pci_device pci;
	struct msix msix;
	struct virtio_dev *dev;
	_Atomic uint16_t config_vector;     /* MSI-X vectors the driver chose, or NO_VECTOR */
	_Atomic uint16_t queue_vector[VIRTIO_MAX_QUEUES];
	uint64_t bar_addr;
	bool bar_mapped;
};

/* Builds the PCI function for dev (which it drives from then on); plug vp->pci afterwards. */
int virtio_pci_init(struct virtio_pci *vp, struct virtio_dev *dev, struct irq_chip *chip);

/* Releases the doorbells and vectors; the device's queues' I/O threads must have stopped. */
void virtio_pci_destroy(struct virtio_pci *vp);

#endif
