/* The guest's command line: "test=NAME[,NAME...]" and "exit=N"; other words are ignored. */
#ifndef RINGVM_GUEST_CMDLINE_H
#define RINGVM_GUEST_CMDLINE_H

#define CMDLINE_MAX_TESTS 32

struct cmdline_options {
	const char *tests[CMDLINE_MAX_TESTS];   /* in the order given */
	unsigned nr_tests;
	int exit_status;                        /* when every test passed */
};

/* Cuts line up in place into opts (later words win); NULL or what was wrong. */
const char *cmdline_parse(char *line, struct cmdline_options *opts);

#endif
