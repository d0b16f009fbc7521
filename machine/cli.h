/*
 * The command line: `ringvm run [OPTIONS] [-- GUEST ARGS]`, `--help`, `--version`, and
 * Firecracker's `ringvm --api-sock PATH [--id ID] [--config-file FILE] [--no-api]`.
 */
#ifndef RINGVM_CLI_H
#define RINGVM_CLI_H

#include <stdio.h>

#include "machine/config.h"
#include "services/error.h"

/* CLI_API: --api-sock or --config-file, with or without `run`: Firecracker's invocation. */
enum cli_command { CLI_RUN, CLI_HELP, CLI_VERSION, CLI_API };

/* Parses argv into cfg and cmd; returns 0, or -EINVAL with err naming the bad input. */
int cli_parse(int argc, char **argv, struct vm_config *cfg, enum cli_command *cmd,
	      struct error *err);

/* Writes the usage text. */
void cli_usage(FILE *out);

#endif
