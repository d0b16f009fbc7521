/*
 * PCI bus 0 through ECAM at AM_ECAM_BASE: enumeration, BARs (assigned from the
 * 32-bit window where the VMM left them at 0) and the capability list. Every
 * configuration access is an exit, so the bus is scanned once and what the
 * drivers need is kept.
 */
#ifndef RINGVM_GUEST_PCI_H
#define RINGVM_GUEST_PCI_H

#include <linux/pci_regs.h>
#include <stdint.h>

#define PCI_MAX_FUNCS 32        /* functions kept from bus 0 */

struct pci_func {
	uint8_t devfn;              /* slot << 3 | function */
	uint16_t vendor, device;
	uint64_t bar[PCI_STD_NUM_BARS];     /* memory BARs (0: none); a 64-bit BAR fills its first slot */
};

/* Scans bus 0 once (later calls return the same table), assigning and enabling memory BARs. */
unsigned pci_scan(const struct pci_func **funcs);

/* The nth function (in slot order) with vendor and device, or NULL. */
const struct pci_func *pci_find(uint16_t vendor, uint16_t device, unsigned n);

/* How many functions with this vendor and device ID there are, counting up to max. */
unsigned pci_count(uint16_t vendor, uint16_t device, unsigned max);

/* Configuration space accessors (offset within the function's 4 KiB). */
uint8_t pci_read8(const struct pci_func *f, unsigned offset);
uint16_t pci_read16(const struct pci_func *f, unsigned offset);
uint32_t pci_read32(const struct pci_func *f, unsigned offset);
void pci_write16(const struct pci_func *f, unsigned offset, uint16_t value);
void pci_write32(const struct pci_func *f, unsigned offset, uint32_t value);

/* Offset of the first capability with id after offset after (0: from the start), or 0. */
uint8_t pci_find_cap(const struct pci_func *f, uint8_t id, uint8_t after);

#endif
