/*
 * Firecracker's configuration objects (boot-source, machine-config, drives,
 * network-interfaces, vsock, logger, metrics) as its API and --config-file give
 * them, checked field by field, and turned into the one struct vm_config the
 * command line fills too.
 */
#ifndef RINGVM_API_CONFIG_H
#define RINGVM_API_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "machine/config.h"
#include "services/error.h"

#define API_ID_MAX      64
#define API_PATH_MAX    4096
#define API_MAX_VCPUS   32          /* Firecracker's limit, which its clients expect */

struct api_drive {
	char id[API_ID_MAX];
	char path[API_PATH_MAX];
	bool is_root_device, is_read_only;
	char partuuid[64];          /* "" when not given */
	char cache_type[16];        /* "Unsafe" (default) or "Writeback" */
	char io_engine[8];          /* "Sync" (default) or "Async" */
};

struct api_net {
	char id[API_ID_MAX];
	char host_dev_name[16];
	char guest_mac[18];         /* "" when not given */
};

struct api_config {
	bool has_boot_source;
	char *kernel, *initrd, *boot_args;    /* NULL when not given */
	unsigned vcpu_count;
	unsigned mem_size_mib;
	bool smt, track_dirty_pages;
	char cpu_template[8];       /* "None" unless given */
	char huge_pages[8];         /* "None" or "2M" */
	struct api_drive drives[CONFIG_MAX_DISKS];
	unsigned nr_drives;
	struct api_net nets[CONFIG_MAX_NETS];
	unsigned nr_nets;
	bool has_vsock;
	unsigned guest_cid;
	char vsock_uds[108];
	char vsock_id[API_ID_MAX];
	bool has_logger;
	char log_path[API_PATH_MAX];
	char log_level[8];          /* Error, Warning, Info, Debug, Trace or Off */
	bool show_level, show_log_origin;
	bool has_metrics;
	char metrics_path[API_PATH_MAX];
	char *cmdline;              /* built by api_config_to_vm, owned here */
};

/* Firecracker's defaults: 1 vCPU, 128 MiB, nothing else. */
void api_config_init(struct api_config *c);

/* Frees what the config owns. */
void api_config_destroy(struct api_config *c);

/* PUT /boot-source. Each api_config_put_* returns 0 or -EINVAL with err's one line. */
int api_config_put_boot_source(struct api_config *c, const char *json, struct error *err);

/* PUT /machine-config (patch: PATCH, where absent fields keep their values). */
int api_config_put_machine(struct api_config *c, const char *json, bool patch, struct error *err);

/* PUT /drives/{id}: adds or replaces the drive named id. */
int api_config_put_drive(struct api_config *c, const char *id, const char *json, struct error *err);

/* PATCH /drives/{id}: a new path_on_host for an existing drive; *index says which. */
int api_config_patch_drive(struct api_config *c, const char *id, const char *json,
			   unsigned *index, struct error *err);

/* PUT /network-interfaces/{id}. */
int api_config_put_net(struct api_config *c, const char *id, const char *json, struct error *err);

/* PUT /vsock. */
int api_config_put_vsock(struct api_config *c, const char *json, struct error *err);

/* PUT /logger. */
int api_config_put_logger(struct api_config *c, const char *json, struct error *err);

/* PUT /metrics. */
int api_config_put_metrics(struct api_config *c, const char *json, struct error *err);

/* A --config-file's text: every object at once. */
int api_config_load(struct api_config *c, const char *json, struct error *err);

/* Fills cfg (already holding the command line's defaults) from c; c must outlive cfg. */
int api_config_to_vm(struct api_config *c, struct vm_config *cfg, struct error *err);

/* GET /machine-config's body (malloc'd). */
char *api_config_machine_json(const struct api_config *c);

/* GET /vm/config's body (malloc'd): every object, as Firecracker returns them. */
char *api_config_json(const struct api_config *c);

#endif
