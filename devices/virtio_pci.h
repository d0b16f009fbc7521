/*
 * The virtio 1.x PCI transport (modern only): capabilities for the common, notify,
 * ISR and device configuration structures in BAR 0, MSI-X, one ioeventfd doorbell
 * per queue read by that queue's I/O thread (each queue has one, which runs all of
 * its work), and an asynchronous reset that completes (device_status reads 0) once
 * every queue's thread has dropped its part of the old session.
 */
#ifndef RINGVM_VIRTIO_PCI_H
#define RINGVM_VIRTIO_PCI_H

#include <pthread.h>
#include <stdatomic.h>

#include "devices/msix.h"
#include "devices/pci.h"
#include "devices/virtio.h"
#include "irq/ioeventfd.h"
#include "irq/irq.h"
#include "services/loop.h"
#include "services/memory.h"

struct virtio_pci_queue {
	uint16_t size, msix_vector, enable;
	uint64_t desc, driver, device;
	struct virtq vq;
	int notify_fd;
	struct ioeventfd ioev;
	struct loop_op notify_op;
	uint64_t notify_count;
	bool notify_armed;
	struct loop_work kick;      /* a doorbell that reached us through a trapped write */
	struct loop_work activate_work, reset_work;
	struct loop *loop;          /* the I/O thread that runs this queue */
	unsigned index;
	struct virtio_pci *vp;
};

struct virtio_pci {
	struct pci_device pci;
	struct msix msix;
	struct virtio_device_info info;
	const struct virtio_device_ops *ops;
	void *impl;
	struct guest_memory *mem;
	int vm_fd;

	pthread_mutex_t lock;       /* the common configuration; vCPU threads */
	uint32_t device_feature_select, driver_feature_select;
	uint64_t driver_features;
	uint16_t config_msix_vector, queue_select;
	uint8_t status;
	uint8_t config_generation;
	bool resetting;             /* a reset is under way: device_status still reads non-zero */
	_Atomic bool active;        /* DRIVER_OK accepted: the I/O thread owns the queues */
	_Atomic uint8_t isr;
	uint64_t bar_addr;
	bool bar_mapped;
	struct virtio_pci_queue queue[VIRTIO_MAX_QUEUES];
	_Atomic unsigned resets_left;   /* queues whose threads have not finished the reset */
	unsigned log_budget;        /* guest-caused messages left: the log cannot be flooded */
};

/* Builds the PCI function for a device model, queue i on loops[i % nr_loops]; plug it afterwards. */
int virtio_pci_init(struct virtio_pci *vp, const struct virtio_device_info *info,
		    const struct virtio_device_ops *ops, void *impl, struct guest_memory *mem,
		    struct irq_chip *chip, struct loop *const *loops, unsigned nr_loops, int vm_fd);

/* Releases eventfds and vectors; the queues' I/O threads must have stopped. */
void virtio_pci_destroy(struct virtio_pci *vp);

/* Any thread: the device's configuration changed (a new generation, and the config interrupt). */
void virtio_pci_config_changed(struct virtio_pci *vp);

#endif
