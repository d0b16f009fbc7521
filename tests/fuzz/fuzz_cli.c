/*
 * The command line: the input, split at NUL bytes, is `ringvm`'s argv (at most 64
 * arguments). cli_parse must accept or refuse with a message, and never leave the
 * configuration beyond its arrays' bounds.
 */
#include "fuzz.h"
#include "machine/cli.h"

#define ARGS_MAX 64

static char text[8192];                 /* this input's arguments, NUL-separated */
static struct vm_config cfg;            /* large; rewritten by each parse */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[ARGS_MAX + 2] = { "ringvm" };
	int argc = 1;
	enum cli_command cmd;
	struct error err = { 0 };

	if (size >= sizeof(text))
		size = sizeof(text) - 1;
	memcpy(text, data, size);
	text[size] = 0;
	for (char *p = text; p <= text + size && argc <= ARGS_MAX; p += strlen(p) + 1)
		argv[argc++] = p;
	argv[argc] = NULL;
	memset(&cfg, 0, sizeof(cfg));
	int r = cli_parse(argc, argv, &cfg, &cmd, &err);
	FZ_CHECK(r == 0 || (r < 0 && err.msg[0]), "cli_parse: %d without a message", r);
	if (!r) {
		FZ_CHECK(cfg.nr_disks <= CONFIG_MAX_DISKS && cfg.nr_nets <= CONFIG_MAX_NETS,
			 "%u disks, %u nets", cfg.nr_disks, cfg.nr_nets);
	}
	return 0;
}
