/*
 * PCI: bus 0 behind a host bridge, reached through configuration mechanism #1
 * and ECAM (abi/address_map.h); each function has 4 KiB of configuration space
 * with a mask of what the guest may write, BARs that appear on the PIO/MMIO
 * buses while decoding is enabled, and a capability list.
 */
#ifndef RINGVM_PCI_H
#define RINGVM_PCI_H

#include <linux/pci_regs.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "services/bus.h"

#define PCI_SLOTS            32

/* Class codes (base class, subclass, interface) from PCI-SIG's Code and ID Assignment spec. */
#define PCI_CLASS_CODE_STORAGE_OTHER 0x018000
#define PCI_CLASS_CODE_ETHERNET      0x020000
#define PCI_CLASS_CODE_HOST_BRIDGE   0x060000
#define PCI_CLASS_CODE_UNASSIGNED    0xff0000

struct pci_device;

struct pci_bar {
	uint64_t size;              /* a power of two, 0 if the BAR is absent */
	bool io, is64, prefetch;
	bus_access_fn access;
	void *opaque;
	uint64_t mapped_at;         /* where it is on the bus, when mapped */
	bool mapped;
};

/* Hooks a device may give; called with the PCI bus locked. */
struct pci_device_ops {
	/* Before the guest reads [offset, offset+len): a chance to refresh those bytes. */
	void (*config_read)(struct pci_device *dev, uint32_t offset, uint32_t len);
	/* After the guest wrote [offset, offset+len) of configuration space. */
	void (*config_written)(struct pci_device *dev, uint32_t offset, uint32_t len);
	/* A BAR appeared at addr (mapped) or disappeared. */
	void (*bar_moved)(struct pci_device *dev, unsigned bar, uint64_t addr, bool mapped);
};

struct pci_device {
	uint8_t config[PCI_CFG_SPACE_EXP_SIZE];
	uint8_t wmask[PCI_CFG_SPACE_EXP_SIZE];     /* bits the guest may change */
	uint8_t w1cmask[PCI_CFG_SPACE_EXP_SIZE];   /* bits a guest write of 1 clears */
	struct pci_bar bar[PCI_STD_NUM_BARS];
	uint8_t next_cap;                   /* where the next capability goes */
	unsigned slot;
	const struct pci_device_ops *ops;
	void *opaque;
	struct pci_bus *bus;
	const char *name;
};

struct pci_bus {
	pthread_mutex_t lock;               /* configuration cycles come from any vCPU */
	struct pci_device *slot[PCI_SLOTS];
	struct pci_device host_bridge;
	uint32_t conf1_address;
	struct bus *pio, *mmio;
	uint64_t mmio32_next, io_next;      /* where the next BAR goes */
	void (*cf9_access)(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);
	void *cf9_opaque;                   /* the reset control register shares a CONF1 port */
};

/* Sets up bus 0 with its host bridge; cf9 handles byte accesses to the reset control port. */
void pci_bus_init(struct pci_bus *bus, struct bus *pio, struct bus *mmio,
		  bus_access_fn cf9_access, void *cf9_opaque);

/* Unmaps every BAR and frees the lock. */
void pci_bus_destroy(struct pci_bus *bus);

/* Fills a device's identity and type-0 header; the caller adds BARs and capabilities. */
void pci_device_init(struct pci_device *dev, const char *name, uint16_t vendor, uint16_t device,
		     uint32_t class_code, uint8_t revision, uint16_t subsys_vendor,
		     uint16_t subsys);

/* Declares BAR n (size a power of two >= 16; io: port space). */
void pci_device_add_bar(struct pci_device *dev, unsigned n, uint64_t size, bool io, bool is64,
			bus_access_fn access, void *opaque);

/* Appends a capability of len bytes (ID and next pointer included); returns its offset or 0. */
uint8_t pci_device_add_cap(struct pci_device *dev, uint8_t id, const void *body, uint8_t len);

/* Plugs dev into the next free slot, assigns its BARs and enables decoding, as firmware would. */
int pci_bus_plug(struct pci_bus *bus, struct pci_device *dev);

/* Bus handler for the CONF1 ports. */
void pci_conf1_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

/* Bus handler for the ECAM window. */
void pci_ecam_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

/* A configuration read or write of len (1, 2 or 4, aligned) bytes of a slot's function 0. */
void pci_config_access(struct pci_bus *bus, unsigned slot, uint32_t offset, uint8_t *data,
		       uint32_t len, bool is_write);

/* Little-endian accessors for configuration space. */
static inline uint16_t pci_get16(const struct pci_device *d, uint32_t off)
{
	return (uint16_t)(d->config[off] | d->config[off + 1] << 8);
}

static inline uint32_t pci_get32(const struct pci_device *d, uint32_t off)
{
	return (uint32_t)pci_get16(d, off) | (uint32_t)pci_get16(d, off + 2) << 16;
}

static inline void pci_set16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void pci_set32(uint8_t *p, uint32_t v)
{
	pci_set16(p, (uint16_t)v);
	pci_set16(p + 2, (uint16_t)(v >> 16));
}

#endif
