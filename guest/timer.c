#include "timer.h"

#include "apic.h"
#include "cpu.h"
#include "idt.h"
#include "layout.h"

#define CPUID_HYPERVISOR_BIT (1u << 31)     /* leaf 1 ECX */
#define LEAF_HYPERVISOR      0x40000000
#define LEAF_TIMING          0x40000010
#define KVM_APIC_BUS_KHZ     1000000

static uint32_t apic_khz = KVM_APIC_BUS_KHZ;
static uint32_t tsc_khz;

/* Ticks still to count after the one-shot now running; the APIC counter is 32 bits. */
static volatile uint64_t ticks_left;
volatile bool timer_expired;    /* timeout_expired() reads it inline */

static void arm_next_chunk(void)
{
	uint32_t chunk = ticks_left > UINT32_MAX ? UINT32_MAX : (uint32_t)ticks_left;

	ticks_left -= chunk;
	lapic_timer_oneshot(chunk);
}

static void timer_interrupt(void)
{
	/*
	 * A one-shot that fired just before timeout_stop() stays pending until
	 * interrupts are next enabled, when a newer one-shot may be counting.
	 */
	if (lapic_timer_remaining())
		return;
	if (ticks_left)
		arm_next_chunk();
	else
		timer_expired = true;
}

void timer_init(void)
{
	if (cpuid(1, 0).ecx & CPUID_HYPERVISOR_BIT &&
	    cpuid(LEAF_HYPERVISOR, 0).eax >= LEAF_TIMING) {
		struct cpuid_regs timing = cpuid(LEAF_TIMING, 0);

		if (timing.ebx)
			apic_khz = timing.ebx;
		tsc_khz = timing.eax;
	}
	idt_set_handler(VEC_TIMER, timer_interrupt);
}

uint32_t timer_tsc_khz(void)
{
	return tsc_khz;
}

void timeout_start(uint64_t ns)
{
	ticks_left = ns * apic_khz / NS_PER_MS;
	timer_expired = ticks_left == 0;
	if (!timer_expired)
		arm_next_chunk();
}

void timeout_stop(void)
{
	lapic_timer_oneshot(0);
	ticks_left = 0;
}

bool wait_until(bool (*done)(void), uint64_t ns)
{
	bool ok;

	timeout_start(ns);
	while (!(ok = done()) && !timer_expired)
		irq_wait();
	timeout_stop();
	return ok;
}

bool spin_until(bool (*ready)(void), uint64_t ns)
{
	bool ok;

	timeout_start(ns);
	irq_enable();  /* lets the timer interrupt end the spin */
	while (!(ok = ready()) && !timer_expired)
		cpu_relax();
	irq_disable();
	timeout_stop();
	return ok;
}
