#include "devices/virtio_mmio.h"

#include <assert.h>
#include <errno.h>
#include <linux/virtio_mmio.h>
#include <string.h>

#include "abi/virtio.h"
#include "services/log.h"

#define MMIO_MAGIC          0x74726976      /* "virt", little-endian (4.2.2) */
#define MMIO_VERSION        2               /* virtio 1.x: no legacy registers */
#define MMIO_VENDOR         VIRTIO_PCI_VENDOR
#define MMIO_QUEUE_RESET    0x0c0           /* virtio 1.2's QueueReset, past what uapi names */
#define LOG_BUDGET          16

static_assert(VIRTIO_ISR_QUEUE == VIRTIO_MMIO_INT_VRING && VIRTIO_ISR_CONFIG == VIRTIO_MMIO_INT_CONFIG,
	      "the device's interrupt status is InterruptStatus");

/* --- the line --------------------------------------------------------------- */

/*
 * The line follows InterruptStatus. When an acknowledgement leaves bits set the
 * line drops and rises again: a guest that programmed the pin edge-triggered (no
 * ACPI, no MP table: ISA defaults) still gets an edge for what it has not seen.
 */
static void line_update(struct virtio_mmio *mm, bool pulse)
{
	if (!mm->irq_ready)
		return;
	pthread_mutex_lock(&mm->irq_lock);
	bool level = atomic_load(&mm->dev->isr) != 0;
	if (pulse && level)
		(void)irq_set_level(&mm->irq, false);
	(void)irq_set_level(&mm->irq, level);
	pthread_mutex_unlock(&mm->irq_lock);
}

static void mmio_notify_queue(void *t, unsigned q, struct loop *via)
{
	(void)q, (void)via;
	line_update(t, false);
}

static void mmio_notify_config(void *t)
{
	line_update(t, false);
}

static void mmio_reset(void *t)
{
	/* InterruptStatus is 0 again: the line drops with it. */
	line_update(t, false);
}

static const struct virtio_transport_ops mmio_transport_ops = {
	.notify_queue = mmio_notify_queue,
	.notify_config = mmio_notify_config,
	.reset = mmio_reset,
};

/* --- the registers ------------------------------------------------------------ */

static void bad_access(struct virtio_mmio *mm, const char *what, uint64_t off, uint32_t len)
{
	log_guest_warning(&mm->log_budget, "%s: %s at 0x%llx (%u bytes) ignored", mm->dev->info.name,
			  what, (unsigned long long)off, len);
}

/* Lock held. */
static uint32_t reg_read(struct virtio_mmio *mm, uint32_t off)
{
	struct virtio_dev *dev = mm->dev;
	struct virtio_queue *q = virtio_dev_selected(dev);

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE: return MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION: return MMIO_VERSION;
	case VIRTIO_MMIO_DEVICE_ID: return dev->info.type;
	case VIRTIO_MMIO_VENDOR_ID: return MMIO_VENDOR;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		return virtio_dev_device_features(dev, dev->device_feature_select);
	case VIRTIO_MMIO_QUEUE_NUM_MAX: return q ? VIRTQ_MAX_SIZE : 0;
	case VIRTIO_MMIO_QUEUE_READY: return q ? q->enable : 0;
	case VIRTIO_MMIO_INTERRUPT_STATUS: return atomic_load(&dev->isr);
	case VIRTIO_MMIO_STATUS: return dev->status;
	case VIRTIO_MMIO_CONFIG_GENERATION: return atomic_load(&dev->config_generation);
	/* No shared memory regions: a length of all ones says the one selected is absent. */
	case VIRTIO_MMIO_SHM_LEN_LOW: case VIRTIO_MMIO_SHM_LEN_HIGH: return 0xffffffff;
	case VIRTIO_MMIO_SHM_BASE_LOW: case VIRTIO_MMIO_SHM_BASE_HIGH: return 0xffffffff;
	}
	bad_access(mm, "read of a write-only or unknown register", off, 4);
	return 0;
}

/* Lock held: the low or high half of a queue address, while the layout may change. */
static void set_half(uint64_t *field, bool high, uint32_t v)
{
	if (high)
		*field = (*field & 0xffffffffULL) | (uint64_t)v << 32;
	else
		*field = (*field & ~0xffffffffULL) | v;
}

/* Lock held. */
static void reg_write(struct virtio_mmio *mm, uint32_t off, uint32_t v)
{
	struct virtio_dev *dev = mm->dev;
	struct virtio_queue *q = virtio_dev_selected(dev);
	bool queue_reg = off == VIRTIO_MMIO_QUEUE_NUM || off == VIRTIO_MMIO_QUEUE_READY ||
			 (off >= VIRTIO_MMIO_QUEUE_DESC_LOW && off <= VIRTIO_MMIO_QUEUE_USED_HIGH);

	/* 4.2.2.2: the queue's registers only before DRIVER_OK (or after its reset). */
	if (queue_reg && (!q || !virtio_dev_queue_writable(dev))) {
		bad_access(mm, q ? "queue write while the device runs" : "write to a queue that does not exist",
			   off, 4);
		return;
	}
	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL: dev->device_feature_select = v; return;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		if (dev->status & VIRTIO_CONFIG_S_FEATURES_OK)
			bad_access(mm, "feature write after FEATURES_OK", off, 4);
		virtio_dev_set_driver_features(dev, dev->driver_feature_select, v);
		return;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL: dev->driver_feature_select = v; return;
	case VIRTIO_MMIO_QUEUE_SEL: dev->queue_select = v > 0xffff ? 0xffff : (uint16_t)v; return;
	case VIRTIO_MMIO_QUEUE_NUM:
		/* virtq_init refuses it again at DRIVER_OK, with NEEDS_RESET: the guest sees why. */
		if (!v || v > VIRTQ_MAX_SIZE || (v & (v - 1)))
			bad_access(mm, "queue size not a power of two up to the maximum", off, 4);
		q->size = v > 0xffff ? 0 : (uint16_t)v;
		return;
	case VIRTIO_MMIO_QUEUE_READY:
		if (v > 1)
			bad_access(mm, "QueueReady other than 0 or 1", off, 4);
		q->enable = v == 1;
		return;
	case VIRTIO_MMIO_QUEUE_DESC_LOW: case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		set_half(&q->desc, off == VIRTIO_MMIO_QUEUE_DESC_HIGH, v);
		return;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW: case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		set_half(&q->driver, off == VIRTIO_MMIO_QUEUE_AVAIL_HIGH, v);
		return;
	case VIRTIO_MMIO_QUEUE_USED_LOW: case VIRTIO_MMIO_QUEUE_USED_HIGH:
		set_half(&q->device, off == VIRTIO_MMIO_QUEUE_USED_HIGH, v);
		return;
	case VIRTIO_MMIO_STATUS:
		if (v > 0xff)
			bad_access(mm, "status wider than a byte", off, 4);
		else
			virtio_dev_write_status(dev, (uint8_t)v);
		return;
	case VIRTIO_MMIO_SHM_SEL: return;
	}
	bad_access(mm, "write to a read-only or unknown register", off, 4);
}

void virtio_mmio_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct virtio_mmio *mm = opaque;
	struct virtio_dev *dev = mm->dev;
	uint32_t v = 0;

	if (!is_write)
		memset(data, 0, len);
	if (offset >= VIRTIO_MMIO_CONFIG) {
		/* The configuration: naturally aligned accesses of its fields' widths (4.2.2.2). */
		if ((len != 1 && len != 2 && len != 4 && len != 8) || offset % len)
			bad_access(mm, "misaligned configuration access", offset, len);
		else
			virtio_dev_config_access(dev, (uint32_t)(offset - VIRTIO_MMIO_CONFIG), data, len,
						 is_write);
		return;
	}
	/* 4.2.2.2: the driver uses only 32-bit wide, aligned accesses for the registers. */
	if (len != 4 || offset % 4) {
		bad_access(mm, "register access that is not 32-bit aligned", offset, len);
		return;
	}
	uint32_t off = (uint32_t)offset;
	if (!is_write) {
		pthread_mutex_lock(&dev->lock);
		v = reg_read(mm, off);
		pthread_mutex_unlock(&dev->lock);
		memcpy(data, &v, 4);
		return;
	}
	memcpy(&v, data, 4);
	switch (off) {
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		/* A doorbell KVM did not take (no ioeventfd, or another value): the slow way. */
		if (v >= dev->info.num_queues)
			bad_access(mm, "notification of a queue that does not exist", off, 4);
		else
			virtio_dev_kick(dev, v);
		return;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		/* Outside the register lock: the line has a lock of its own, taken after it. */
		atomic_fetch_and(&dev->isr, (uint8_t)~v);
		line_update(mm, true);
		return;
	case MMIO_QUEUE_RESET:
		bad_access(mm, "queue reset, which was not offered", off, 4);
		return;
	}
	pthread_mutex_lock(&dev->lock);
	reg_write(mm, off, v);
	pthread_mutex_unlock(&dev->lock);
}

/* --- set-up -------------------------------------------------------------------- */

int virtio_mmio_init(struct virtio_mmio *mm, struct virtio_dev *dev, struct bus *bus, uint64_t base,
		     struct irq_chip *chip, uint32_t gsi, struct error *err)
{
	memset(mm, 0, sizeof(*mm));
	mm->dev = dev;
	mm->base = base;
	mm->gsi = gsi;
	mm->log_budget = LOG_BUDGET;
	pthread_mutex_init(&mm->irq_lock, NULL);
	/*
	 * KVM_IRQ_LINE holds a kernel IOAPIC's pin for as long as we do; a split
	 * irqchip's pin is ours and sends its MSIs the chip's way.
	 */
	enum irq_path path = chip->mode == IRQCHIP_SPLIT ? irq_chip_pin_path(chip) : IRQ_PATH_LINE;
	int r = irq_source_init_pin(&mm->irq, chip, gsi, true, path, -1, NULL, err);
	if (r)
		return r;
	mm->irq_ready = true;
	if ((r = bus_register(bus, base, VIRTIO_MMIO_WINDOW, virtio_mmio_access, mm, dev->info.name)))
		return error_sys(err, -r, "cannot place %s at 0x%llx", dev->info.name,
				 (unsigned long long)base);
	mm->bus = bus;
	/* One register rings every queue: KVM tells the queues apart by the value written. */
	for (unsigned i = 0; i < dev->info.num_queues; i++)
		(void)virtio_dev_doorbell(dev, i, base + VIRTIO_MMIO_QUEUE_NOTIFY, 4, true, i);
	pthread_mutex_lock(&dev->lock);
	virtio_dev_attach(dev, &mmio_transport_ops, mm);
	pthread_mutex_unlock(&dev->lock);
	return 0;
}

void virtio_mmio_destroy(struct virtio_mmio *mm)
{
	if (!mm->dev)
		return;
	/* From here on the device interrupts nobody: its completions no longer reach mm. */
	pthread_mutex_lock(&mm->dev->lock);
	virtio_dev_attach(mm->dev, NULL, NULL);
	pthread_mutex_unlock(&mm->dev->lock);
	if (mm->bus)
		(void)bus_unregister(mm->bus, mm->base);
	virtio_dev_doorbells_off(mm->dev);
	if (mm->irq_ready)
		irq_source_destroy(&mm->irq);
	pthread_mutex_destroy(&mm->irq_lock);
	mm->dev = NULL;
}
