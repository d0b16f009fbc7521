#include "virtio.h"

#include <stddef.h>

#include "cpu.h"
#include "cpus.h"
#include "printf.h"
#include "timer.h"

/* virtio_pci_cap (4.1.4) and its types. */
#define CAP_TYPE_OFFSET 3       /* in the first dword: vndr, next, len, cfg_type */
#define CAP_BAR         4
#define CAP_OFFSET      8
#define CAP_NOTIFY_MULT 16
#define CFG_COMMON      1
#define CFG_NOTIFY      2
#define CFG_DEVICE      4

/* virtio_pci_common_cfg (4.1.4.3). */
#define COMMON_DFSELECT     0x00
#define COMMON_DF           0x04
#define COMMON_GFSELECT     0x08
#define COMMON_GF           0x0c
#define COMMON_MSIX         0x10
#define COMMON_NUMQ         0x12
#define COMMON_STATUS       0x14
#define COMMON_CFGGENERATION 0x15
#define COMMON_Q_SELECT     0x16
#define COMMON_Q_SIZE       0x18
#define COMMON_Q_MSIX       0x1a
#define COMMON_Q_ENABLE     0x1c
#define COMMON_Q_NOFF       0x1e
#define COMMON_Q_DESC       0x20
#define COMMON_Q_DRIVER     0x28
#define COMMON_Q_DEVICE     0x30
#define NO_VECTOR           0xffff

#define RESET_TIMEOUT_NS    (1 * NS_PER_S)
#define VIRTQ_POOL          24   /* queues over all devices */

volatile uint32_t virtio_irq_count[NR_VIRTIO_VECTORS];
volatile uint64_t virtio_irq_tsc;

static struct virtq pool[VIRTQ_POOL];
static unsigned pool_used;
static unsigned vectors_used;

static uint8_t read8(uintptr_t addr)
{
	return *(volatile uint8_t *)addr;
}

static uint16_t read16(uintptr_t addr)
{
	return *(volatile uint16_t *)addr;
}

static void write8(uintptr_t addr, uint8_t value)
{
	*(volatile uint8_t *)addr = value;
}

static void write16(uintptr_t addr, uint16_t value)
{
	*(volatile uint16_t *)addr = value;
}

/* 64-bit fields go as two 32-bit writes, low first (4.1.3.1). */
static void write64(uintptr_t addr, uint64_t value)
{
	mmio_write32(addr, (uint32_t)value);
	mmio_write32(addr + 4, (uint32_t)(value >> 32));
}

static uint8_t alloc_vector(void)
{
	return (uint8_t)(VEC_VIRTIO_FIRST + vectors_used++ % NR_VIRTIO_VECTORS);
}

const char *virtio_attach(struct virtio_dev *dev, const struct pci_func *pci)
{
	uintptr_t common = 0, notify = 0, device = 0;

	dev->pci = pci;
	for (uint8_t cap = 0; (cap = pci_find_cap(pci, PCI_CAP_VENDOR, cap));) {
		uint8_t type = (uint8_t)(pci_read32(pci, cap) >> (8 * CAP_TYPE_OFFSET));
		uint8_t bar = pci_read8(pci, cap + CAP_BAR);
		uintptr_t at;

		if (type < CFG_COMMON || type > CFG_DEVICE || type == 3 || bar >= PCI_BARS ||
		    !pci->bar[bar])
			continue;  /* ISR status is for INTx, unused; other types unknown */
		at = (uintptr_t)pci->bar[bar] + pci_read32(pci, cap + CAP_OFFSET);
		/* The first of each type is the one to use (4.1.4.1). */
		if (type == CFG_COMMON && !common) {
			common = at;
		} else if (type == CFG_NOTIFY && !notify) {
			notify = at;
			dev->notify_multiplier = pci_read32(pci, cap + CAP_NOTIFY_MULT);
		} else if (type == CFG_DEVICE && !device) {
			device = at;
		}
	}
	/* No device configuration is fine: entropy devices have none (4.1.4). */
	if (!common || !notify)
		return "virtio capabilities missing (common or notify configuration)";
	dev->common = common;
	dev->notify = notify;
	dev->device = device;
	return msix_init(&dev->msix, pci);
}

uint8_t virtio_status(const struct virtio_dev *dev)
{
	return read8(dev->common + COMMON_STATUS);
}

void virtio_reset(struct virtio_dev *dev)
{
	write8(dev->common + COMMON_STATUS, 0);
	/* The device may take its time: it is reset once 0 reads back (4.1.4.3.2). */
	if (virtio_status(dev) == 0)
		return;
	timeout_start(RESET_TIMEOUT_NS);
	irq_enable();
	while (virtio_status(dev) != 0 && !timeout_expired())
		cpu_relax();
	irq_disable();
	timeout_stop();
}

/* Offers the device what it and the driver both know; NULL or why the device refused. */
static const char *negotiate(struct virtio_dev *dev, uint64_t wanted)
{
	uintptr_t c = dev->common;
	uint64_t offered;

	/* One bit at a time, in the order 3.1.1 gives. */
	write8(c + COMMON_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	write8(c + COMMON_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	mmio_write32(c + COMMON_DFSELECT, 0);
	offered = mmio_read32(c + COMMON_DF);
	mmio_write32(c + COMMON_DFSELECT, 1);
	offered |= (uint64_t)mmio_read32(c + COMMON_DF) << 32;
	if (!(offered & VIRTIO_F_VERSION_1)) {
		write8(c + COMMON_STATUS, VIRTIO_STATUS_FAILED);
		return "device lacks VIRTIO_F_VERSION_1 (legacy only)";
	}
	dev->features = offered & (wanted | VIRTIO_F_VERSION_1);
	mmio_write32(c + COMMON_GFSELECT, 0);
	mmio_write32(c + COMMON_GF, (uint32_t)dev->features);
	mmio_write32(c + COMMON_GFSELECT, 1);
	mmio_write32(c + COMMON_GF, (uint32_t)(dev->features >> 32));
	write8(c + COMMON_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
				  VIRTIO_STATUS_FEATURES_OK);
	if (!(virtio_status(dev) & VIRTIO_STATUS_FEATURES_OK)) {
		write8(c + COMMON_STATUS, VIRTIO_STATUS_FAILED);
		return "device refused FEATURES_OK";
	}
	return NULL;
}

/* MSI-X entry 0 is the configuration vector's; queues share the rest round-robin. */
static unsigned queue_entry(const struct virtio_dev *dev, unsigned q)
{
	return dev->msix.entries > 1 ? 1 + q % (dev->msix.entries - 1u) : 0;
}

static const char *setup_queue(struct virtio_dev *dev, unsigned q)
{
	static char reason[64];
	uintptr_t c = dev->common;
	struct virtq *vq = dev->vq[q];
	uint16_t max, size = VIRTQ_MAX_SIZE;
	unsigned entry = queue_entry(dev, q);

	write16(c + COMMON_Q_SELECT, (uint16_t)q);
	if ((max = read16(c + COMMON_Q_SIZE)) == 0)
		return "a queue the device said it has is unavailable";
	while (size > max)
		size >>= 1;  /* split rings want a power of two */
	virtq_init(vq, size, dev->features & VIRTIO_F_INDIRECT_DESC,
		   dev->features & VIRTIO_F_EVENT_IDX);
	vq->index = (uint16_t)q;
	vq->vector = dev->vector[entry];
	write16(c + COMMON_Q_SIZE, size);
	write16(c + COMMON_Q_MSIX, (uint16_t)entry);
	if (read16(c + COMMON_Q_MSIX) != entry) {
		snprintf(reason, sizeof(reason), "device refused MSI-X entry %u for queue %u",
			 entry, q);
		return reason;
	}
	write64(c + COMMON_Q_DESC, (uintptr_t)vq->desc);
	write64(c + COMMON_Q_DRIVER, (uintptr_t)&vq->avail);
	write64(c + COMMON_Q_DEVICE, (uintptr_t)&vq->used);
	vq->notify = dev->notify + (uintptr_t)read16(c + COMMON_Q_NOFF) * dev->notify_multiplier;
	write16(c + COMMON_Q_ENABLE, 1);
	return NULL;
}

const char *virtio_negotiate(struct virtio_dev *dev, uint64_t wanted)
{
	virtio_reset(dev);
	return negotiate(dev, wanted);
}

const char *virtio_start_queues(struct virtio_dev *dev, unsigned nr_queues)
{
	uint8_t dest = cpu_apic_id();
	unsigned entries = nr_queues + 1 < dev->msix.entries ? nr_queues + 1 : dev->msix.entries;
	const char *err;

	dev->device_queues = read16(dev->common + COMMON_NUMQ);
	if (nr_queues > VIRTIO_MAX_QUEUES || nr_queues > dev->device_queues)
		return "more queues asked for than the device or the guest has";
	for (unsigned e = 0; e < entries; e++) {
		if (!dev->vector[e])
			dev->vector[e] = alloc_vector();
		msix_route(&dev->msix, e, dev->vector[e], dest);
	}
	write16(dev->common + COMMON_MSIX, 0);
	if (read16(dev->common + COMMON_MSIX) != 0)
		return "device refused MSI-X entry 0 for configuration changes";
	for (unsigned q = 0; q < nr_queues; q++) {
		if (!dev->vq[q]) {
			if (pool_used == VIRTQ_POOL)
				return "out of static virtqueues";
			dev->vq[q] = &pool[pool_used++];
		}
		if ((err = setup_queue(dev, q)))
			return err;
	}
	dev->nr_queues = nr_queues;
	msix_unmask(&dev->msix);
	write8(dev->common + COMMON_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
					    VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	return NULL;
}

bool virtio_interrupt_seen(uint8_t vector, uint32_t before, uint64_t ns)
{
	timeout_start(ns);
	while (virtio_irqs(vector) == before && !timeout_expired())
		irq_wait();
	timeout_stop();
	return virtio_irqs(vector) != before;
}

uint8_t virtio_config8(const struct virtio_dev *dev, unsigned offset)
{
	return read8(dev->device + offset);
}

uint16_t virtio_config16(const struct virtio_dev *dev, unsigned offset)
{
	return read16(dev->device + offset);
}

uint32_t virtio_config32(const struct virtio_dev *dev, unsigned offset)
{
	return mmio_read32(dev->device + offset);
}

uint64_t virtio_config64(const struct virtio_dev *dev, unsigned offset)
{
	uint8_t generation;
	uint64_t value;

	/* Two 32-bit reads may straddle a change: retry until the generation holds (4.1.4.3.1). */
	do {
		generation = read8(dev->common + COMMON_CFGGENERATION);
		value = virtio_config32(dev, offset) |
			(uint64_t)virtio_config32(dev, offset + 4) << 32;
	} while (generation != read8(dev->common + COMMON_CFGGENERATION));
	return value;
}
