/* MSI-X of a PCI function: the guest points table entries at local APIC vectors. */
#ifndef RINGVM_GUEST_MSIX_H
#define RINGVM_GUEST_MSIX_H

#include <stdint.h>

#include "pci.h"

struct msix {
	uintptr_t table;            /* the vector table, in one of the function's BARs */
	uint16_t entries;
	uint8_t cap;                /* the capability's offset */
	const struct pci_func *func;
};

/* Finds f's table and enables MSI-X with the whole function masked; NULL or why not. */
const char *msix_init(struct msix *m, const struct pci_func *f);

/* Sends entry's interrupts to vector on the APIC dest, entry unmasked. */
void msix_route(const struct msix *m, unsigned entry, uint8_t vector, uint8_t dest);

/* Lifts the function mask msix_init() set, once the entries are routed. */
void msix_unmask(const struct msix *m);

#endif
