/* Local APIC in xAPIC mode at AM_LAPIC_BASE. */
#ifndef RINGVM_GUEST_APIC_H
#define RINGVM_GUEST_APIC_H

#include <stdint.h>

/* Interrupt command register (low word) values for lapic_send_ipi(). */
#define ICR_FIXED       0x00000     /* | vector */
#define ICR_INIT        0x04500     /* INIT, level assert */
#define ICR_STARTUP     0x00600     /* | vector: the page number of the start code */

/* Enables the BSP's APIC and sets up its timer (one-shot, divide by 1, VEC_TIMER). */
void lapic_init(void);

/* Enables this CPU's APIC so it may send IPIs (APs). */
void lapic_enable(void);

/* Signals the end of the interrupt being serviced. */
void lapic_eoi(void);

/* Sends an IPI to the APIC with physical ID apic_id; waits until the APIC has sent it. */
void lapic_send_ipi(uint8_t apic_id, uint32_t command);

/* Starts the timer counting ticks down once; 0 stops it. */
void lapic_timer_oneshot(uint32_t ticks);

/* Ticks the timer still has to count; 0 once it fired or was stopped. */
uint32_t lapic_timer_remaining(void);

/* Fires VEC_DEADLINE once when the TSC reaches tsc (TSC-deadline mode); 0 disarms it. */
void lapic_timer_deadline(uint64_t tsc);

/* Puts the timer back in one-shot mode on VEC_TIMER, as lapic_init() left it. */
void lapic_timer_use_oneshot(void);

#endif
