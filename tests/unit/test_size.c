#include <criterion/criterion.h>
#include <errno.h>

#include "services/size.h"

#define MiB (1ULL << 20)

static uint64_t parse_ok(const char *text)
{
	uint64_t v = 0;
	cr_assert_eq(size_parse(text, MiB, &v), 0, "'%s' should parse", text);
	return v;
}

static int parse_err(const char *text)
{
	uint64_t v = 12345;
	int r = size_parse(text, MiB, &v);
	cr_assert_neq(r, 0, "'%s' should be refused", text);
	cr_assert_eq(v, 12345, "a refused size must not be stored");
	return r;
}

Test(size, suffixes_are_binary_units)
{
	cr_assert_eq(parse_ok("512M"), 512 * MiB);
	cr_assert_eq(parse_ok("2G"), 2048 * MiB);
	cr_assert_eq(parse_ok("4096K"), 4 * MiB);
	cr_assert_eq(parse_ok("1T"), 1ULL << 40);
	cr_assert_eq(parse_ok("3g"), 3ULL << 30);
	cr_assert_eq(parse_ok("64MiB"), 64 * MiB);
	cr_assert_eq(parse_ok("64MB"), 64 * MiB);
}

Test(size, bare_number_uses_default_unit)
{
	cr_assert_eq(parse_ok("256"), 256 * MiB);
	uint64_t v;
	cr_assert_eq(size_parse("100", 1, &v), 0);
	cr_assert_eq(v, 100);
}

Test(size, garbage_is_refused)
{
	cr_assert_eq(parse_err("5X"), -EINVAL);
	cr_assert_eq(parse_err(""), -EINVAL);
	cr_assert_eq(parse_err("M"), -EINVAL);
	cr_assert_eq(parse_err("-1G"), -EINVAL);
	cr_assert_eq(parse_err(" 1G"), -EINVAL);
	cr_assert_eq(parse_err("1.5G"), -EINVAL);
	cr_assert_eq(parse_err("1GG"), -EINVAL);
	cr_assert_eq(parse_err("1Gi"), -EINVAL);
	cr_assert_eq(parse_err("0x10M"), -EINVAL);
}

Test(size, overflow_is_refused)
{
	cr_assert_eq(parse_err("99999999999999999999"), -ERANGE);
	cr_assert_eq(parse_err("17179869184G"), -ERANGE);   /* 2^34 GiB = 2^64 bytes */
	cr_assert_eq(parse_ok("16777215T"), 16777215ULL << 40);
}

Test(size, format_picks_exact_unit)
{
	char buf[32];
	cr_assert_str_eq(size_format(512 * MiB, buf, sizeof(buf)), "512 MiB");
	cr_assert_str_eq(size_format(3ULL << 30, buf, sizeof(buf)), "3 GiB");
	cr_assert_str_eq(size_format(1536 * MiB, buf, sizeof(buf)), "1536 MiB");
	cr_assert_str_eq(size_format(1000, buf, sizeof(buf)), "1000 bytes");
	cr_assert_str_eq(size_format(0, buf, sizeof(buf)), "0 bytes");
}
