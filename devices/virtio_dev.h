/*
 * A virtio device whatever its transport: status and feature negotiation, the
 * queues with one ioeventfd doorbell each read by that queue's I/O thread (each
 * queue has one, which runs all of its work), the interrupt status, the config
 * generation, and an asynchronous reset that completes (status reads 0) once every
 * queue's thread has dropped its part of the old session. A transport (virtio_pci,
 * virtio_mmio) maps registers onto it and says how an interrupt reaches the guest.
 */
#ifndef RINGVM_VIRTIO_DEV_H
#define RINGVM_VIRTIO_DEV_H

#include <pthread.h>
#include <stdatomic.h>

#include "devices/virtio.h"
#include "irq/ioeventfd.h"
#include "services/loop.h"
#include "services/memory.h"

/* Interrupt status bits: the same in PCI's ISR and MMIO's InterruptStatus. */
#define VIRTIO_ISR_QUEUE    1
#define VIRTIO_ISR_CONFIG   2

/* The most device configuration a model may declare: what every transport has room for. */
#define VIRTIO_CONFIG_MAX   0x100

/* What a device did, whatever its model; relaxed atomics, from whichever thread does it. */
struct virtio_dev_counters {
	uint64_t interrupts_queue;  /* used-buffer interrupts sent to the driver */
	uint64_t interrupts_config; /* configuration-change interrupts, NEEDS_RESET's included */
	uint64_t broken_queues;     /* times the driver broke the device (NEEDS_RESET set) */
	uint64_t resets;            /* device resets the driver started */
	uint64_t doorbells;         /* queue notifications, through KVM's eventfd or trapped */
};

/* Adds n to one counter of any counters struct: several threads, no lock. */
#define VIRTIO_COUNT(field, n) __atomic_fetch_add(&(field), (uint64_t)(n), __ATOMIC_RELAXED)

struct virtio_transport_ops {
	/* Queue q has used buffers (isr has VIRTIO_ISR_QUEUE); via: the caller's loop or NULL. */
	void (*notify_queue)(void *t, unsigned q, struct loop *via);
	/* The configuration changed or the device needs a reset (isr has VIRTIO_ISR_CONFIG). */
	void (*notify_config)(void *t);
	/* With the device's lock held: the device reset; forget the transport's session state. */
	void (*reset)(void *t);
};

struct virtio_queue {
	uint16_t size, enable;
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
	struct virtio_dev *dev;
};

struct virtio_dev {
	struct virtio_device_info info;
	const struct virtio_device_ops *ops;
	void *impl;
	struct guest_memory *mem;
	int vm_fd;
	const struct virtio_transport_ops *tops;   /* NULL until a transport attaches */
	void *transport;

	pthread_mutex_t lock;       /* the registers; vCPU threads */
	uint32_t device_feature_select, driver_feature_select;
	uint64_t driver_features;
	uint16_t queue_select;
	uint8_t status;
	_Atomic uint32_t config_generation;
	bool resetting;             /* a reset is under way: status still reads non-zero */
	_Atomic bool active;        /* DRIVER_OK accepted: the I/O thread owns the queues */
	_Atomic uint8_t isr;        /* VIRTIO_ISR_* */
	struct virtio_queue queue[VIRTIO_MAX_QUEUES];
	_Atomic unsigned resets_left;   /* queues whose threads have not finished the reset */
	unsigned log_budget;        /* guest-caused messages left: the log cannot be flooded */
	struct virtio_dev_counters counters;
};

/* Builds the device for a model, queue i on loops[i % nr_loops]; a transport attaches next. */
int virtio_dev_init(struct virtio_dev *dev, const struct virtio_device_info *info,
		    const struct virtio_device_ops *ops, void *impl, struct guest_memory *mem,
		    struct loop *const *loops, unsigned nr_loops, int vm_fd);

/* Releases the doorbells; the queues' I/O threads must have stopped. */
void virtio_dev_destroy(struct virtio_dev *dev);

/* A transport takes the device: its interrupts go through ops with t. */
void virtio_dev_attach(struct virtio_dev *dev, const struct virtio_transport_ops *ops, void *t);

/* The features offered: the model's, VERSION_1 and the ring features. */
uint64_t virtio_dev_offered(const struct virtio_dev *dev);

/* Lock held: the queue selected, or NULL when queue_select names none. */
struct virtio_queue *virtio_dev_selected(struct virtio_dev *dev);

/* Lock held: word sel of the features offered / the driver's (0 past the second). */
uint32_t virtio_dev_device_features(const struct virtio_dev *dev, uint32_t sel);
uint32_t virtio_dev_driver_features(const struct virtio_dev *dev, uint32_t sel);

/* Lock held: the driver writes word sel of its features (ignored once FEATURES_OK). */
void virtio_dev_set_driver_features(struct virtio_dev *dev, uint32_t sel, uint32_t v);

/* Lock held: whether the queue layout may change (before DRIVER_OK, not while resetting). */
bool virtio_dev_queue_writable(const struct virtio_dev *dev);

/* Lock held: the driver writes the device status (0: reset, asynchronous). */
void virtio_dev_write_status(struct virtio_dev *dev, uint8_t value);

/* A doorbell for queue q that trapped instead of reaching its eventfd. */
void virtio_dev_kick(struct virtio_dev *dev, unsigned q);

/* Points queue q's doorbell at a write of len bytes to addr (of value data if match). */
int virtio_dev_doorbell(struct virtio_dev *dev, unsigned q, uint64_t addr, uint32_t len,
			bool match, uint64_t data);

/* Removes every queue's doorbell from KVM. */
void virtio_dev_doorbells_off(struct virtio_dev *dev);

/* A snapshot of the device's counters, each read with a relaxed load. */
void virtio_dev_counters(const struct virtio_dev *dev, struct virtio_dev_counters *out);

/* Copies a counters struct made only of uint64_t (size bytes), each field a relaxed load. */
void virtio_counters_snapshot(void *out, const void *counters, size_t size);

/* Device-specific configuration at offset (bounded by config_size, at most 8 bytes). */
void virtio_dev_config_access(struct virtio_dev *dev, uint32_t offset, uint8_t *data, uint32_t len,
			      bool is_write);

#endif
