#include <criterion/criterion.h>
#include <string.h>

#include "firmware/aml.h"

static struct aml a;

static void reset(void)
{
	memset(&a, 0, sizeof(a));
}

TestSuite(aml, .init = reset);

static void expect_bytes(const uint8_t *want, size_t len)
{
	cr_assert_eq(a.len, len, "length %zu, wanted %zu", a.len, len);
	for (size_t i = 0; i < len; i++)
		cr_expect_eq(a.data[i], want[i], "byte %zu: %#x, wanted %#x", i, a.data[i], want[i]);
}

Test(aml, integers_take_their_smallest_encoding)
{
	aml_name_int(&a, "_UID", 0);
	aml_name_int(&a, "_UID", 1);
	aml_name_int(&a, "_UID", 0x42);
	aml_name_int(&a, "_UID", 0x1234);
	aml_name_int(&a, "_UID", 0x12345678);
	aml_name_int(&a, "_UID", 0x123456789aULL);
	const uint8_t want[] = {
		0x08, '_', 'U', 'I', 'D', 0x00,
		0x08, '_', 'U', 'I', 'D', 0x01,
		0x08, '_', 'U', 'I', 'D', 0x0a, 0x42,
		0x08, '_', 'U', 'I', 'D', 0x0b, 0x34, 0x12,
		0x08, '_', 'U', 'I', 'D', 0x0c, 0x78, 0x56, 0x34, 0x12,
		0x08, '_', 'U', 'I', 'D', 0x0e, 0x9a, 0x78, 0x56, 0x34, 0x12, 0, 0, 0,
	};
	expect_bytes(want, sizeof(want));
}

Test(aml, eisa_ids)
{
	/* As iasl compiles EisaId("PNP0A03") and EisaId("PNP0A08"). */
	cr_expect_eq(aml_eisa_id("PNP0A03"), 0x030ad041);
	cr_expect_eq(aml_eisa_id("PNP0A08"), 0x080ad041);
}

Test(aml, package_of_integers)
{
	const uint64_t v[] = { 5, 5, 0, 0 };
	aml_name_package(&a, "_S5_", v, 4);
	/* PackageOp, PkgLength 8 (itself, count, four elements of 2+2+1+1), count 4. */
	const uint8_t want[] = { 0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04,
				 0x0a, 0x05, 0x0a, 0x05, 0x00, 0x00 };
	expect_bytes(want, sizeof(want));
}

Test(aml, small_device_in_scope)
{
	size_t scope = a.len;
	size_t dev = a.len;
	aml_name_int(&a, "_UID", 0);
	aml_wrap_device(&a, dev, "PCI0");
	aml_wrap_scope(&a, scope, "\\_SB_");
	const uint8_t want[] = {
		0x10, 0x13, '\\', '_', 'S', 'B', '_',                   /* Scope, len 19 */
		0x5b, 0x82, 0x0b, 'P', 'C', 'I', '0',                   /* Device, len 11 */
		0x08, '_', 'U', 'I', 'D', 0x00,
	};
	expect_bytes(want, sizeof(want));
}

Test(aml, long_bodies_take_multibyte_pkglength)
{
	uint8_t bytes[100];
	memset(bytes, 0xab, sizeof(bytes));
	aml_name_buffer(&a, "_CRS", bytes, sizeof(bytes));
	/* Body: BytePrefix 100, then 100 bytes = 102; with a 2-byte PkgLength, 104 = 0x68. */
	cr_assert_eq(a.len, 5 + 1 + 2 + 102);
	cr_expect_eq(a.data[5], 0x11);
	cr_expect_eq(a.data[6], 0x40 | 0x8);
	cr_expect_eq(a.data[7], 0x6);
	cr_expect_eq(a.data[8], 0x0a);
	cr_expect_eq(a.data[9], 100);
	cr_expect_eq(a.data[10], 0xab);
	cr_expect_eq(a.data[a.len - 1], 0xab);
}

Test(aml, boundary_between_one_and_two_byte_lengths)
{
	uint8_t bytes[64] = { 0 };
	/* Body 60 (BytePrefix, count, 58 bytes): PkgLength 61 fits one byte... */
	aml_name_buffer(&a, "_CRS", bytes, 58);
	cr_expect_eq(a.data[6], 61);
	reset();
	/* ... body 62: PkgLength 63 is the largest one-byte value ... */
	aml_name_buffer(&a, "_CRS", bytes, 60);
	cr_expect_eq(a.data[6], 63);
	reset();
	/* ... body 63 needs two bytes: 65 in all. */
	aml_name_buffer(&a, "_CRS", bytes, 61);
	cr_expect_eq(a.data[6], 0x40 | (65 & 0xf));
	cr_expect_eq(a.data[7], 65 >> 4);
}

Test(aml, overflow_is_flagged_not_written_past)
{
	uint8_t bytes[AML_MAX];
	memset(bytes, 1, sizeof(bytes));
	aml_bytes(&a, bytes, AML_MAX - 2);
	cr_expect_eq(a.overflow, 0);
	aml_name_int(&a, "_UID", 0);
	cr_expect_eq(a.overflow, 1);
	cr_expect_leq(a.len, AML_MAX);
	reset();
	aml_bytes(&a, bytes, AML_MAX - 3);
	aml_wrap_device(&a, 0, "DEV0");
	cr_expect_eq(a.overflow, 1, "a wrapper that does not fit");
	cr_expect_eq(a.len, AML_MAX - 3);
}
