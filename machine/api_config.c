#include "machine/api_config.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "boot/boot.h"

#define API_DEFAULT_MEM_MIB 128
/* Firecracker's default command line, less 8250.nr_uarts=0: ringvm's console is COM1. */
#define API_DEFAULT_BOOT_ARGS "console=ttyS0 reboot=k panic=1 pci=off nomodule i8042.noaux " \
	"i8042.nomux i8042.nopnp i8042.dumbkbd"

enum field_type { F_STRING, F_BOOL, F_UINT, F_ANY };

struct field {
	const char *name;
	enum field_type type;
	bool required;
};

#define NFIELDS(a) (sizeof(a) / sizeof((a)[0]))

static const struct field boot_fields[] = {
	{ "kernel_image_path", F_STRING, false },   /* absent: the built-in guest (ringvm's) */
	{ "boot_args", F_STRING, false },
	{ "initrd_path", F_STRING, false },
};
static const struct field machine_fields[] = {
	{ "vcpu_count", F_UINT, true }, { "mem_size_mib", F_UINT, true }, { "smt", F_BOOL, false },
	{ "cpu_template", F_STRING, false }, { "track_dirty_pages", F_BOOL, false },
	{ "huge_pages", F_STRING, false },
};
static const struct field drive_fields[] = {
	{ "drive_id", F_STRING, true }, { "path_on_host", F_STRING, true },
	{ "is_root_device", F_BOOL, true }, { "is_read_only", F_BOOL, false },
	{ "partuuid", F_STRING, false }, { "cache_type", F_STRING, false },
	{ "io_engine", F_STRING, false }, { "rate_limiter", F_ANY, false },
	{ "socket", F_STRING, false },
};
static const struct field drive_patch_fields[] = {
	{ "drive_id", F_STRING, true }, { "path_on_host", F_STRING, false },
	{ "rate_limiter", F_ANY, false },
};
static const struct field net_fields[] = {
	{ "iface_id", F_STRING, true }, { "host_dev_name", F_STRING, true },
	{ "guest_mac", F_STRING, false }, { "rx_rate_limiter", F_ANY, false },
	{ "tx_rate_limiter", F_ANY, false },
};
static const struct field vsock_fields[] = {
	{ "guest_cid", F_UINT, true }, { "uds_path", F_STRING, true }, { "vsock_id", F_STRING, false },
};
static const struct field logger_fields[] = {
	{ "log_path", F_STRING, false }, { "level", F_STRING, false },
	{ "show_level", F_BOOL, false }, { "show_log_origin", F_BOOL, false },
	{ "module", F_STRING, false },
};
static const struct field metrics_fields[] = {
	{ "metrics_path", F_STRING, true },
};

static const char *type_name(enum field_type t)
{
	return t == F_STRING ? "a string" : t == F_BOOL ? "a boolean" : "a non-negative integer";
}

/* The object's keys against what may be there, of the right types, the required ones present. */
static int check_fields(const json_t *obj, const char *what, const struct field *fields, size_t n,
			bool patch, struct error *err)
{
	const char *key;
	json_t *value;

	if (!json_is_object(obj))
		return error_set(err, EINVAL, "%s: the body must be a JSON object", what);
	json_object_foreach((json_t *)obj, key, value) {
		size_t i = 0;
		while (i < n && strcmp(fields[i].name, key))
			i++;
		if (i == n)
			return error_set(err, EINVAL, "%s: unknown field `%s`", what, key);
		bool ok = fields[i].type == F_ANY ||
			  (fields[i].type == F_STRING && json_is_string(value)) ||
			  (fields[i].type == F_BOOL && json_is_boolean(value)) ||
			  (fields[i].type == F_UINT && json_is_integer(value) &&
			   json_integer_value(value) >= 0);
		if (!ok)
			return error_set(err, EINVAL, "%s: `%s` must be %s", what, key,
					 type_name(fields[i].type));
	}
	for (size_t i = 0; i < n && !patch; i++)
		if (fields[i].required && !json_object_get(obj, fields[i].name))
			return error_set(err, EINVAL, "%s: missing field `%s`", what, fields[i].name);
	return 0;
}

static json_t *parse(const char *text, const char *what, struct error *err)
{
	json_error_t jerr;
	json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);

	if (!root)
		error_set(err, EINVAL, "%s: malformed JSON at line %d column %d: %s", what, jerr.line,
			  jerr.column, jerr.text);
	return root;
}

static const char *str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* Copies a string field into dst if present; too long is an error. */
static int copy_str(const json_t *obj, const char *key, char *dst, size_t size, const char *what,
		    struct error *err)
{
	const char *s = str(obj, key);

	if (!s)
		return 0;
	if (strlen(s) >= size)
		return error_set(err, EINVAL, "%s: `%s` is longer than %zu bytes", what, key, size - 1);
	strcpy(dst, s);
	return 0;
}

static bool boolean(const json_t *obj, const char *key, bool dflt)
{
	json_t *v = json_object_get(obj, key);

	return v ? json_is_true(v) : dflt;
}

/* A rate limiter may be absent, null or empty: ringvm limits nothing. */
static int check_rate_limiter(const json_t *obj, const char *key, const char *what,
			      struct error *err)
{
	json_t *rl = json_object_get(obj, key);

	if (!rl || json_is_null(rl))
		return 0;
	if (!json_is_object(rl))
		return error_set(err, EINVAL, "%s: `%s` must be an object", what, key);
	const char *k;
	json_t *v;
	json_object_foreach(rl, k, v) {
		if (strcmp(k, "bandwidth") && strcmp(k, "ops"))
			return error_set(err, EINVAL, "%s: unknown field `%s` in `%s`", what, k, key);
		if (!json_is_null(v))
			return error_set(err, EINVAL, "%s: `%s`: rate limiting is not implemented "
					 "by ringvm", what, key);
	}
	return 0;
}

/* What an identifier in a path and a body may be: Firecracker's rule, alphanumerics and _. */
static int check_id(const char *id, const char *what, struct error *err)
{
	size_t n = strlen(id);

	if (!n || n >= API_ID_MAX)
		return error_set(err, EINVAL, "%s: an id must be 1 to %d characters", what,
				 API_ID_MAX - 1);
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z') ||
		      (id[i] >= '0' && id[i] <= '9') || id[i] == '_'))
			return error_set(err, EINVAL, "%s: invalid id '%s': only letters, digits "
					 "and _", what, id);
	return 0;
}

static int check_path_id(const char *path_id, const char *body_id, const char *what,
			 struct error *err)
{
	if (check_id(path_id, what, err))
		return -EINVAL;
	if (strcmp(path_id, body_id))
		return error_set(err, EINVAL, "%s: the id from the path [%s] does not match the id "
				 "from the body [%s]!", what, path_id, body_id);
	return 0;
}

void api_config_init(struct api_config *c)
{
	*c = (struct api_config){ .vcpu_count = 1, .mem_size_mib = API_DEFAULT_MEM_MIB };
	strcpy(c->cpu_template, "None");
	strcpy(c->huge_pages, "None");
}

void api_config_destroy(struct api_config *c)
{
	free(c->kernel);
	free(c->initrd);
	free(c->boot_args);
	free(c->cmdline);
	c->kernel = c->initrd = c->boot_args = c->cmdline = NULL;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int put_boot_source(struct api_config *c, const json_t *o, struct error *err)
{
	const char *what = "boot-source";

	if (check_fields(o, what, boot_fields, NFIELDS(boot_fields), false, err))
		return -EINVAL;
	const char *args = str(o, "boot_args");
	if (args && strlen(args) >= BOOT_CMDLINE_MAX)
		return error_set(err, EINVAL, "%s: `boot_args` is longer than %d bytes", what,
				 BOOT_CMDLINE_MAX - 1);
	const char *kernel = str(o, "kernel_image_path"), *initrd = str(o, "initrd_path");
	if ((kernel && !*kernel) || (initrd && !*initrd))
		return error_set(err, EINVAL, "%s: an empty path", what);
	/* The whole object is replaced, as Firecracker does. */
	free(c->kernel);
	free(c->initrd);
	free(c->boot_args);
	c->kernel = dup_or_null(kernel);
	c->initrd = dup_or_null(initrd);
	c->boot_args = dup_or_null(args);
	c->has_boot_source = true;
	return 0;
}

static int put_machine(struct api_config *c, const json_t *o, bool patch, struct error *err)
{
	const char *what = "machine-config";
	struct api_config n = *c;
	json_t *v;

	if (check_fields(o, what, machine_fields, NFIELDS(machine_fields), patch, err))
		return -EINVAL;
	if (!patch) {           /* PUT replaces: what is not given goes back to its default */
		n.smt = n.track_dirty_pages = false;
		strcpy(n.cpu_template, "None");
		strcpy(n.huge_pages, "None");
	}
	if ((v = json_object_get(o, "vcpu_count"))) {
		json_int_t x = json_integer_value(v);
		if (x < 1 || x > API_MAX_VCPUS || x > CONFIG_MAX_CPUS)
			return error_set(err, EINVAL, "%s: `vcpu_count` must be between 1 and %d", what,
					 API_MAX_VCPUS);
		n.vcpu_count = (unsigned)x;
	}
	if ((v = json_object_get(o, "mem_size_mib"))) {
		json_int_t x = json_integer_value(v);
		if (x < (json_int_t)(CONFIG_MIN_MEMORY >> 20) || x > (json_int_t)(CONFIG_MAX_MEMORY >> 20))
			return error_set(err, EINVAL, "%s: `mem_size_mib` must be between %llu and %llu",
					 what, CONFIG_MIN_MEMORY >> 20, CONFIG_MAX_MEMORY >> 20);
		n.mem_size_mib = (unsigned)x;
	}
	n.smt = boolean(o, "smt", n.smt);
	n.track_dirty_pages = boolean(o, "track_dirty_pages", n.track_dirty_pages);
	if (n.smt)
		return error_set(err, EINVAL, "%s: `smt` true is not supported by ringvm", what);
	if (n.track_dirty_pages)
		return error_set(err, EINVAL, "%s: `track_dirty_pages` true is not supported by ringvm "
				 "(it makes no snapshots)", what);
	const char *t = str(o, "cpu_template");
	if (t && strcmp(t, "None"))
		return error_set(err, EINVAL, "%s: `cpu_template` '%s': ringvm has no CPU templates "
				 "(only \"None\")", what, t);
	const char *h = str(o, "huge_pages");
	if (h && strcmp(h, "None"))
		return error_set(err, EINVAL, "%s: `huge_pages` '%s': only \"None\" is supported", what, h);
	*c = n;
	return 0;
}

static int put_drive(struct api_config *c, const char *id, const json_t *o, struct error *err)
{
	const char *what = "drive";
	struct api_drive d = { 0 };

	if (check_fields(o, what, drive_fields, NFIELDS(drive_fields), false, err) ||
	    check_path_id(id, str(o, "drive_id"), what, err) ||
	    check_rate_limiter(o, "rate_limiter", what, err))
		return -EINVAL;
	if (json_object_get(o, "socket"))
		return error_set(err, EINVAL, "%s: vhost-user drives (`socket`) are not supported", what);
	strcpy(d.id, id);
	strcpy(d.cache_type, "Unsafe");
	strcpy(d.io_engine, "Sync");
	if (copy_str(o, "path_on_host", d.path, sizeof(d.path), what, err) ||
	    copy_str(o, "partuuid", d.partuuid, sizeof(d.partuuid), what, err) ||
	    copy_str(o, "cache_type", d.cache_type, sizeof(d.cache_type), what, err) ||
	    copy_str(o, "io_engine", d.io_engine, sizeof(d.io_engine), what, err))
		return -EINVAL;
	if (!d.path[0])
		return error_set(err, EINVAL, "%s: `path_on_host` is empty", what);
	if (strcmp(d.cache_type, "Unsafe") && strcmp(d.cache_type, "Writeback"))
		return error_set(err, EINVAL, "%s: `cache_type` must be \"Unsafe\" or \"Writeback\"", what);
	if (strcmp(d.io_engine, "Sync") && strcmp(d.io_engine, "Async"))
		return error_set(err, EINVAL, "%s: `io_engine` must be \"Sync\" or \"Async\"", what);
	d.is_root_device = boolean(o, "is_root_device", false);
	d.is_read_only = boolean(o, "is_read_only", false);
	unsigned i = 0;
	while (i < c->nr_drives && strcmp(c->drives[i].id, id))
		i++;
	for (unsigned j = 0; j < c->nr_drives && d.is_root_device; j++)
		if (j != i && c->drives[j].is_root_device)
			return error_set(err, EINVAL, "%s: a root block device already exists!", what);
	if (i == c->nr_drives && c->nr_drives == CONFIG_MAX_DISKS)
		return error_set(err, EINVAL, "%s: at most %d drives", what, CONFIG_MAX_DISKS);
	c->drives[i] = d;
	if (i == c->nr_drives)
		c->nr_drives++;
	return 0;
}

int api_config_patch_drive(struct api_config *c, const char *id, const char *json,
			   unsigned *index, struct error *err)
{
	const char *what = "drive";
	json_t *o = parse(json, what, err);
	int r = -EINVAL;

	if (!o)
		return r;
	if (check_fields(o, what, drive_patch_fields, NFIELDS(drive_patch_fields), false, err) ||
	    check_path_id(id, str(o, "drive_id"), what, err) ||
	    check_rate_limiter(o, "rate_limiter", what, err))
		goto out;
	unsigned i = 0;
	while (i < c->nr_drives && strcmp(c->drives[i].id, id))
		i++;
	if (i == c->nr_drives) {
		error_set(err, EINVAL, "%s: no drive with id '%s'", what, id);
		goto out;
	}
	const char *path = str(o, "path_on_host");
	if (path && (!*path || strlen(path) >= API_PATH_MAX)) {
		error_set(err, EINVAL, "%s: `path_on_host` must be 1 to %d bytes", what, API_PATH_MAX - 1);
		goto out;
	}
	if (path)
		strcpy(c->drives[i].path, path);
	*index = i;
	r = 0;
out:
	json_decref(o);
	return r;
}

static int parse_mac(const char *text, uint8_t mac[6])
{
	unsigned m[6];
	char tail;

	if (sscanf(text, "%2x:%2x:%2x:%2x:%2x:%2x%c", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5],
		   &tail) != 6 || strlen(text) != 17)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)m[i];
	return 0;
}

static int put_net(struct api_config *c, const char *id, const json_t *o, struct error *err)
{
	const char *what = "network-interface";
	struct api_net n = { 0 };
	uint8_t mac[6];

	if (check_fields(o, what, net_fields, NFIELDS(net_fields), false, err) ||
	    check_path_id(id, str(o, "iface_id"), what, err) ||
	    check_rate_limiter(o, "rx_rate_limiter", what, err) ||
	    check_rate_limiter(o, "tx_rate_limiter", what, err))
		return -EINVAL;
	strcpy(n.id, id);
	if (copy_str(o, "host_dev_name", n.host_dev_name, sizeof(n.host_dev_name), what, err) ||
	    copy_str(o, "guest_mac", n.guest_mac, sizeof(n.guest_mac), what, err))
		return -EINVAL;
	if (!n.host_dev_name[0])
		return error_set(err, EINVAL, "%s: `host_dev_name` is empty", what);
	if (n.guest_mac[0] && (parse_mac(n.guest_mac, mac) || (mac[0] & 1)))
		return error_set(err, EINVAL, "%s: `guest_mac` '%s' is not a unicast MAC address "
				 "(XX:XX:XX:XX:XX:XX)", what, n.guest_mac);
	unsigned i = 0;
	while (i < c->nr_nets && strcmp(c->nets[i].id, id))
		i++;
	for (unsigned j = 0; j < c->nr_nets; j++)
		if (j != i && !strcmp(c->nets[j].host_dev_name, n.host_dev_name))
			return error_set(err, EINVAL, "%s: the host device %s is already in use", what,
					 n.host_dev_name);
	if (i == c->nr_nets && c->nr_nets == CONFIG_MAX_NETS)
		return error_set(err, EINVAL, "%s: at most %d network interfaces", what, CONFIG_MAX_NETS);
	c->nets[i] = n;
	if (i == c->nr_nets)
		c->nr_nets++;
	return 0;
}

static int put_vsock(struct api_config *c, const json_t *o, struct error *err)
{
	const char *what = "vsock";
	char uds[sizeof(c->vsock_uds)] = "", vid[API_ID_MAX] = "";

	if (check_fields(o, what, vsock_fields, NFIELDS(vsock_fields), false, err) ||
	    copy_str(o, "uds_path", uds, sizeof(uds), what, err) ||
	    copy_str(o, "vsock_id", vid, sizeof(vid), what, err))
		return -EINVAL;
	json_int_t cid = json_integer_value(json_object_get(o, "guest_cid"));
	/* 0-2 are the hypervisor's, the reserved and the host's; the CID is 32 bits. */
	if (cid < 3 || cid > 0xffffffffLL)
		return error_set(err, EINVAL, "%s: `guest_cid` must be between 3 and 4294967295", what);
	if (!uds[0])
		return error_set(err, EINVAL, "%s: `uds_path` is empty", what);
	c->has_vsock = true;
	c->guest_cid = (unsigned)cid;
	strcpy(c->vsock_uds, uds);
	strcpy(c->vsock_id, vid);
	return 0;
}

static int put_logger(struct api_config *c, const json_t *o, struct error *err)
{
	static const char *const levels[] = { "Off", "Error", "Warning", "Info", "Debug", "Trace" };
	const char *what = "logger";
	char path[API_PATH_MAX] = "";

	if (check_fields(o, what, logger_fields, NFIELDS(logger_fields), false, err) ||
	    copy_str(o, "log_path", path, sizeof(path), what, err))
		return -EINVAL;
	const char *level = str(o, "level");
	const char *found = "Info";
	if (level) {
		found = NULL;
		/* Firecracker takes the level in any case. */
		for (size_t i = 0; i < NFIELDS(levels) && !found; i++)
			if (!strcasecmp(level, levels[i]))
				found = levels[i];
		if (!found)
			return error_set(err, EINVAL, "%s: `level` '%s' must be Off, Error, Warning, Info, "
					 "Debug or Trace", what, level);
	}
	c->has_logger = true;
	strcpy(c->log_path, path);
	strcpy(c->log_level, found);
	c->show_level = boolean(o, "show_level", false);
	c->show_log_origin = boolean(o, "show_log_origin", false);
	return 0;
}

static int put_metrics(struct api_config *c, const json_t *o, struct error *err)
{
	const char *what = "metrics";
	char path[API_PATH_MAX] = "";

	if (check_fields(o, what, metrics_fields, NFIELDS(metrics_fields), false, err) ||
	    copy_str(o, "metrics_path", path, sizeof(path), what, err))
		return -EINVAL;
	if (!path[0])
		return error_set(err, EINVAL, "%s: `metrics_path` is empty", what);
	c->has_metrics = true;
	strcpy(c->metrics_path, path);
	return 0;
}

/* Parses json and hands the object to put; the config changes only if put succeeds. */
static int with_object(struct api_config *c, const char *json, const char *what,
		       int (*put)(struct api_config *, const json_t *, struct error *),
		       struct error *err)
{
	json_t *o = parse(json, what, err);

	if (!o)
		return -EINVAL;
	int r = put(c, o, err);
	json_decref(o);
	return r;
}

int api_config_put_boot_source(struct api_config *c, const char *json, struct error *err)
{
	return with_object(c, json, "boot-source", put_boot_source, err);
}

int api_config_put_machine(struct api_config *c, const char *json, bool patch, struct error *err)
{
	json_t *o = parse(json, "machine-config", err);

	if (!o)
		return -EINVAL;
	int r = put_machine(c, o, patch, err);
	json_decref(o);
	return r;
}

int api_config_put_drive(struct api_config *c, const char *id, const char *json, struct error *err)
{
	json_t *o = parse(json, "drive", err);

	if (!o)
		return -EINVAL;
	int r = put_drive(c, id, o, err);
	json_decref(o);
	return r;
}

int api_config_put_net(struct api_config *c, const char *id, const char *json, struct error *err)
{
	json_t *o = parse(json, "network-interface", err);

	if (!o)
		return -EINVAL;
	int r = put_net(c, id, o, err);
	json_decref(o);
	return r;
}

int api_config_put_vsock(struct api_config *c, const char *json, struct error *err)
{
	return with_object(c, json, "vsock", put_vsock, err);
}

int api_config_put_logger(struct api_config *c, const char *json, struct error *err)
{
	return with_object(c, json, "logger", put_logger, err);
}

int api_config_put_metrics(struct api_config *c, const char *json, struct error *err)
{
	return with_object(c, json, "metrics", put_metrics, err);
}

/* A list under key of objects with an id field, each through put. */
static int load_list(struct api_config *c, const json_t *root, const char *key, const char *id_key,
		     int (*put)(struct api_config *, const char *, const json_t *, struct error *),
		     struct error *err)
{
	json_t *list = json_object_get(root, key);
	size_t i;
	json_t *item;

	if (!list)
		return 0;
	if (!json_is_array(list))
		return error_set(err, EINVAL, "config file: \"%s\" must be a list", key);
	json_array_foreach(list, i, item) {
		const char *id = json_is_object(item) ? str(item, id_key) : NULL;
		if (!id)
			return error_set(err, EINVAL, "config file: \"%s\"[%zu] needs a string `%s`",
					 key, i, id_key);
		if (put(c, id, item, err))
			return -EINVAL;
	}
	return 0;
}

int api_config_load(struct api_config *c, const char *json, struct error *err)
{
	static const char *const keys[] = {
		"boot-source", "machine-config", "drives", "network-interfaces", "vsock", "logger",
		"metrics",
	};
	json_t *root = parse(json, "config file", err), *o;
	const char *key;
	json_t *value;
	int r = -EINVAL;

	if (!root)
		return r;
	if (!json_is_object(root)) {
		error_set(err, EINVAL, "config file: must be a JSON object");
		goto out;
	}
	json_object_foreach(root, key, value) {
		size_t i = 0;
		while (i < NFIELDS(keys) && strcmp(keys[i], key))
			i++;
		if (i == NFIELDS(keys)) {
			error_set(err, EINVAL, "config file: unknown or unsupported section \"%s\"", key);
			goto out;
		}
	}
	if (!(o = json_object_get(root, "boot-source"))) {
		error_set(err, EINVAL, "config file: \"boot-source\" is required");
		goto out;
	}
	if (put_boot_source(c, o, err) ||
	    ((o = json_object_get(root, "machine-config")) && put_machine(c, o, false, err)) ||
	    load_list(c, root, "drives", "drive_id", put_drive, err) ||
	    load_list(c, root, "network-interfaces", "iface_id", put_net, err) ||
	    ((o = json_object_get(root, "vsock")) && put_vsock(c, o, err)) ||
	    ((o = json_object_get(root, "logger")) && put_logger(c, o, err)) ||
	    ((o = json_object_get(root, "metrics")) && put_metrics(c, o, err)))
		goto out;
	r = 0;
out:
	json_decref(root);
	return r;
}

/* API-configured VMs use virtio-mmio, as Firecracker's do: their guests boot with pci=off. */
static void api_config_use_mmio(struct vm_config *cfg)
{
	cfg->transport = VIRTIO_TRANSPORT_MMIO;
}

/* The device's own limits: uds_path leaves room in sun_path for the "_PORT" of guest connects. */
static int api_config_set_vsock(const struct api_config *c, struct vm_config *cfg, struct error *err)
{
	if (strlen(c->vsock_uds) > VSOCK_UDS_MAX)
		return error_set(err, EINVAL, "vsock: `uds_path` must be at most %zu bytes", VSOCK_UDS_MAX);
	/* U32_MAX is VMADDR_CID_ANY: no guest's address. */
	if (c->guest_cid > UINT32_MAX - 1)
		return error_set(err, EINVAL, "vsock: `guest_cid` must be between 3 and %u", UINT32_MAX - 1);
	cfg->vsock = (struct vsock_config){ .enabled = true, .guest_cid = c->guest_cid };
	strcpy(cfg->vsock.uds_path, c->vsock_uds);
	return 0;
}

/* The kernel command line: boot_args (or the default), then the root drive's root=. */
static int build_cmdline(struct api_config *c, struct error *err)
{
	const struct api_drive *root = NULL;
	char rootarg[128] = "";

	free(c->cmdline);
	c->cmdline = NULL;
	for (unsigned i = 0; i < c->nr_drives; i++)
		if (c->drives[i].is_root_device)
			root = &c->drives[i];
	if (!c->kernel && !c->boot_args && !root)
		return 0;               /* the built-in guest's own default */
	const char *args = c->boot_args ? c->boot_args : c->kernel ? API_DEFAULT_BOOT_ARGS : "";
	/* Firecracker's rule: the root drive is the first, /dev/vda, unless a partuuid names it. */
	if (root && root->partuuid[0])
		snprintf(rootarg, sizeof(rootarg), "root=PARTUUID=%s %s", root->partuuid,
			 root->is_read_only ? "ro" : "rw");
	else if (root)
		snprintf(rootarg, sizeof(rootarg), "root=/dev/vda %s", root->is_read_only ? "ro" : "rw");
	size_t len = strlen(args) + 1 + strlen(rootarg) + 1;
	if (len > BOOT_CMDLINE_MAX)
		return error_set(err, EINVAL, "the kernel command line would be %zu bytes, the limit "
				 "is %d", len - 1, BOOT_CMDLINE_MAX - 1);
	if (!(c->cmdline = malloc(len)))
		return error_set(err, ENOMEM, "out of memory");
	snprintf(c->cmdline, len, "%s%s%s", args, *args && *rootarg ? " " : "", rootarg);
	return 0;
}

int api_config_to_vm(struct api_config *c, struct vm_config *cfg, struct error *err)
{
	int r = build_cmdline(c, err);

	if (r)
		return r;
	cfg->kernel = c->kernel;
	cfg->initrd = c->initrd;
	cfg->cmdline = c->cmdline;
	cfg->guest_args = NULL;
	cfg->nr_guest_args = 0;
	cfg->cpus = c->vcpu_count;
	cfg->memory = (uint64_t)c->mem_size_mib << 20;
	/* The root drive first: it is /dev/vda. */
	cfg->nr_disks = 0;
	for (int pass = 0; pass < 2; pass++)
		for (unsigned i = 0; i < c->nr_drives; i++) {
			const struct api_drive *d = &c->drives[i];
			if (d->is_root_device != !pass)
				continue;
			struct disk_config *dc = &cfg->disks[cfg->nr_disks++];
			*dc = (struct disk_config){ .readonly = d->is_read_only, .nr_iothreads = 1 };
			strcpy(dc->path, d->path);
			/* The guest sees the drive's id as the disk's serial, as Firecracker's does. */
			snprintf(dc->serial, sizeof(dc->serial), "%.*s", BLK_SERIAL_MAX, d->id);
		}
	cfg->nr_nets = 0;
	for (unsigned i = 0; i < c->nr_nets; i++) {
		struct net_config *nc = &cfg->nets[cfg->nr_nets++];
		*nc = (struct net_config){ .queue_pairs = 1, .nr_iothreads = 1 };
		strcpy(nc->tap, c->nets[i].host_dev_name);
		nc->has_mac = c->nets[i].guest_mac[0] && !parse_mac(c->nets[i].guest_mac, nc->mac);
	}
	api_config_use_mmio(cfg);
	return c->has_vsock ? api_config_set_vsock(c, cfg, err) : 0;
}

static json_t *machine_object(const struct api_config *c)
{
	return json_pack("{s:i, s:i, s:b, s:b, s:s}", "vcpu_count", (json_int_t)c->vcpu_count,
			 "mem_size_mib", (json_int_t)c->mem_size_mib, "smt", c->smt,
			 "track_dirty_pages", c->track_dirty_pages, "huge_pages", c->huge_pages);
}

static char *dump(json_t *o)
{
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return s;
}

char *api_config_machine_json(const struct api_config *c)
{
	return dump(machine_object(c));
}

char *api_config_json(const struct api_config *c)
{
	json_t *root = json_object(), *drives = json_array(), *nets = json_array();

	if (!root || !drives || !nets) {
		json_decref(root);
		json_decref(drives);
		json_decref(nets);
		return NULL;
	}
	json_object_set_new(root, "machine-config", machine_object(c));
	if (c->has_boot_source) {
		json_t *b = json_object();
		if (c->kernel)
			json_object_set_new(b, "kernel_image_path", json_string(c->kernel));
		if (c->initrd)
			json_object_set_new(b, "initrd_path", json_string(c->initrd));
		if (c->boot_args)
			json_object_set_new(b, "boot_args", json_string(c->boot_args));
		json_object_set_new(root, "boot-source", b);
	}
	for (unsigned i = 0; i < c->nr_drives; i++) {
		const struct api_drive *d = &c->drives[i];
		json_t *o = json_pack("{s:s, s:s, s:b, s:b, s:s, s:s}", "drive_id", d->id,
				      "path_on_host", d->path, "is_root_device", d->is_root_device,
				      "is_read_only", d->is_read_only, "cache_type", d->cache_type,
				      "io_engine", d->io_engine);
		if (o && d->partuuid[0])
			json_object_set_new(o, "partuuid", json_string(d->partuuid));
		json_array_append_new(drives, o);
	}
	json_object_set_new(root, "drives", drives);
	for (unsigned i = 0; i < c->nr_nets; i++) {
		const struct api_net *n = &c->nets[i];
		json_t *o = json_pack("{s:s, s:s}", "iface_id", n->id, "host_dev_name", n->host_dev_name);
		if (o && n->guest_mac[0])
			json_object_set_new(o, "guest_mac", json_string(n->guest_mac));
		json_array_append_new(nets, o);
	}
	json_object_set_new(root, "network-interfaces", nets);
	json_object_set_new(root, "vsock", !c->has_vsock ? json_null() :
			    json_pack("{s:i, s:s}", "guest_cid", (json_int_t)c->guest_cid,
				      "uds_path", c->vsock_uds));
	json_object_set_new(root, "logger", !c->has_logger ? json_null() :
			    json_pack("{s:s, s:s, s:b, s:b}", "log_path", c->log_path, "level",
				      c->log_level, "show_level", c->show_level, "show_log_origin",
				      c->show_log_origin));
	json_object_set_new(root, "metrics", !c->has_metrics ? json_null() :
			    json_pack("{s:s}", "metrics_path", c->metrics_path));
	json_object_set_new(root, "balloon", json_null());
	json_object_set_new(root, "mmds-config", json_null());
	return dump(root);
}
