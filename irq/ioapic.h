/*
 * An IOAPIC (version 0x20, 24 pins) emulated in ringvm for the split irqchip: the
 * LAPICs stay in KVM, pin assertions become MSIs, and KVM reports EOIs of
 * level-triggered vectors (KVM_EXIT_IOAPIC_EOI) so remote IRR can be cleared.
 */
#ifndef RINGVM_IOAPIC_H
#define RINGVM_IOAPIC_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "irq/irq_routing.h"

#define IOAPIC_PINS      IRQ_IOAPIC_PINS

/* What the IOAPIC needs from the VM; called with the IOAPIC locked. */
struct ioapic_ops {
	void (*deliver)(void *ctx, unsigned pin, const struct msi_msg *msi);
	/* A pin's redirection entry changed: KVM must learn its MSI (level vectors exit on EOI). */
	void (*route)(void *ctx, unsigned pin, const struct msi_msg *msi, bool masked);
};

struct ioapic {
	pthread_mutex_t lock;
	uint32_t ioregsel;
	uint32_t id;
	uint64_t redir[IOAPIC_PINS];
	uint32_t asserted;          /* pin input levels, one bit per pin */
	const struct ioapic_ops *ops;
	void *ctx;
};

/* Resets to all pins masked. */
void ioapic_init(struct ioapic *ioapic, const struct ioapic_ops *ops, void *ctx);

/* Frees the lock. */
void ioapic_destroy(struct ioapic *ioapic);

/* Bus handler for the IOAPIC's MMIO window. */
void ioapic_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

/* Drives pin to level (true: asserted); delivers on an edge or a level with remote IRR clear. */
void ioapic_set_pin(struct ioapic *ioapic, unsigned pin, bool level);

/* The guest EOId vector: clears remote IRR of level pins on it, redelivering those still asserted. */
void ioapic_eoi(struct ioapic *ioapic, uint8_t vector);

/* The MSI a redirection entry describes. */
struct msi_msg ioapic_entry_msi(uint64_t entry);

#endif
