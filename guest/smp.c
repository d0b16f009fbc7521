#include "smp.h"

#include <stdbool.h>
#include <stdint.h>

#include "abi/address_map.h"
#include "apic.h"
#include "bootinfo.h"
#include "cpu.h"
#include "cpus.h"
#include "idt.h"
#include "layout.h"
#include "mem.h"
#include "printf.h"

/* The AP start code needs a page below 1 MiB; its page number is the SIPI vector. */
#define PAGE_SIZE       4096

extern const char trampoline_start[], trampoline_end[];

static uint8_t bsp_apic;
static unsigned online;
static unsigned unexpected;
static uint8_t reports[MAX_CPUS];

const char *smp_start_aps(void)
{
	static bool started;
	size_t size = (size_t)(trampoline_end - trampoline_start);

	if (started)
		return NULL;
	if (!bootinfo_is_ram(AM_AP_TRAMPOLINE, PAGE_SIZE))
		return "no RAM for the AP start code below 1 MiB";
	memcpy((void *)AM_AP_TRAMPOLINE, trampoline_start, size);
	bsp_apic = cpu_apic_id();
	started = true;

	/*
	 * The 10 ms and 200 us pauses the MP spec asks for between these are left
	 * out: KVM handles INIT and SIPI in order however close they come, and on
	 * an emulated host every microsecond of waiting is dearly paid.
	 */
	static const uint32_t sequence[] = {
		ICR_INIT,
		ICR_STARTUP | (AM_AP_TRAMPOLINE / PAGE_SIZE),
		ICR_STARTUP | (AM_AP_TRAMPOLINE / PAGE_SIZE),  /* in case the first is lost */
	};
	for (unsigned step = 0; step < sizeof(sequence) / sizeof(sequence[0]); step++)
		for (unsigned cpu = 0; cpu < cpus_count(); cpu++)
			if (cpus_apic_id(cpu) != bsp_apic)
				lapic_send_ipi(cpus_apic_id(cpu), sequence[step]);
	return NULL;
}

unsigned smp_aps_online(void)
{
	return __atomic_load_n(&online, __ATOMIC_ACQUIRE);
}

unsigned smp_reports(unsigned index)
{
	return index < MAX_CPUS ? __atomic_load_n(&reports[index], __ATOMIC_ACQUIRE) : 0;
}

unsigned smp_unexpected(void)
{
	return __atomic_load_n(&unexpected, __ATOMIC_ACQUIRE);
}

_Noreturn void ap_main(void)
{
	idt_load();
	lapic_enable();  /* to send the wake-up IPI below */
	uint8_t apic = cpu_apic_id();
	int index = cpus_index_of(apic);

	if (index < 0 || apic == bsp_apic) {
		printf("guest: unexpected cpu online (apic %u)\n", apic);
		__atomic_add_fetch(&unexpected, 1, __ATOMIC_RELEASE);
	} else {
		printf("cpu %d: online (apic %u)\n", index, apic);
		__atomic_add_fetch(&reports[index], 1, __ATOMIC_RELEASE);
	}
	__atomic_add_fetch(&online, 1, __ATOMIC_RELEASE);
	/* The BSP sleeps in hlt; the IPI wakes it to count again. */
	lapic_send_ipi(bsp_apic, ICR_FIXED | VEC_WAKE);
	cpu_park();
}
