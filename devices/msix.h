/*
 * MSI-X: the capability, the vector table and the pending-bit array of a PCI
 * function. Each vector becomes an MSI source (irq/irq) when first used; a
 * masked vector's interrupts set its pending bit and are delivered on unmask.
 * A delivery that fails is counted and logged (rate-limited), never fatal.
 */
#ifndef RINGVM_MSIX_H
#define RINGVM_MSIX_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/pci.h"
#include "irq/irq.h"
#include "services/loop.h"

#define MSIX_MAX_VECTORS 64

/* A table entry as the guest sees it (PCI_MSIX_ENTRY_*). */
struct msix_entry {
	uint32_t addr_lo, addr_hi, data, ctrl;
};

struct msix {
	pthread_mutex_t lock;       /* table writes on vCPUs, notifications on I/O threads */
	struct pci_device *pci;
	struct irq_chip *chip;
	uint8_t cap;                /* the capability's offset in configuration space */
	unsigned nr;
	struct msix_entry table[MSIX_MAX_VECTORS];
	uint64_t pending;           /* one bit per vector */
	struct irq_source src[MSIX_MAX_VECTORS];
	bool src_ready[MSIX_MAX_VECTORS];
	struct msi_msg src_msg[MSIX_MAX_VECTORS];   /* what each source was last pointed at */
	uint64_t delivery_errors;   /* interrupts KVM did not take (or no source could be made for) */
	unsigned log_budget;        /* lines left to say so: a guest cannot flood the log */
};

/* Adds the capability for nr vectors; table and PBA at the given offsets of BAR bir. */
int msix_init(struct msix *m, struct pci_device *pci, struct irq_chip *chip, unsigned nr,
	      unsigned bir, uint32_t table_offset, uint32_t pba_offset);

/* Releases the vectors' sources. */
void msix_destroy(struct msix *m);

/* The device's BAR handler passes table accesses here (offset within the table). */
void msix_table_access(struct msix *m, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

/* The same for the pending-bit array (read-only to the guest). */
void msix_pba_access(struct msix *m, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

/* After a configuration write: enabling or unmasking may release pending vectors. */
void msix_config_written(struct msix *m, uint32_t offset, uint32_t len);

/* Raises vector (or marks it pending while masked); via: the caller's loop, or NULL. */
int msix_notify(struct msix *m, unsigned vector, struct loop *via);

/* True when the guest enabled MSI-X. */
bool msix_enabled(struct msix *m);

#endif
