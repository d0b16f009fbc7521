/*
 * Self-tests register themselves with GUEST_TEST() and the linker gathers the
 * entries into one table: a new test is a new file under tests/ (and its line
 * in meson.build), with no change to the runner.
 */
#ifndef RINGVM_GUEST_TEST_H
#define RINGVM_GUEST_TEST_H

#include <stdbool.h>

struct guest_test {
	const char *name;
	/* Runs the test; NULL when it passed, else the reason it failed. */
	const char *(*run)(void);
};

#define GUEST_TEST(test_name, fn)                                                     \
	static const struct guest_test guest_test_##fn                                \
		__attribute__((used, section("guest_tests"), aligned(8))) = { test_name, fn }

/* Runs the named tests in order, printing each result; returns false at the first failure. */
bool run_tests(const char *const *names, unsigned count);

#endif
