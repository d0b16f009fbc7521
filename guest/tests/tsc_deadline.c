/*
 * tsc-deadline: CPUID offers the TSC-deadline timer, and armed 1 ms ahead it
 * fires once, not before its deadline. Linux prefers this timer when offered,
 * so a VMM that forgets the CPUID bit leaves guests on the slower APIC MMIO path.
 */
#include "apic.h"
#include "cpu.h"
#include "idt.h"
#include "layout.h"
#include "printf.h"
#include "test.h"
#include "timer.h"

#define CPUID_TSC_DEADLINE (1u << 24)   /* leaf 1, ECX */

static volatile unsigned fired;
static volatile uint64_t fired_at;

static void on_deadline(void)
{
	fired_at = rdtsc();
	fired++;
}

static const char *test_tsc_deadline(void)
{
	static char reason[80];
	uint64_t khz = timer_tsc_khz();

	if (!(cpuid(1, 0).ecx & CPUID_TSC_DEADLINE))
		return "CPUID.1:ECX[24] (TSC-deadline timer) is clear";
	if (!khz)
		return "the TSC frequency is unknown";
	idt_set_handler(VEC_DEADLINE, on_deadline);
	fired = 0;
	uint64_t deadline = rdtsc() + khz;           /* 1 ms */
	lapic_timer_deadline(deadline);
	/* Timed by the TSC alone: the one-shot timeout timer is the one being replaced. */
	irq_enable();
	while (!fired && rdtsc() < deadline + khz * 1000)
		cpu_relax();
	for (uint64_t settle = rdtsc() + khz; rdtsc() < settle;)   /* a second firing? */
		cpu_relax();
	irq_disable();
	lapic_timer_use_oneshot();
	if (fired != 1) {
		snprintf(reason, sizeof(reason), "fired %u times in a second", fired);
		return reason;
	}
	if (fired_at < deadline)
		return "fired before its deadline";
	return NULL;
}

GUEST_TEST("tsc-deadline", test_tsc_deadline);
