#include "irq/irq_routing.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* KVM replaces the whole table at once, so every change sends all of it. */
static int irq_routing_commit(struct irq_routing *r)
{
	if (!r->commit)
		return 0;
	struct kvm_irq_routing *table = malloc(sizeof(*table) + r->count * sizeof(table->entries[0]));
	if (!table)
		return -ENOMEM;
	table->nr = r->count;
	table->flags = 0;
	memcpy(table->entries, r->entries, r->count * sizeof(table->entries[0]));
	int ret = r->commit(r->ctx, table);
	free(table);
	return ret;
}

static int irq_routing_append(struct irq_routing *r, struct kvm_irq_routing_entry e)
{
	if (r->count == sizeof(r->entries) / sizeof(r->entries[0]))
		return -ENOSPC;
	r->entries[r->count++] = e;
	return 0;
}

static struct kvm_irq_routing_entry irqchip_route(uint32_t gsi, uint32_t chip, uint32_t pin)
{
	return (struct kvm_irq_routing_entry){
		.gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP, .u.irqchip = { .irqchip = chip, .pin = pin },
	};
}

static struct kvm_irq_routing_entry msi_route(uint32_t gsi, const struct msi_msg *msi)
{
	return (struct kvm_irq_routing_entry){
		.gsi = gsi, .type = KVM_IRQ_ROUTING_MSI,
		.u.msi = { .address_lo = (uint32_t)msi->address,
			   .address_hi = (uint32_t)(msi->address >> 32), .data = msi->data },
	};
}

int irq_routing_init(struct irq_routing *r, irq_routing_commit_fn *commit, void *ctx,
		     bool with_irqchip_pins, struct error *err)
{
	memset(r, 0, sizeof(*r));
	r->commit = commit;
	r->ctx = ctx;
	pthread_mutex_init(&r->lock, NULL);
	if (!with_irqchip_pins)
		return 0;
	/*
	 * The PC's wiring, as firmware describes it: ISA IRQs on the 8259s and on
	 * IOAPIC pins of the same number, except that the timer's IRQ 0 is IOAPIC
	 * pin 2 (the 8259 cascade, which has no GSI of its own).
	 */
	for (uint32_t gsi = 0; gsi < 16; gsi++) {
		if (gsi == 2)
			continue;
		uint32_t chip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE;
		irq_routing_append(r, irqchip_route(gsi, chip, gsi % 8));
	}
	for (uint32_t gsi = 0; gsi < IRQ_IOAPIC_PINS; gsi++) {
		if (gsi == 2)
			continue;
		irq_routing_append(r, irqchip_route(gsi, KVM_IRQCHIP_IOAPIC, gsi == 0 ? 2 : gsi));
	}
	int ret = irq_routing_commit(r);
	return ret ? error_sys(err, -ret, "cannot set the GSI routing table") : 0;
}

void irq_routing_destroy(struct irq_routing *r)
{
	pthread_mutex_destroy(&r->lock);
}

static void irq_routing_drop(struct irq_routing *r, uint32_t gsi)
{
	unsigned kept = 0;

	for (unsigned i = 0; i < r->count; i++)
		if (r->entries[i].gsi != gsi)
			r->entries[kept++] = r->entries[i];
	r->count = kept;
}

int irq_routing_add_msi(struct irq_routing *r, const struct msi_msg *msi, uint32_t *gsi)
{
	int ret = -ENOSPC;

	pthread_mutex_lock(&r->lock);
	for (uint32_t g = IRQ_FIRST_MSI_GSI; g < IRQ_ROUTING_MAX_GSI; g++) {
		if (r->used[g / 64] & (1ULL << (g % 64)))
			continue;
		ret = irq_routing_append(r, msi_route(g, msi));
		if (ret)
			break;
		ret = irq_routing_commit(r);
		if (ret) {
			irq_routing_drop(r, g);
			break;
		}
		r->used[g / 64] |= 1ULL << (g % 64);
		*gsi = g;
		break;
	}
	pthread_mutex_unlock(&r->lock);
	return ret;
}

int irq_routing_set_msi(struct irq_routing *r, uint32_t gsi, const struct msi_msg *msi)
{
	if (gsi >= IRQ_ROUTING_MAX_GSI)
		return -EINVAL;
	pthread_mutex_lock(&r->lock);
	irq_routing_drop(r, gsi);
	int ret = irq_routing_append(r, msi_route(gsi, msi));
	if (!ret)
		ret = irq_routing_commit(r);
	pthread_mutex_unlock(&r->lock);
	return ret;
}

int irq_routing_remove(struct irq_routing *r, uint32_t gsi)
{
	if (gsi >= IRQ_ROUTING_MAX_GSI)
		return -EINVAL;
	pthread_mutex_lock(&r->lock);
	irq_routing_drop(r, gsi);
	r->used[gsi / 64] &= ~(1ULL << (gsi % 64));
	int ret = irq_routing_commit(r);
	pthread_mutex_unlock(&r->lock);
	return ret;
}

unsigned irq_routing_count(struct irq_routing *r, uint32_t gsi)
{
	unsigned n = 0;

	pthread_mutex_lock(&r->lock);
	for (unsigned i = 0; i < r->count; i++)
		n += r->entries[i].gsi == gsi;
	pthread_mutex_unlock(&r->lock);
	return n;
}
