#include <criterion/criterion.h>
#include <errno.h>

#include "irq/irq_routing.h"

static struct irq_routing r;
static struct error err;

Test(irq_routing, pc_wiring)
{
	cr_assert_eq(irq_routing_init(&r, NULL, NULL, true, &err), 0);
	cr_assert_eq(irq_routing_count(&r, 0), 2, "IRQ 0: PIC pin 0 and IOAPIC pin 2");
	cr_assert_eq(irq_routing_count(&r, 2), 0, "the cascade has no GSI");
	cr_assert_eq(irq_routing_count(&r, 4), 2, "ISA IRQ 4: PIC and IOAPIC");
	cr_assert_eq(irq_routing_count(&r, 20), 1, "PCI pins: IOAPIC only");
	cr_assert_eq(irq_routing_count(&r, 24), 0);
	for (unsigned i = 0; i < r.count; i++) {
		const struct kvm_irq_routing_entry *e = &r.entries[i];
		if (e->gsi == 0 && e->u.irqchip.irqchip == KVM_IRQCHIP_IOAPIC)
			cr_assert_eq(e->u.irqchip.pin, 2);
		if (e->gsi == 9 && e->u.irqchip.irqchip != KVM_IRQCHIP_IOAPIC)
			cr_assert_eq(e->u.irqchip.irqchip, KVM_IRQCHIP_PIC_SLAVE);
	}
	irq_routing_destroy(&r);
}

Test(irq_routing, msi_routes_are_allocated_and_freed)
{
	struct msi_msg msi = { .address = 0xfee01000, .data = 0x41 };
	uint32_t a, b, c;

	cr_assert_eq(irq_routing_init(&r, NULL, NULL, false, &err), 0);
	cr_assert_eq(irq_routing_add_msi(&r, &msi, &a), 0);
	cr_assert_eq(irq_routing_add_msi(&r, &msi, &b), 0);
	cr_assert_geq(a, IRQ_FIRST_MSI_GSI, "never an IOAPIC pin's GSI");
	cr_assert_neq(a, b);
	cr_assert_eq(irq_routing_count(&r, a), 1);
	cr_assert_eq(irq_routing_remove(&r, a), 0);
	cr_assert_eq(irq_routing_count(&r, a), 0);
	cr_assert_eq(irq_routing_add_msi(&r, &msi, &c), 0);
	cr_assert_eq(c, a, "a freed GSI is reused");
	irq_routing_destroy(&r);
}

Test(irq_routing, set_msi_replaces)
{
	struct msi_msg one = { .address = 0xfee00000, .data = 0x30 }, two = { .address = 0xfee01000, .data = 0x31 };
	cr_assert_eq(irq_routing_init(&r, NULL, NULL, false, &err), 0);
	cr_assert_eq(irq_routing_set_msi(&r, 4, &one), 0);
	cr_assert_eq(irq_routing_set_msi(&r, 4, &two), 0);
	cr_assert_eq(irq_routing_count(&r, 4), 1);
	cr_assert_eq(r.entries[0].u.msi.data, 0x31);
	cr_assert_eq(r.entries[0].type, KVM_IRQ_ROUTING_MSI);
	cr_assert_eq(irq_routing_set_msi(&r, IRQ_ROUTING_MAX_GSI, &one), -EINVAL);
	irq_routing_destroy(&r);
}

Test(irq_routing, runs_out_cleanly)
{
	struct msi_msg msi = { .address = 0xfee00000, .data = 0x30 };
	uint32_t gsi;
	unsigned n = 0;
	cr_assert_eq(irq_routing_init(&r, NULL, NULL, false, &err), 0);
	while (irq_routing_add_msi(&r, &msi, &gsi) == 0)
		n++;
	cr_assert_eq(n, IRQ_ROUTING_MAX_GSI - IRQ_FIRST_MSI_GSI);
	cr_assert_eq(irq_routing_add_msi(&r, &msi, &gsi), -ENOSPC);
	irq_routing_destroy(&r);
}
