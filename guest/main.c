/* The BSP's C entry: bring the platform up, report what the VMM gave us, run the tests. */
#include <stdint.h>

#include "apic.h"
#include "bootinfo.h"
#include "cmdline.h"
#include "cpus.h"
#include "exit.h"
#include "idt.h"
#include "pic.h"
#include "printf.h"
#include "serial.h"
#include "test.h"
#include "timer.h"

#define MIB (1024 * 1024)

/* Called by entry.S, in long mode on the BSP's stack. */
_Noreturn void guest_main(uint32_t start_info);

static void print_banner(void)
{
	/* The map leaves out holes such as the legacy one below 1 MiB: round up to whole MiB. */
	uint64_t mib = (bootinfo_ram_bytes() + MIB - 1) / MIB;

	printf("ringvm-guest: %u cpus, %lu MiB\n", cpus_count(), mib);
	bootinfo_print_memory();
}

_Noreturn void guest_main(uint32_t start_info)
{
	struct cmdline_options opts;
	const char *err;

	idt_load();  /* first, so that even a fault in serial_init() gets reported */
	serial_init();
	pic_mask_all();
	lapic_init();
	timer_init();
	cpus_detect();
	if ((err = bootinfo_read(start_info))) {
		printf("guest: %s\n", err);
		guest_exit(EXIT_FAIL);
	}
	print_banner();
	if (bootinfo_cmdline_truncated())
		printf("guest: command line truncated\n");
	if ((err = cmdline_parse(bootinfo_cmdline(), &opts))) {
		printf("guest: bad command line (%s)\n", err);
		guest_exit(EXIT_FAIL);
	}
	if (!run_tests(opts.tests, opts.nr_tests))
		guest_exit(EXIT_FAIL);
	printf("guest: all tests passed\n");
	guest_exit(opts.exit_status);
}
