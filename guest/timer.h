/* Timeouts on the local APIC timer, the one clock every KVM guest has. */
#ifndef RINGVM_GUEST_TIMER_H
#define RINGVM_GUEST_TIMER_H

#include <stdbool.h>
#include <stdint.h>

#define NS_PER_MS 1000000ull
#define NS_PER_S  1000000000ull

/* Takes the APIC timer rate from CPUID leaf 0x40000010 EBX if offered, else KVM's 1 GHz. */
void timer_init(void);

/* The TSC rate in kHz from CPUID leaf 0x40000010 EAX; 0 when the VMM does not say. */
uint32_t timer_tsc_khz(void);

/* Starts a timeout of ns in the background, replacing any running one. */
void timeout_start(uint64_t ns);

/* Stops the timeout. */
void timeout_stop(void);

/* Set by the timer interrupt when the timeout ran out; read it with timeout_expired(). */
extern volatile bool timer_expired;

/* True once the timeout ran out; a load and no call, for loops that run per interrupt. */
static inline bool timeout_expired(void)
{
	return timer_expired;
}

/* Halts between interrupts until done() or ns pass; returns done(). */
bool wait_until(bool (*done)(void), uint64_t ns);

/* Spins until ready() or ns pass, for conditions no interrupt announces; returns ready(). */
bool spin_until(bool (*ready)(void), uint64_t ns);

#endif
