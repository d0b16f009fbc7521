/* The VM's GSI routing table: irqchip pins and MSI routes, mirrored into KVM on every change. */
#ifndef RINGVM_IRQ_ROUTING_H
#define RINGVM_IRQ_ROUTING_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "services/error.h"

#define IRQ_ROUTING_MAX_GSI  1024  /* well inside KVM's 4096 */
#define IRQ_IOAPIC_PINS      24
#define IRQ_FIRST_MSI_GSI    IRQ_IOAPIC_PINS   /* below are the IOAPIC's (and PIC's) */

struct msi_msg {
	uint64_t address;
	uint32_t data;
};

/* Hands the whole table to KVM (KVM_SET_GSI_ROUTING): 0 or -errno. */
typedef int irq_routing_commit_fn(void *ctx, const struct kvm_irq_routing *table);

struct irq_routing {
	irq_routing_commit_fn *commit;   /* NULL: keep the table here only (unit tests) */
	void *ctx;
	pthread_mutex_t lock;       /* devices route from vCPU and I/O threads */
	struct kvm_irq_routing_entry entries[2 * IRQ_ROUTING_MAX_GSI];
	unsigned count;
	uint64_t used[IRQ_ROUTING_MAX_GSI / 64];   /* GSIs handed out for MSI routes */
};

/* Empty table; with_irqchip_pins adds the PC's PIC and IOAPIC routes (in-kernel irqchip). */
int irq_routing_init(struct irq_routing *r, irq_routing_commit_fn *commit, void *ctx,
		     bool with_irqchip_pins, struct error *err);

/* Frees the lock. */
void irq_routing_destroy(struct irq_routing *r);

/* Allocates a GSI (>= IRQ_FIRST_MSI_GSI) routed to msi; -ENOSPC when none is left. */
int irq_routing_add_msi(struct irq_routing *r, const struct msi_msg *msi, uint32_t *gsi);

/* Routes gsi to msi, replacing what it had (the split irqchip's pins use their own GSIs). */
int irq_routing_set_msi(struct irq_routing *r, uint32_t gsi, const struct msi_msg *msi);

/* Removes gsi's routes and frees it if it was allocated. */
int irq_routing_remove(struct irq_routing *r, uint32_t gsi);

/* Number of routes for gsi (for tests and sanity checks). */
unsigned irq_routing_count(struct irq_routing *r, uint32_t gsi);

#endif
