/* ringvm: parse the command line, run the VM, and print any failure — here and only here. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine/cli.h"
#include "machine/vm.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE   2

static void report_stop(const struct vm_stop *stop)
{
	switch (stop->reason) {
	case STOP_ERROR:
		fprintf(stderr, "ringvm: %s\n", stop->err.msg);
		break;
	case STOP_SIGNAL: {
		const char *name = sigabbrev_np(stop->signal);
		fprintf(stderr, "ringvm: stopped by SIG%s\n", name ? name : "?");
		break;
	}
	default:
		break;              /* the guest chose to stop: its status says the rest */
	}
}

int main(int argc, char **argv)
{
	struct error err = { 0 };
	struct vm_config cfg;
	enum cli_command cmd;

	if (cli_parse(argc, argv, &cfg, &cmd, &err)) {
		fprintf(stderr, "ringvm: %s\n", err.msg);
		return EXIT_USAGE;
	}
	if (cmd == CLI_HELP) {
		cli_usage(stdout);
		return 0;
	}
	if (cmd == CLI_VERSION) {
		printf("ringvm %s\n", RINGVM_VERSION);
		return 0;
	}

	struct vm *vm = malloc(sizeof(*vm));
	if (!vm) {
		fprintf(stderr, "ringvm: out of memory\n");
		return EXIT_RUNTIME;
	}
	int status;
	if (vm_create(vm, &cfg, &err) || (cfg.dump_dtb && vm_write_dtb(vm, cfg.dump_dtb, &err))) {
		vm->stop.reason = STOP_ERROR;
		vm->stop.err = err;
		status = EXIT_RUNTIME;
	} else if (cfg.dump_dtb) {
		status = 0;             /* written: the guest does not run */
	} else {
		status = vm_run(vm);
	}
	char stats[4096] = "";
	if (cfg.stats && vm->stop.reason != STOP_NONE && vm->nr_vcpus)
		vm_format_stats(vm, stats, sizeof(stats));
	struct vm_stop stop = vm->stop;
	/* Report after teardown: the terminal is back in cooked mode by then. */
	vm_destroy(vm);
	free(vm);
	report_stop(&stop);
	fputs(stats, stderr);
	return status;
}
