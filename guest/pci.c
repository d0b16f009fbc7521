#include "pci.h"

#include <stdbool.h>
#include <stddef.h>

#include "abi/address_map.h"
#include "cpu.h"

#define MMIO32_END     (AM_PCI_MMIO32_BASE + AM_PCI_MMIO32_SIZE)   /* BARs are assigned below */
#define HEADER_MULTI   0x80            /* PCI_HEADER_TYPE: more functions (PCI 3.0, 6.2.1) */
#define BAR_FLAGS      ((uint64_t)(uint32_t)~PCI_BASE_ADDRESS_MEM_MASK)
/* A capability takes a dword at least: a looping list ends after this many. */
#define MAX_CAPS       ((PCI_CFG_SPACE_SIZE - PCI_STD_HEADER_SIZEOF) / 4)

static struct pci_func funcs[PCI_MAX_FUNCS];
static unsigned nr_funcs;
static bool scanned;

/* Sizes of the BARs in funcs[].bar, kept only for assignment. */
static uint64_t bar_size[PCI_MAX_FUNCS][PCI_STD_NUM_BARS];

static uintptr_t ecam(uint8_t devfn, unsigned offset)
{
	return AM_ECAM_BASE + ((uintptr_t)devfn << 12) + offset;
}

uint8_t pci_read8(const struct pci_func *f, unsigned offset)
{
	return *(volatile uint8_t *)ecam(f->devfn, offset);
}

uint16_t pci_read16(const struct pci_func *f, unsigned offset)
{
	return *(volatile uint16_t *)ecam(f->devfn, offset);
}

uint32_t pci_read32(const struct pci_func *f, unsigned offset)
{
	return mmio_read32(ecam(f->devfn, offset));
}

void pci_write16(const struct pci_func *f, unsigned offset, uint16_t value)
{
	*(volatile uint16_t *)ecam(f->devfn, offset) = value;
}

void pci_write32(const struct pci_func *f, unsigned offset, uint32_t value)
{
	mmio_write32(ecam(f->devfn, offset), value);
}

/*
 * Reads BAR n of f, and its size by the all-ones probe (decoding is off);
 * returns how many BAR slots it takes (2 for a 64-bit BAR).
 */
static unsigned probe_bar(struct pci_func *f, unsigned n, uint64_t *size)
{
	unsigned reg = PCI_BASE_ADDRESS_0 + 4 * n;
	uint32_t lo = pci_read32(f, reg), hi = 0, size_lo, size_hi = 0xffffffff;
	bool is64 = (lo & PCI_BASE_ADDRESS_MEM_TYPE_MASK) == PCI_BASE_ADDRESS_MEM_TYPE_64 &&
		    n + 1 < PCI_STD_NUM_BARS;

	*size = 0;
	if (lo & PCI_BASE_ADDRESS_SPACE_IO)
		return 1;  /* modern virtio has no I/O BARs: leave them be */
	pci_write32(f, reg, 0xffffffff);
	size_lo = pci_read32(f, reg);
	pci_write32(f, reg, lo);
	if (is64) {
		hi = pci_read32(f, reg + 4);
		pci_write32(f, reg + 4, 0xffffffff);
		size_hi = pci_read32(f, reg + 4);
		pci_write32(f, reg + 4, hi);
	}
	uint64_t mask = (uint64_t)size_hi << 32 | (size_lo & ~(uint32_t)BAR_FLAGS);

	/* No writable address bits: no BAR. A 64-bit BAR's may all be in its upper half. */
	if (is64 ? mask != 0 : (size_lo & ~(uint32_t)BAR_FLAGS) != 0)
		*size = ~mask + 1;
	f->bar[n] = ((uint64_t)hi << 32 | lo) & ~BAR_FLAGS;
	return is64 ? 2 : 1;
}

static void probe_function(uint8_t devfn, uint16_t vendor)
{
	struct pci_func *f = &funcs[nr_funcs];

	f->devfn = devfn;
	f->vendor = vendor;
	f->device = pci_read16(f, PCI_DEVICE_ID);
	if ((pci_read8(f, PCI_HEADER_TYPE) & PCI_HEADER_TYPE_MASK) == PCI_HEADER_TYPE_NORMAL) {
		uint16_t cmd = pci_read16(f, PCI_COMMAND);

		/* Sizing moves the BAR to all ones: no decoding meanwhile. */
		pci_write16(f, PCI_COMMAND, cmd & ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY));
		for (unsigned n = 0; n < PCI_STD_NUM_BARS;)
			n += probe_bar(f, n, &bar_size[nr_funcs][n]);
		pci_write16(f, PCI_COMMAND, cmd);
	}
	nr_funcs++;
}

/* Where the guest's own assignments start: above whatever the VMM assigned in the window. */
static uint64_t first_free(void)
{
	uint64_t next = AM_PCI_MMIO32_BASE;

	for (unsigned i = 0; i < nr_funcs; i++)
		for (unsigned n = 0; n < PCI_STD_NUM_BARS; n++) {
			uint64_t base = funcs[i].bar[n], end = base + bar_size[i][n];

			if (base >= AM_PCI_MMIO32_BASE && base < MMIO32_END && end > next)
				next = end;
		}
	return next;
}

/* Gives every sized BAR still at 0 a naturally aligned place in the window; enables decoding. */
static void assign_bars(void)
{
	uint64_t next = first_free();

	for (unsigned i = 0; i < nr_funcs; i++) {
		struct pci_func *f = &funcs[i];
		bool memory = false;

		for (unsigned n = 0; n < PCI_STD_NUM_BARS; n++) {
			uint64_t size = bar_size[i][n];
			uint64_t base = (next + size - 1) & ~(size - 1);

			if (!size)
				continue;
			if (!f->bar[n] && base + size <= MMIO32_END) {
				unsigned reg = PCI_BASE_ADDRESS_0 + 4 * n;

				pci_write32(f, reg, (uint32_t)base);
				if ((pci_read32(f, reg) & PCI_BASE_ADDRESS_MEM_TYPE_MASK) == PCI_BASE_ADDRESS_MEM_TYPE_64)
					pci_write32(f, reg + 4, 0);  /* kept below 4 GiB */
				f->bar[n] = base;
				next = base + size;
			}
			memory |= f->bar[n] != 0;
		}
		if (memory)
			pci_write16(f, PCI_COMMAND, pci_read16(f, PCI_COMMAND) | PCI_COMMAND_MEMORY |
							    PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
	}
}

unsigned pci_scan(const struct pci_func **out)
{
	if (!scanned) {
		scanned = true;
		for (unsigned slot = 0; slot < 32 && nr_funcs < PCI_MAX_FUNCS; slot++) {
			struct pci_func probe = { .devfn = (uint8_t)(slot << 3) };
			uint16_t vendor = pci_read16(&probe, PCI_VENDOR_ID);

			if (vendor == 0xffff)
				continue;
			bool multi = pci_read8(&probe, PCI_HEADER_TYPE) & HEADER_MULTI;

			probe_function(probe.devfn, vendor);
			for (unsigned fn = 1; multi && fn < 8 && nr_funcs < PCI_MAX_FUNCS; fn++) {
				probe.devfn = (uint8_t)(slot << 3 | fn);
				if ((vendor = pci_read16(&probe, PCI_VENDOR_ID)) != 0xffff)
					probe_function(probe.devfn, vendor);
			}
		}
		assign_bars();
	}
	if (out)
		*out = funcs;
	return nr_funcs;
}

const struct pci_func *pci_find(uint16_t vendor, uint16_t device, unsigned n)
{
	pci_scan(NULL);
	for (unsigned i = 0; i < nr_funcs; i++)
		if (funcs[i].vendor == vendor && funcs[i].device == device && n-- == 0)
			return &funcs[i];
	return NULL;
}

unsigned pci_count(uint16_t vendor, uint16_t device, unsigned max)
{
	unsigned n = 0;

	while (n < max && pci_find(vendor, device, n))
		n++;
	return n;
}

uint8_t pci_find_cap(const struct pci_func *f, uint8_t id, uint8_t after)
{
	uint8_t at;

	if (after)
		at = pci_read8(f, after + (unsigned)PCI_CAP_LIST_NEXT);
	else if (pci_read16(f, PCI_STATUS) & PCI_STATUS_CAP_LIST)
		at = pci_read8(f, PCI_CAPABILITY_LIST);
	else
		return 0;
	for (unsigned i = 0; i < MAX_CAPS && at >= PCI_STD_HEADER_SIZEOF; i++) {
		uint16_t id_next = pci_read16(f, at &= 0xfc);  /* one exit for both bytes */

		if ((uint8_t)id_next == id)
			return at;
		at = (uint8_t)(id_next >> 8);
	}
	return 0;
}
