#include "msix.h"

#include <stddef.h>

#include "abi/address_map.h"
#include "cpu.h"

#define REG_CONTROL     2
#define REG_TABLE       4
#define CONTROL_SIZE    0x07ff      /* entries - 1 */
#define CONTROL_MASKALL 0x4000
#define CONTROL_ENABLE  0x8000
#define TABLE_BIR       0x7
#define ENTRY_SIZE      16
#define ENTRY_ADDR_LO   0
#define ENTRY_ADDR_HI   4
#define ENTRY_DATA      8
#define ENTRY_CONTROL   12

const char *msix_init(struct msix *m, const struct pci_func *f)
{
	uint8_t cap = pci_find_cap(f, PCI_CAP_MSIX, 0);

	if (!cap)
		return "no MSI-X capability";
	uint16_t control = pci_read16(f, cap + REG_CONTROL);
	uint32_t table = pci_read32(f, cap + REG_TABLE);

	if ((table & TABLE_BIR) >= PCI_BARS || !f->bar[table & TABLE_BIR])
		return "MSI-X table in a BAR without an address";
	m->table = (uintptr_t)(f->bar[table & TABLE_BIR] + (table & ~(uint32_t)TABLE_BIR));
	m->entries = (uint16_t)((control & CONTROL_SIZE) + 1);
	m->cap = cap;
	m->func = f;
	/* The size bits are read-only: writing only the flags is enough. */
	pci_write16(f, cap + REG_CONTROL, CONTROL_ENABLE | CONTROL_MASKALL);
	return NULL;
}

void msix_route(const struct msix *m, unsigned entry, uint8_t vector, uint8_t dest)
{
	uintptr_t e = m->table + entry * ENTRY_SIZE;

	mmio_write32(e + ENTRY_ADDR_LO, (uint32_t)AM_MSI_BASE | (uint32_t)dest << 12);
	mmio_write32(e + ENTRY_ADDR_HI, 0);
	mmio_write32(e + ENTRY_DATA, vector);
	mmio_write32(e + ENTRY_CONTROL, 0);
}

void msix_unmask(const struct msix *m)
{
	pci_write16(m->func, m->cap + REG_CONTROL, CONTROL_ENABLE);
}
