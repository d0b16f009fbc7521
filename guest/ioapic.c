#include "ioapic.h"

#include "abi/address_map.h"
#include "cpu.h"

#define IOAPIC_SELECT 0x00
#define IOAPIC_WINDOW 0x10
#define REDIR_LOW(p)  (0x10 + 2 * (p))
#define REDIR_HIGH(p) (0x11 + 2 * (p))
#define REDIR_LEVEL   0x08000
#define REDIR_MASKED  0x10000

static void reg_write(uint8_t reg, uint32_t value)
{
	mmio_write32(AM_IOAPIC_BASE + IOAPIC_SELECT, reg);
	mmio_write32(AM_IOAPIC_BASE + IOAPIC_WINDOW, value);
}

static void route(unsigned pin, uint32_t low, uint8_t dest_apic)
{
	/* Destination first, so the pin is never live with a stale one. */
	reg_write(REDIR_HIGH(pin), (uint32_t)dest_apic << 24);
	reg_write(REDIR_LOW(pin), low);
}

void ioapic_route(unsigned pin, uint8_t vector, uint8_t dest_apic)
{
	route(pin, vector, dest_apic);
}

void ioapic_route_level(unsigned pin, uint8_t vector, uint8_t dest_apic)
{
	route(pin, REDIR_LEVEL | vector, dest_apic);
}

void ioapic_mask(unsigned pin)
{
	reg_write(REDIR_LOW(pin), REDIR_MASKED);
}
