#include "services/size.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static int unit_shift(const char *suffix, uint64_t default_unit, uint64_t *unit)
{
	static const char letters[] = "KMGTP";

	if (*suffix == '\0') {
		*unit = default_unit;
		return 0;
	}
	const char *p = strchr(letters, toupper((unsigned char)*suffix));
	if (!p)
		return -EINVAL;
	suffix++;
	if (strcmp(suffix, "") && strcmp(suffix, "B") && strcmp(suffix, "iB"))
		return -EINVAL;
	*unit = 1ULL << (10 * (p - letters + 1));
	return 0;
}

int size_parse(const char *text, uint64_t default_unit, uint64_t *out)
{
	uint64_t value = 0, unit;
	const char *p = text;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned digit = (unsigned)(*p - '0');
		if (value > (UINT64_MAX - digit) / 10)
			return -ERANGE;
		value = value * 10 + digit;
	}
	if (unit_shift(p, default_unit, &unit))
		return -EINVAL;
	if (value && unit > UINT64_MAX / value)
		return -ERANGE;
	*out = value * unit;
	return 0;
}

const char *size_format(uint64_t bytes, char *buf, size_t len)
{
	static const char *const names[] = { "bytes", "KiB", "MiB", "GiB", "TiB", "PiB" };
	unsigned i = 0;

	while (i + 1 < sizeof(names) / sizeof(names[0]) && bytes && !(bytes & 1023)) {
		bytes >>= 10;
		i++;
	}
	snprintf(buf, len, "%llu %s", (unsigned long long)bytes, names[i]);
	return buf;
}
