/*
 * The guest's command line: space-separated words. "test=NAME[,NAME...]" and
 * "exit=N" are the runner's; tests look up their own "key=value" words with
 * cmdline_get(). Other words are ignored.
 */
#ifndef RINGVM_GUEST_CMDLINE_H
#define RINGVM_GUEST_CMDLINE_H

#include <stdint.h>

#define CMDLINE_MAX_TESTS 32
#define CMDLINE_MAX_WORDS 64

struct cmdline_options {
	const char *tests[CMDLINE_MAX_TESTS];   /* in the order given */
	unsigned nr_tests;
	int exit_status;                        /* when every test passed */
};

/* Cuts line up in place into words and reads opts from them; NULL or what was wrong. */
const char *cmdline_parse(char *line, struct cmdline_options *opts);

/* The value of the last "key=VALUE" word (later words win), or NULL when none sets key. */
const char *cmdline_get(const char *key);

/* Reads "key=N", decimal, at most max, into *value (unset: left alone); NULL or what was wrong. */
const char *cmdline_get_uint(const char *key, uint32_t max, uint32_t *value);

/* Reads "key=WORD" as WORD's index in choices into *index (unset: left alone); NULL or why not. */
const char *cmdline_get_choice(const char *key, const char *const *choices, unsigned n,
			       unsigned *index);

#endif
