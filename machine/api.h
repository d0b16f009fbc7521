/*
 * Firecracker's API over a unix socket: its routes, its state rules and its error
 * shape, on the main loop (services/http.h), filling the one vm_config the command
 * line fills (machine/api_config.h) and starting the VM through vm_create.
 */
#ifndef RINGVM_API_H
#define RINGVM_API_H

#include <stdbool.h>
#include <stdint.h>

#include "machine/api_config.h"
#include "machine/vm.h"
#include "services/appender.h"
#include "services/http.h"

enum api_state { API_NOT_STARTED, API_RUNNING, API_PAUSED };

struct api {
	struct vm *vm;
	struct api_config cfg;
	struct vm_config vm_cfg;    /* the command line's defaults, completed by InstanceStart */
	const char *id, *version;
	char *sock_path;            /* unlinked at the end; NULL with --no-api */
	bool serving;
	struct http_server http;
	enum api_state state;
	struct http_conn *pausing;  /* a PATCH /vm waiting for every vCPU to park */
	struct http_conn *patching; /* a PATCH /drives waiting for its file to open */
	unsigned patch_index;
	struct loop_op open_op;
	struct appender log, metrics;
	struct loop_op metrics_timer;
	struct __kernel_timespec metrics_period;
	bool timer_armed;
	uint64_t requests, errors;
};

/*
 * Loop thread, vm_open_loop done: serves sock_path (NULL: no socket) on vm's loop.
 * defaults: the command line's vm_config (irq path, seccomp ...), kept for InstanceStart.
 */
int api_init(struct api *api, struct vm *vm, const struct vm_config *defaults,
	     const char *sock_path, const char *id, const char *version, struct error *err);

/* --config-file: loads every object from path. */
int api_load_file(struct api *api, const char *path, struct error *err);

/* InstanceStart: builds the VM from the config; on a user's mistake nothing changed. */
int api_start(struct api *api, struct error *err);

/* After vm_run (its loop cancelled, the filter on): removes the socket file through the ring. */
void api_remove_socket(struct api *api);

/* After vm_destroy (nothing in flight): closes the clients, the files, the socket. */
void api_destroy(struct api *api);

#endif
