/* I/O APIC at AM_IOAPIC_BASE: routes ISA IRQs (pins 0..15) and test pins to local APIC vectors. */
#ifndef RINGVM_GUEST_IOAPIC_H
#define RINGVM_GUEST_IOAPIC_H

#include <stdint.h>

/* Delivers pin as vector to the APIC dest_apic: fixed, edge, active high, unmasked. */
void ioapic_route(unsigned pin, uint8_t vector, uint8_t dest_apic);

/* Like ioapic_route(), but level-triggered: redelivered at EOI while the line stays high. */
void ioapic_route_level(unsigned pin, uint8_t vector, uint8_t dest_apic);

/* Masks pin. */
void ioapic_mask(unsigned pin);

#endif
