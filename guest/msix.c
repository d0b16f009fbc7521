#include "msix.h"

#include <stddef.h>

#include "abi/address_map.h"
#include "cpu.h"


const char *msix_init(struct msix *m, const struct pci_func *f)
{
	uint8_t cap = pci_find_cap(f, PCI_CAP_ID_MSIX, 0);

	if (!cap)
		return "no MSI-X capability";
	uint16_t control = pci_read16(f, cap + PCI_MSIX_FLAGS);
	uint32_t table = pci_read32(f, cap + PCI_MSIX_TABLE);
	uint32_t bir = table & PCI_MSIX_TABLE_BIR;

	if (bir >= PCI_STD_NUM_BARS || !f->bar[bir])
		return "MSI-X table in a BAR without an address";
	m->table = (uintptr_t)(f->bar[bir] + (table & PCI_MSIX_TABLE_OFFSET));
	m->entries = (uint16_t)((control & PCI_MSIX_FLAGS_QSIZE) + 1);
	m->cap = cap;
	m->func = f;
	/* The size bits are read-only: writing only the flags is enough. */
	pci_write16(f, cap + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	return NULL;
}

void msix_route(const struct msix *m, unsigned entry, uint8_t vector, uint8_t dest)
{
	uintptr_t e = m->table + entry * PCI_MSIX_ENTRY_SIZE;

	mmio_write32(e + PCI_MSIX_ENTRY_LOWER_ADDR, (uint32_t)AM_MSI_BASE | (uint32_t)dest << 12);
	mmio_write32(e + PCI_MSIX_ENTRY_UPPER_ADDR, 0);
	mmio_write32(e + PCI_MSIX_ENTRY_DATA, vector);
	mmio_write32(e + PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
}

void msix_unmask(const struct msix *m)
{
	pci_write16(m->func, m->cap + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE);
}
