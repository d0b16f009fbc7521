#include "ioapic.h"

#include "cpu.h"

#define IOAPIC_BASE   0xfec00000
#define IOAPIC_SELECT 0x00
#define IOAPIC_WINDOW 0x10
#define REDIR_LOW(p)  (0x10 + 2 * (p))
#define REDIR_HIGH(p) (0x11 + 2 * (p))
#define REDIR_MASKED  0x10000

static void reg_write(uint8_t reg, uint32_t value)
{
	mmio_write32(IOAPIC_BASE + IOAPIC_SELECT, reg);
	mmio_write32(IOAPIC_BASE + IOAPIC_WINDOW, value);
}

void ioapic_route(unsigned pin, uint8_t vector, uint8_t dest_apic)
{
	/* Destination first, so the pin is never live with a stale one. */
	reg_write(REDIR_HIGH(pin), (uint32_t)dest_apic << 24);
	reg_write(REDIR_LOW(pin), vector);
}

void ioapic_mask(unsigned pin)
{
	reg_write(REDIR_LOW(pin), REDIR_MASKED);
}
