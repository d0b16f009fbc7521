#include "virtio.h"

#include <linux/virtio_mmio.h>
#include <linux/virtio_pci.h>
#include <stddef.h>

#include "abi/address_map.h"
#include "cpu.h"
#include "cpus.h"
#include "ioapic.h"
#include "printf.h"
#include "timer.h"

/* Offsets from the kernel's structs, as the VMM's device uses them (4.1.4). */
#define CAP(field)      offsetof(struct virtio_pci_cap, field)
#define CAP_NOTIFY_MULT offsetof(struct virtio_pci_notify_cap, notify_off_multiplier)
#define CC(field)       offsetof(struct virtio_pci_common_cfg, field)

#define MMIO_MAGIC          0x74726976      /* "virt" (4.2.2) */
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

static const char *attach_pci(struct virtio_dev *dev, const struct pci_func *pci)
{
	uintptr_t common = 0, notify = 0, device = 0;

	dev->pci = pci;
	for (uint8_t cap = 0; (cap = pci_find_cap(pci, PCI_CAP_ID_VNDR, cap));) {
		/* One exit for the first dword: vndr, next, len, cfg_type. */
		uint8_t type = (uint8_t)(pci_read32(pci, cap) >> (8 * CAP(cfg_type)));
		uint8_t bar = pci_read8(pci, cap + CAP(bar));
		uintptr_t at;

		if (type < VIRTIO_PCI_CAP_COMMON_CFG || type > VIRTIO_PCI_CAP_DEVICE_CFG ||
		    type == VIRTIO_PCI_CAP_ISR_CFG || bar >= PCI_STD_NUM_BARS || !pci->bar[bar])
			continue;  /* ISR status is for INTx, unused; other types unknown */
		at = (uintptr_t)pci->bar[bar] + pci_read32(pci, cap + CAP(offset));
		/* The first of each type is the one to use (4.1.4.1). */
		if (type == VIRTIO_PCI_CAP_COMMON_CFG && !common) {
			common = at;
		} else if (type == VIRTIO_PCI_CAP_NOTIFY_CFG && !notify) {
			notify = at;
			dev->notify_multiplier = pci_read32(pci, cap + CAP_NOTIFY_MULT);
		} else if (type == VIRTIO_PCI_CAP_DEVICE_CFG && !device) {
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

/* Slot i's window if it holds a version-2 virtio-mmio device of type (any type: 0). */
static uintptr_t mmio_slot(unsigned i, uint16_t type)
{
	uintptr_t at = (uintptr_t)(AM_VIRTIO_MMIO_BASE + i * AM_VIRTIO_MMIO_STRIDE);

	/* An empty slot reads as all ones: no magic. */
	if (mmio_read32(at + VIRTIO_MMIO_MAGIC_VALUE) != MMIO_MAGIC ||
	    mmio_read32(at + VIRTIO_MMIO_VERSION) != 2)
		return 0;
	uint32_t id = mmio_read32(at + VIRTIO_MMIO_DEVICE_ID);
	return id && (!type || id == type) ? at : 0;
}

/* The nth virtio-mmio slot holding type, or -1; slots are filled from the first. */
static int mmio_find(uint16_t type, unsigned n)
{
	for (unsigned i = 0; i < AM_VIRTIO_MMIO_SLOTS; i++) {
		if (!mmio_slot(i, 0))
			break;
		if (mmio_slot(i, type) && n-- == 0)
			return (int)i;
	}
	return -1;
}

unsigned virtio_count(uint16_t type, unsigned max)
{
	unsigned on_pci = pci_count(VIRTIO_PCI_VENDOR, VIRTIO_PCI_MODERN_DEVICE(type), max), n = on_pci;

	while (n < max && mmio_find(type, n - on_pci) >= 0)
		n++;
	return n;
}

const char *virtio_attach(struct virtio_dev *dev, uint16_t type, unsigned n)
{
	unsigned on_pci = pci_count(VIRTIO_PCI_VENDOR, VIRTIO_PCI_MODERN_DEVICE(type), n + 1);
	const struct pci_func *pci = pci_find(VIRTIO_PCI_VENDOR, VIRTIO_PCI_MODERN_DEVICE(type), n);

	if (pci)
		return attach_pci(dev, pci);
	int slot = mmio_find(type, n - on_pci);
	if (slot < 0)
		return "no such virtio device";
	dev->pci = NULL;
	dev->mmio = mmio_slot((unsigned)slot, type);
	dev->mmio_pin = AM_VIRTIO_MMIO_FIRST_IRQ + (unsigned)slot;
	dev->device = dev->mmio + VIRTIO_MMIO_CONFIG;
	return NULL;
}

uint8_t virtio_status(const struct virtio_dev *dev)
{
	if (dev->mmio)
		return (uint8_t)mmio_read32(dev->mmio + VIRTIO_MMIO_STATUS);
	return read8(dev->common + CC(device_status));
}

static void set_status(struct virtio_dev *dev, uint8_t status)
{
	if (dev->mmio)
		mmio_write32(dev->mmio + VIRTIO_MMIO_STATUS, status);
	else
		write8(dev->common + CC(device_status), status);
}

void virtio_reset(struct virtio_dev *dev)
{
	set_status(dev, 0);
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
/* Features word sel, the device's (read) or the driver's (write). */
static uint32_t device_features(struct virtio_dev *dev, uint32_t sel)
{
	if (dev->mmio) {
		mmio_write32(dev->mmio + VIRTIO_MMIO_DEVICE_FEATURES_SEL, sel);
		return mmio_read32(dev->mmio + VIRTIO_MMIO_DEVICE_FEATURES);
	}
	mmio_write32(dev->common + CC(device_feature_select), sel);
	return mmio_read32(dev->common + CC(device_feature));
}

static void driver_features(struct virtio_dev *dev, uint32_t sel, uint32_t value)
{
	if (dev->mmio) {
		mmio_write32(dev->mmio + VIRTIO_MMIO_DRIVER_FEATURES_SEL, sel);
		mmio_write32(dev->mmio + VIRTIO_MMIO_DRIVER_FEATURES, value);
		return;
	}
	mmio_write32(dev->common + CC(guest_feature_select), sel);
	mmio_write32(dev->common + CC(guest_feature), value);
}

/* Offers the device what it and the driver both know; NULL or why the device refused. */
static const char *negotiate(struct virtio_dev *dev, uint64_t wanted)
{
	uint64_t offered;

	/* One bit at a time, in the order 3.1.1 gives. */
	set_status(dev, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	set_status(dev, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	offered = device_features(dev, 0);
	offered |= (uint64_t)device_features(dev, 1) << 32;
	if (!(offered & VIRTIO_BIT(VIRTIO_F_VERSION_1))) {
		set_status(dev, VIRTIO_CONFIG_S_FAILED);
		return "device lacks VIRTIO_F_VERSION_1 (legacy only)";
	}
	dev->features = offered & (wanted | VIRTIO_BIT(VIRTIO_F_VERSION_1));
	driver_features(dev, 0, (uint32_t)dev->features);
	driver_features(dev, 1, (uint32_t)(dev->features >> 32));
	set_status(dev, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
			VIRTIO_CONFIG_S_FEATURES_OK);
	if (!(virtio_status(dev) & VIRTIO_CONFIG_S_FEATURES_OK)) {
		set_status(dev, VIRTIO_CONFIG_S_FAILED);
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

	write16(c + CC(queue_select), (uint16_t)q);
	if ((max = read16(c + CC(queue_size))) == 0)
		return "a queue the device said it has is unavailable";
	while (size > max)
		size >>= 1;  /* split rings want a power of two */
	virtq_init(vq, size, dev->features & VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC),
		   dev->features & VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX));
	vq->index = (uint16_t)q;
	vq->vector = dev->vector[entry];
	write16(c + CC(queue_size), size);
	write16(c + CC(queue_msix_vector), (uint16_t)entry);
	if (read16(c + CC(queue_msix_vector)) != entry) {
		snprintf(reason, sizeof(reason), "device refused MSI-X entry %u for queue %u",
			 entry, q);
		return reason;
	}
	write64(c + CC(queue_desc_lo), (uintptr_t)vq->desc);
	write64(c + CC(queue_avail_lo), (uintptr_t)vq->avail);
	write64(c + CC(queue_used_lo), (uintptr_t)vq->used);
	vq->notify = dev->notify + (uintptr_t)read16(c + CC(queue_notify_off)) * dev->notify_multiplier;
	vq->notify32 = false;
	vq->mmio_ack = 0;
	write16(c + CC(queue_enable), 1);
	return NULL;
}

/* virtio-mmio (4.2.3.2): the queue's size, rings and ready bit; its interrupt is the slot's pin. */
static const char *setup_mmio_queue(struct virtio_dev *dev, unsigned q)
{
	uintptr_t m = dev->mmio;
	struct virtq *vq = dev->vq[q];
	uint16_t size = VIRTQ_MAX_SIZE;
	uint32_t max;

	mmio_write32(m + VIRTIO_MMIO_QUEUE_SEL, q);
	if (mmio_read32(m + VIRTIO_MMIO_QUEUE_READY))
		return "a queue is ready before it was set up";
	if ((max = mmio_read32(m + VIRTIO_MMIO_QUEUE_NUM_MAX)) == 0)
		return "a queue the device said it has is unavailable";
	while (size > max)
		size >>= 1;
	virtq_init(vq, size, dev->features & VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC),
		   dev->features & VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX));
	vq->index = (uint16_t)q;
	vq->vector = dev->vector[0];
	mmio_write32(m + VIRTIO_MMIO_QUEUE_NUM, size);
	write64(m + VIRTIO_MMIO_QUEUE_DESC_LOW, (uintptr_t)vq->desc);
	write64(m + VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uintptr_t)vq->avail);
	write64(m + VIRTIO_MMIO_QUEUE_USED_LOW, (uintptr_t)vq->used);
	vq->notify = m + VIRTIO_MMIO_QUEUE_NOTIFY;
	vq->notify32 = true;
	vq->mmio_ack = m;
	mmio_write32(m + VIRTIO_MMIO_QUEUE_READY, 1);
	return NULL;
}

/* virtio-mmio: the first nr_queues queues on the slot's pin, then DRIVER_OK. */
static const char *start_mmio_queues(struct virtio_dev *dev, unsigned nr_queues)
{
	const char *err;

	if (nr_queues > VIRTIO_MAX_QUEUES)
		return "more queues asked for than the guest has";
	dev->device_queues = 0;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		mmio_write32(dev->mmio + VIRTIO_MMIO_QUEUE_SEL, q);
		if (!mmio_read32(dev->mmio + VIRTIO_MMIO_QUEUE_NUM_MAX))
			break;
		dev->device_queues++;
	}
	if (nr_queues > dev->device_queues)
		return "more queues asked for than the device has";
	if (!dev->vector[0])
		dev->vector[0] = alloc_vector();
	/* Edge-triggered: virtq_wait acknowledges, which drops the line for the next edge. */
	ioapic_route(dev->mmio_pin, dev->vector[0], cpu_apic_id());
	for (unsigned q = 0; q < nr_queues; q++) {
		if (!dev->vq[q]) {
			if (pool_used == VIRTQ_POOL)
				return "out of static virtqueues";
			dev->vq[q] = &pool[pool_used++];
		}
		if ((err = setup_mmio_queue(dev, q)))
			return err;
	}
	dev->nr_queues = nr_queues;
	set_status(dev, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
			VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
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

	if (dev->mmio)
		return start_mmio_queues(dev, nr_queues);
	dev->device_queues = read16(dev->common + CC(num_queues));
	if (nr_queues > VIRTIO_MAX_QUEUES || nr_queues > dev->device_queues)
		return "more queues asked for than the device or the guest has";
	for (unsigned e = 0; e < entries; e++) {
		if (!dev->vector[e])
			dev->vector[e] = alloc_vector();
		msix_route(&dev->msix, e, dev->vector[e], dest);
	}
	write16(dev->common + CC(msix_config), 0);
	if (read16(dev->common + CC(msix_config)) != 0)
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
	write8(dev->common + CC(device_status), VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
					    VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
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

static uint32_t config_generation(const struct virtio_dev *dev)
{
	if (dev->mmio)
		return mmio_read32(dev->mmio + VIRTIO_MMIO_CONFIG_GENERATION);
	return read8(dev->common + CC(config_generation));
}

uint64_t virtio_config64(const struct virtio_dev *dev, unsigned offset)
{
	uint32_t generation;
	uint64_t value;

	/* Two 32-bit reads may straddle a change: retry until the generation holds (4.1.4.3.1). */
	do {
		generation = config_generation(dev);
		value = virtio_config32(dev, offset) |
			(uint64_t)virtio_config32(dev, offset + 4) << 32;
	} while (generation != config_generation(dev));
	return value;
}
