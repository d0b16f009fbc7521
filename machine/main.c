/* ringvm: parse the command line, run the VM, and print any failure — here and only here. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine/api.h"
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

/*
 * Firecracker's front end: the loop serves the API (or nothing, with --no-api) until
 * InstanceStart has built the VM from it, or a config file does at once; then the VM runs.
 */
static int run_api(struct vm *vm, struct api *api, const struct vm_config *cfg)
{
	struct error err = { 0 };
	int r;

	if (!(r = vm_open_loop(vm, &err)) &&
	    !(r = api_init(api, vm, cfg, cfg->no_api ? NULL : cfg->api_sock, cfg->api_id,
			   RINGVM_VERSION, &err)) &&
	    cfg->config_file && !(r = api_load_file(api, cfg->config_file, &err)))
		r = api_start(api, &err);
	if (r) {
		vm_fail(vm, err.code, "%s", err.msg);
		return EXIT_RUNTIME;
	}
	if (!cfg->config_file) {
		r = loop_run(&vm->loop);
		if (r)
			vm_fail(vm, -r, "the I/O loop failed: %s", strerror(-r));
	}
	/* Stopped before InstanceStart (a signal, a failure): no VM to run. */
	if (vm->stop.reason != STOP_NONE || api->state == API_NOT_STARTED)
		return vm->stop.status;
	int status = vm_run(vm);
	api_remove_socket(api);
	return status;
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

	struct vm *vm = calloc(1, sizeof(*vm));
	struct api *api = calloc(1, sizeof(*api));
	if (!vm || !api) {
		fprintf(stderr, "ringvm: out of memory\n");
		return EXIT_RUNTIME;
	}
	vm_init(vm);
	int status;
	if (cmd == CLI_API) {
		status = run_api(vm, api, &cfg);
	} else if (vm_create(vm, &cfg, &err) || (cfg.dump_dtb && vm_write_dtb(vm, cfg.dump_dtb, &err))) {
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
	if (api->vm)
		api_destroy(api);
	free(api);
	report_stop(&stop);
	fputs(stats, stderr);
	return status;
}
