#include "devices/pci.h"

#include <errno.h>
#include <string.h>

#include "abi/address_map.h"

#define PCI_HOST_VENDOR        0x1b36      /* Red Hat's ID for generic PCIe host bridges */
#define PCI_HOST_DEVICE        0x0008
#define PCI_SUBSYS_QEMU        0x1100      /* QEMU's subsystem ID, which guests know */
#define CONF1_ENABLE           0x80000000u

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

void pci_device_init(struct pci_device *dev, const char *name, uint16_t vendor, uint16_t device,
		     uint32_t class_code, uint8_t revision, uint16_t subsys_vendor, uint16_t subsys)
{
	memset(dev, 0, sizeof(*dev));
	dev->name = name;
	pci_set16(&dev->config[PCI_VENDOR_ID], vendor);
	pci_set16(&dev->config[PCI_DEVICE_ID], device);
	dev->config[PCI_REVISION_ID] = revision;
	dev->config[PCI_CLASS_PROG] = (uint8_t)class_code;
	dev->config[PCI_CLASS_PROG + 1] = (uint8_t)(class_code >> 8);
	dev->config[PCI_CLASS_PROG + 2] = (uint8_t)(class_code >> 16);
	pci_set16(&dev->config[PCI_SUBSYSTEM_VENDOR_ID], subsys_vendor);
	pci_set16(&dev->config[PCI_SUBSYSTEM_ID], subsys);
	/* I/O, memory, bus master, parity, SERR, INTx disable; the rest is read-only. */
	pci_set16(&dev->wmask[PCI_COMMAND], PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
					    PCI_COMMAND_PARITY | PCI_COMMAND_SERR |
					    PCI_COMMAND_INTX_DISABLE);
	pci_set16(&dev->w1cmask[PCI_STATUS], PCI_STATUS_PARITY | PCI_STATUS_SIG_TARGET_ABORT |
					     PCI_STATUS_REC_TARGET_ABORT | PCI_STATUS_REC_MASTER_ABORT |
					     PCI_STATUS_SIG_SYSTEM_ERROR | PCI_STATUS_DETECTED_PARITY);
	dev->wmask[PCI_CACHE_LINE_SIZE] = 0xff;
	dev->wmask[PCI_LATENCY_TIMER] = 0xff;
	dev->wmask[PCI_INTERRUPT_LINE] = 0xff;
	dev->next_cap = PCI_STD_HEADER_SIZEOF;
}

void pci_device_add_bar(struct pci_device *dev, unsigned n, uint64_t size, bool io, bool is64,
			bus_access_fn access, void *opaque)
{
	struct pci_bar *bar = &dev->bar[n];
	uint32_t reg = PCI_BASE_ADDRESS_0 + 4 * n;

	*bar = (struct pci_bar){ .size = size, .io = io, .is64 = is64 && !io, .access = access,
				 .opaque = opaque };
	uint32_t flags = io ? PCI_BASE_ADDRESS_SPACE_IO : (bar->is64 ? PCI_BASE_ADDRESS_MEM_TYPE_64 : 0);
	pci_set32(&dev->config[reg], flags);
	pci_set32(&dev->wmask[reg], (uint32_t)(~(size - 1) & (io ? PCI_BASE_ADDRESS_IO_MASK :
								   PCI_BASE_ADDRESS_MEM_MASK)));
	if (bar->is64)
		pci_set32(&dev->wmask[reg + 4], 0xffffffff);
}

uint8_t pci_device_add_cap(struct pci_device *dev, uint8_t id, const void *body, uint8_t len)
{
	uint8_t at = dev->next_cap;

	if (len < 2 || at + len > PCI_CFG_SPACE_SIZE)
		return 0;
	memcpy(&dev->config[at], body, len);
	dev->config[at + PCI_CAP_LIST_ID] = id;
	dev->config[at + PCI_CAP_LIST_NEXT] = 0;
	/* Chain it after the last capability (or make it the first). */
	uint8_t *link = &dev->config[PCI_CAPABILITY_LIST];
	while (*link)
		link = &dev->config[*link + PCI_CAP_LIST_NEXT];
	*link = at;
	pci_set16(&dev->config[PCI_STATUS], pci_get16(dev, PCI_STATUS) | PCI_STATUS_CAP_LIST);
	dev->next_cap = (uint8_t)align_up(at + len, 4);
	return at;
}

/* Where the guest put BAR n, and whether decoding makes it visible. */
static bool bar_address(const struct pci_device *dev, unsigned n, uint64_t *addr)
{
	const struct pci_bar *bar = &dev->bar[n];
	uint16_t cmd = pci_get16(dev, PCI_COMMAND);
	uint32_t reg = PCI_BASE_ADDRESS_0 + 4 * n;
	uint64_t a;

	if (bar->io) {
		if (!(cmd & PCI_COMMAND_IO))
			return false;
		a = pci_get32(dev, reg) & (uint32_t)PCI_BASE_ADDRESS_IO_MASK;
		if (a + bar->size > 0x10000)
			return false;
	} else {
		if (!(cmd & PCI_COMMAND_MEMORY))
			return false;
		a = pci_get32(dev, reg) & (uint32_t)PCI_BASE_ADDRESS_MEM_MASK;
		if (bar->is64)
			a |= (uint64_t)pci_get32(dev, reg + 4) << 32;
		if (a + bar->size < a)
			return false;
	}
	/* 0 is unassigned; the all-ones pattern of a size probe is not an address either. */
	if (!a || a == (~(bar->size - 1) & (bar->is64 ? (uint64_t)PCI_BASE_ADDRESS_MEM_MASK :
						   (uint32_t)PCI_BASE_ADDRESS_MEM_MASK)))
		return false;
	*addr = a;
	return true;
}

static void pci_update_mappings(struct pci_device *dev)
{
	for (unsigned n = 0; n < PCI_STD_NUM_BARS; n++) {
		struct pci_bar *bar = &dev->bar[n];
		struct bus *space = bar->io ? dev->bus->pio : dev->bus->mmio;
		uint64_t addr = 0;

		if (!bar->size)
			continue;
		bool want = bar_address(dev, n, &addr);
		if (bar->mapped && (!want || addr != bar->mapped_at)) {
			bus_unregister(space, bar->mapped_at);
			bar->mapped = false;
			if (dev->ops && dev->ops->bar_moved)
				dev->ops->bar_moved(dev, n, bar->mapped_at, false);
		}
		/* A BAR over another device's range stays dark: the guest's mistake, not ours. */
		if (want && !bar->mapped &&
		    !bus_register(space, addr, bar->size, bar->access, bar->opaque, dev->name)) {
			bar->mapped = true;
			bar->mapped_at = addr;
			if (dev->ops && dev->ops->bar_moved)
				dev->ops->bar_moved(dev, n, addr, true);
		}
	}
}

void pci_config_access(struct pci_bus *bus, unsigned slot, uint32_t offset, uint8_t *data,
		       uint32_t len, bool is_write)
{
	if (slot >= PCI_SLOTS || (len != 1 && len != 2 && len != 4) || (offset & (len - 1)) ||
	    offset + len > PCI_CFG_SPACE_EXP_SIZE) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&bus->lock);
	struct pci_device *dev = bus->slot[slot];
	if (!dev) {
		if (!is_write)
			memset(data, 0xff, len);   /* no device: master abort */
	} else if (!is_write) {
		if (dev->ops && dev->ops->config_read)
			dev->ops->config_read(dev, offset, len);
		memcpy(data, &dev->config[offset], len);
	} else {
		for (uint32_t i = 0; i < len; i++) {
			uint8_t *b = &dev->config[offset + i];
			uint8_t w = dev->wmask[offset + i], c = dev->w1cmask[offset + i];
			*b = (uint8_t)(((*b & ~w) | (data[i] & w)) & ~(data[i] & c));
		}
		bool touches_decode = offset < PCI_BASE_ADDRESS_0 + 4 * PCI_STD_NUM_BARS &&
				      offset + len > PCI_COMMAND;
		if (touches_decode)
			pci_update_mappings(dev);
		if (dev->ops && dev->ops->config_written)
			dev->ops->config_written(dev, offset, len);
	}
	pthread_mutex_unlock(&bus->lock);
}

void pci_conf1_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct pci_bus *bus = opaque;

	if (offset < 4) {
		/* Only a dword at offset 0 is CONFIG_ADDRESS; a byte at 1 is the reset register. */
		if (offset == 0 && len == 4) {
			if (is_write)
				memcpy(&bus->conf1_address, data, 4);
			else
				memcpy(data, &bus->conf1_address, 4);
		} else if (offset == 1 && len == 1 && bus->cf9_access) {
			bus->cf9_access(bus->cf9_opaque, 0, data, 1, is_write);
		} else if (!is_write) {
			memset(data, 0xff, len);
		}
		return;
	}
	uint32_t a = bus->conf1_address;
	unsigned bus_nr = (a >> 16) & 0xff, slot = (a >> 11) & 0x1f, fn = (a >> 8) & 7;
	if (!(a & CONF1_ENABLE) || bus_nr || fn) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pci_config_access(bus, slot, (a & 0xfc) + (uint32_t)(offset - 4), data, len, is_write);
}

void pci_ecam_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct pci_bus *bus = opaque;
	unsigned bus_nr = (unsigned)(offset >> 20), slot = (offset >> 15) & 0x1f, fn = (offset >> 12) & 7;

	if (bus_nr || fn) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pci_config_access(bus, slot, (uint32_t)(offset & 0xfff), data, len, is_write);
}

void pci_bus_init(struct pci_bus *bus, struct bus *pio, struct bus *mmio,
		  bus_access_fn cf9_access, void *cf9_opaque)
{
	memset(bus, 0, sizeof(*bus));
	pthread_mutex_init(&bus->lock, NULL);
	bus->pio = pio;
	bus->mmio = mmio;
	bus->mmio32_next = AM_PCI_MMIO32_BASE;
	bus->io_next = AM_PCI_IO_BASE;
	bus->cf9_access = cf9_access;
	bus->cf9_opaque = cf9_opaque;
	pci_device_init(&bus->host_bridge, "host-bridge", PCI_HOST_VENDOR, PCI_HOST_DEVICE,
			PCI_CLASS_CODE_HOST_BRIDGE, 0, PCI_HOST_VENDOR, PCI_SUBSYS_QEMU);
	bus->host_bridge.bus = bus;
	bus->slot[0] = &bus->host_bridge;
}

void pci_bus_destroy(struct pci_bus *bus)
{
	for (unsigned s = 0; s < PCI_SLOTS; s++) {
		struct pci_device *dev = bus->slot[s];
		for (unsigned n = 0; dev && n < PCI_STD_NUM_BARS; n++)
			if (dev->bar[n].mapped)
				bus_unregister(dev->bar[n].io ? bus->pio : bus->mmio, dev->bar[n].mapped_at);
		bus->slot[s] = NULL;
	}
	pthread_mutex_destroy(&bus->lock);
}

int pci_bus_plug(struct pci_bus *bus, struct pci_device *dev)
{
	unsigned slot = 1;

	while (slot < PCI_SLOTS && bus->slot[slot])
		slot++;
	if (slot == PCI_SLOTS)
		return -ENOSPC;
	/* Firmware's job, done here: every BAR gets an address and decoding is on. */
	for (unsigned n = 0; n < PCI_STD_NUM_BARS; n++) {
		struct pci_bar *bar = &dev->bar[n];
		uint32_t reg = PCI_BASE_ADDRESS_0 + 4 * n;
		if (!bar->size)
			continue;
		uint64_t *next = bar->io ? &bus->io_next : &bus->mmio32_next;
		uint64_t limit = bar->io ? AM_PCI_IO_BASE + AM_PCI_IO_SIZE
					 : AM_PCI_MMIO32_BASE + AM_PCI_MMIO32_SIZE;
		uint64_t addr = align_up(*next, bar->size);
		if (addr + bar->size > limit)
			return -ENOSPC;
		*next = addr + bar->size;
		uint32_t flags = pci_get32(dev, reg) & (uint32_t)~(bar->io ? PCI_BASE_ADDRESS_IO_MASK :
								 PCI_BASE_ADDRESS_MEM_MASK);
		pci_set32(&dev->config[reg], (uint32_t)addr | flags);
		if (bar->is64)
			pci_set32(&dev->config[reg + 4], (uint32_t)(addr >> 32));
	}
	uint16_t cmd = PCI_COMMAND_MEMORY | PCI_COMMAND_IO;
	pci_set16(&dev->config[PCI_COMMAND], cmd);
	dev->slot = slot;
	dev->bus = bus;
	pthread_mutex_lock(&bus->lock);
	bus->slot[slot] = dev;
	pci_update_mappings(dev);
	pthread_mutex_unlock(&bus->lock);
	return 0;
}
