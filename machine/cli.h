/* The command line: `ringvm run [OPTIONS] [-- GUEST ARGS]`, `--help`, `--version`. */
#ifndef RINGVM_CLI_H
#define RINGVM_CLI_H

#include <stdio.h>

#include "machine/config.h"
#include "services/error.h"

enum cli_command { CLI_RUN, CLI_HELP, CLI_VERSION };

/* Parses argv into cfg and cmd; returns 0, or -EINVAL with err naming the bad input. */
int cli_parse(int argc, char **argv, struct vm_config *cfg, enum cli_command *cmd,
	      struct error *err);

/* Writes the usage text. */
void cli_usage(FILE *out);

#endif
