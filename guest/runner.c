#include "test.h"

#include <stddef.h>

#include "printf.h"

/* Bounds of the table GUEST_TEST() builds (linker.ld). */
extern const struct guest_test __start_guest_tests[], __stop_guest_tests[];

static bool same_name(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

static const struct guest_test *find_test(const char *name)
{
	for (const struct guest_test *t = __start_guest_tests; t < __stop_guest_tests; t++)
		if (same_name(t->name, name))
			return t;
	return NULL;
}

bool run_tests(const char *const *names, unsigned count)
{
	for (unsigned i = 0; i < count; i++) {
		const struct guest_test *test = find_test(names[i]);
		const char *failure = test ? test->run() : "unknown test";

		if (failure) {
			printf("test %s: FAIL (%s)\n", names[i], failure);
			return false;
		}
		printf("test %s: pass\n", names[i]);
	}
	return true;
}
