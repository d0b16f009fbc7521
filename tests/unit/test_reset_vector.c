#include <criterion/criterion.h>

#include <errno.h>
#include <string.h>

#include "devices/reset.h"
#include "firmware/reset_vector.h"

#define MiB (1ULL << 20)

static struct guest_memory mem;

static void setup(void)
{
	struct error err = { 0 };
	cr_assert_eq(guest_memory_create(&mem, 2 * MiB, &err), 0);
}

static void teardown(void)
{
	guest_memory_destroy(&mem);
}

TestSuite(reset_vector, .init = setup, .fini = teardown);

Test(reset_vector, stub_resets_through_port_cf9)
{
	struct error err = { 0 };
	cr_assert_eq(reset_vector_install(&mem, &err), 0);
	const uint8_t *at = mem.host + RESET_VECTOR_ADDR;

	/* mov al, imm8 with the reset bit that devices/reset.c acts on */
	cr_assert_eq(at[0], 0xb0);
	cr_assert(at[1] & RESET_CONTROL_RST);
	/* mov dx, 0xcf9; out dx, al */
	cr_assert_eq(at[2], 0xba);
	cr_assert_eq(at[3] | at[4] << 8, 0xcf9);
	cr_assert_eq(at[5], 0xee);
	/* then it halts for good: hlt, and a jump back to it */
	cr_assert_eq(at[6], 0xf4);
	cr_assert_eq(at[7], 0xeb);
	cr_assert_eq((int8_t)at[8], -3);
}

Test(reset_vector, the_rest_of_the_16_bytes_halt)
{
	struct error err = { 0 };
	cr_assert_eq(reset_vector_install(&mem, &err), 0);
	for (unsigned i = 9; i < 16; i++)
		cr_expect_eq(mem.host[RESET_VECTOR_ADDR + i], 0xf4, "byte %u", i);
}

Test(reset_vector, refused_without_ram_there)
{
	struct guest_memory tiny = { .host = mem.host, .size = 512 << 10, .nr_regions = 1,
				     .regions = { { .gpa = 0, .size = 512 << 10, .host = mem.host } } };
	struct error err = { 0 };
	cr_assert_eq(reset_vector_install(&tiny, &err), -ENOSPC);
	cr_assert(strstr(err.msg, "reset vector"), "%s", err.msg);
}
