#include "cmdline.h"

#include <stdbool.h>
#include <stddef.h>

static const char *const default_tests[] = { "serial", "smp" };

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The text after prefix if word starts with it, else NULL. */
static char *after_prefix(char *word, const char *prefix)
{
	for (; *prefix; prefix++, word++)
		if (*word != *prefix)
			return NULL;
	return word;
}

static const char *parse_tests(char *list, struct cmdline_options *opts)
{
	opts->nr_tests = 0;
	while (*list) {
		char *name = list;

		while (*list && *list != ',')
			list++;
		if (*list)
			*list++ = '\0';
		if (!*name)
			continue;  /* tolerate "a,,b" and a trailing comma */
		if (opts->nr_tests == CMDLINE_MAX_TESTS)
			return "more than 32 tests";
		opts->tests[opts->nr_tests++] = name;
	}
	return NULL;
}

static const char *parse_exit(const char *digits, struct cmdline_options *opts)
{
	int value = 0;

	if (!*digits)
		return "exit= needs a number";
	for (; *digits; digits++) {
		if (*digits < '0' || *digits > '9')
			return "exit= needs a number";
		value = value * 10 + (*digits - '0');
		if (value > 255)
			return "exit= above 255";
	}
	opts->exit_status = value;
	return NULL;
}

const char *cmdline_parse(char *line, struct cmdline_options *opts)
{
	const char *err = NULL;

	opts->nr_tests = sizeof(default_tests) / sizeof(default_tests[0]);
	for (unsigned i = 0; i < opts->nr_tests; i++)
		opts->tests[i] = default_tests[i];
	opts->exit_status = 0;
	while (*line && !err) {
		while (is_space(*line))
			line++;
		char *word = line;

		while (*line && !is_space(*line))
			line++;
		if (*line)
			*line++ = '\0';
		char *value;

		if ((value = after_prefix(word, "test=")))
			err = parse_tests(value, opts);
		else if ((value = after_prefix(word, "exit=")))
			err = parse_exit(value, opts);
	}
	return err;
}
