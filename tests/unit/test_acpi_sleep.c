#include <criterion/criterion.h>

#include "devices/acpi_sleep.h"
#include "firmware/acpi.h"

static int poweroffs;

static void count_poweroff(void *ctx)
{
	(void)ctx;
	poweroffs++;
}

static struct acpi_sleep dev = { .on_poweroff = count_poweroff, .s5_type = ACPI_S5_TYPE };

static void reset(void)
{
	poweroffs = 0;
}

TestSuite(acpi_sleep, .init = reset);

static void write_port(uint64_t offset, uint8_t v)
{
	acpi_sleep_access(&dev, offset, &v, 1, true);
}

Test(acpi_sleep, s5_with_sleep_enable_powers_off)
{
	write_port(0, 0x20 | ACPI_S5_TYPE << 2);
	cr_expect_eq(poweroffs, 1);
}

Test(acpi_sleep, other_writes_do_nothing)
{
	write_port(0, ACPI_S5_TYPE << 2);           /* SLP_EN clear */
	write_port(0, 0x20 | 3 << 2);               /* S3: not offered */
	write_port(0, 0x20 | 0 << 2);
	write_port(1, 0x20 | ACPI_S5_TYPE << 2);    /* the status register */
	cr_expect_eq(poweroffs, 0);
}

Test(acpi_sleep, reads_are_zero)
{
	uint8_t v[2] = { 0xff, 0xff };
	acpi_sleep_access(&dev, 1, v, 1, false);
	acpi_sleep_access(&dev, 0, v + 1, 1, false);
	cr_expect_eq(v[0], 0);
	cr_expect_eq(v[1], 0);
	cr_expect_eq(poweroffs, 0);
}
