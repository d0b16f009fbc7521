#include "cmdline.h"

#include <stdbool.h>
#include <stddef.h>

#include "printf.h"

static const char *const default_tests[] = { "serial", "smp" };

/* The words of the line cmdline_parse() cut up, in order. */
static char *words[CMDLINE_MAX_WORDS];
static unsigned nr_words;

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static const char *split_words(char *line)
{
	nr_words = 0;
	for (;;) {
		while (is_space(*line))
			line++;
		if (!*line)
			return NULL;
		if (nr_words == CMDLINE_MAX_WORDS)
			return "more than 64 words";
		words[nr_words++] = line;
		while (*line && !is_space(*line))
			line++;
		if (*line)
			*line++ = '\0';
	}
}

/* The writable value of the last word "key=VALUE", or NULL. */
static char *find_value(const char *key)
{
	for (unsigned i = nr_words; i-- > 0;) {
		char *word = words[i];
		const char *k = key;

		while (*k && *word == *k)
			word++, k++;
		if (!*k && *word == '=')
			return word + 1;
	}
	return NULL;
}

const char *cmdline_get(const char *key)
{
	return find_value(key);
}

const char *cmdline_get_uint(const char *key, uint32_t max, uint32_t *value)
{
	static char reason[64];
	const char *digits = cmdline_get(key);
	uint64_t n = 0;

	if (!digits)
		return NULL;
	if (!*digits)
		goto not_a_number;
	for (; *digits; digits++) {
		if (*digits < '0' || *digits > '9')
			goto not_a_number;
		n = n * 10 + (uint64_t)(*digits - '0');
		if (n > max) {
			snprintf(reason, sizeof(reason), "%s= above %u", key, max);
			return reason;
		}
	}
	*value = (uint32_t)n;
	return NULL;

not_a_number:
	snprintf(reason, sizeof(reason), "%s= needs a number", key);
	return reason;
}

static bool same(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

const char *cmdline_get_choice(const char *key, const char *const *choices, unsigned n,
			       unsigned *index)
{
	static char reason[64];
	const char *word = cmdline_get(key);

	if (!word)
		return NULL;
	for (unsigned i = 0; i < n; i++) {
		if (same(word, choices[i])) {
			*index = i;
			return NULL;
		}
	}
	snprintf(reason, sizeof(reason), "%s= cannot be \"%s\"", key, word);
	return reason;
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

const char *cmdline_parse(char *line, struct cmdline_options *opts)
{
	uint32_t exit_status = 0;
	const char *err;
	char *tests;

	opts->nr_tests = sizeof(default_tests) / sizeof(default_tests[0]);
	for (unsigned i = 0; i < opts->nr_tests; i++)
		opts->tests[i] = default_tests[i];
	if ((err = split_words(line)) || (err = cmdline_get_uint("exit", 255, &exit_status)))
		return err;
	opts->exit_status = (int)exit_status;
	if ((tests = find_value("test")))
		return parse_tests(tests, opts);  /* cuts the word: look "test" up no more */
	return NULL;
}
