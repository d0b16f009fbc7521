/* smp: every AP reaches long mode and reports in exactly once. */
#include "cpus.h"
#include "printf.h"
#include "smp.h"
#include "test.h"
#include "timer.h"

#define AP_TIMEOUT_NS (5 * NS_PER_S)

static bool all_reported(void)
{
	return smp_aps_online() >= cpus_count() - 1;
}

static const char *test_smp(void)
{
	static char reason[64];
	unsigned aps = cpus_count() - 1;
	const char *err;

	if (aps == 0)
		return NULL;  /* nothing to start */
	if ((err = smp_start_aps()))
		return err;
	wait_until(all_reported, AP_TIMEOUT_NS);
	if (smp_unexpected()) {
		snprintf(reason, sizeof(reason), "%u unexpected cpus", smp_unexpected());
		return reason;
	}
	unsigned bsp = (unsigned)cpus_index_of(cpu_apic_id());

	for (unsigned cpu = 0; cpu < cpus_count(); cpu++) {
		if (cpu == bsp || smp_reports(cpu) == 1)
			continue;
		snprintf(reason, sizeof(reason), "cpu %u reported in %u times, %u of %u aps online",
			 cpu, smp_reports(cpu), smp_aps_online(), aps);
		return reason;
	}
	return NULL;
}

GUEST_TEST("smp", test_smp);
