#include "machine/api.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "machine/device_stats.h"
#include "machine/stats.h"
#include "services/util.h"

#define METRICS_PERIOD_S 60
#define CONFIG_FILE_MAX  (1 << 20)

static const char *const state_names[] = { "Not started", "Running", "Paused" };

static void api_log(struct api *api, const char *level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static bool level_enabled(const struct api *api, const char *level)
{
	static const char *const order[] = { "Off", "Error", "Warning", "Info", "Debug", "Trace" };
	int want = 0, have = 0;

	for (int i = 0; i < 6; i++) {
		if (!strcmp(order[i], api->cfg.log_level))
			want = i;
		if (!strcmp(order[i], level))
			have = i;
	}
	return have && have <= want;
}

static void api_log(struct api *api, const char *level, const char *fmt, ...)
{
	char line[512], msg[400];
	struct timespec ts;
	va_list ap;

	if (api->log.fd < 0 || !level_enabled(api, level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(line, sizeof(line), "%lld.%09ld [%s%s%s%s] %s\n", (long long)ts.tv_sec, ts.tv_nsec,
		 api->id, api->cfg.show_level ? ":" : "", api->cfg.show_level ? level : "",
		 api->cfg.show_log_origin ? ":machine/api.c" : "", msg);
	appender_write(&api->log, line);
}

static void respond_json(struct api *api, struct http_conn *conn, int status, json_t *body)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;

	json_decref(body);
	if (status >= 400)
		api->errors++;
	http_respond(conn, status, text);
	free(text);
}

static void fault(struct api *api, struct http_conn *conn, int status, const char *msg)
{
	api_log(api, "Error", "%s", msg);
	respond_json(api, conn, status, json_pack("{s:s}", "fault_message", msg));
}

static void respond_text(struct api *api, struct http_conn *conn, char *json)
{
	if (!json) {
		fault(api, conn, 500, "out of memory");
		return;
	}
	http_respond(conn, 200, json);
	free(json);
}

static void not_after_start(struct api *api, struct http_conn *conn)
{
	fault(api, conn, 400, "The requested operation is not supported after starting the microVM.");
}

static void not_before_start(struct api *api, struct http_conn *conn)
{
	fault(api, conn, 400, "The requested operation is not supported before starting the microVM.");
}

/* A config update's result: 204, or 400 with its one line. */
static void config_result(struct api *api, struct http_conn *conn, int r, const struct error *err)
{
	if (r)
		fault(api, conn, 400, err->msg);
	else
		http_respond(conn, 204, NULL);
}

static void get_instance_info(struct api *api, struct http_conn *conn)
{
	respond_json(api, conn, 200, json_pack("{s:s, s:s, s:s, s:s}", "id", api->id, "state",
					       state_names[api->state], "vmm_version", api->version,
					       "app_name", "ringvm"));
}

/* ringvm's own: how interrupts reach the guest, and each vCPU's exits. */
static json_t *vcpu_exits(const struct vm *vm)
{
	json_t *list = json_array();

	for (unsigned i = 0; list && i < vm->nr_vcpus; i++) {
		const struct vcpu *v = &vm->vcpus[i];
		json_array_append_new(list, json_pack("{s:i, s:I, s:I, s:I, s:I}", "vcpu", (json_int_t)i,
			"io", (json_int_t)atomic_load_explicit(&v->exits_io, memory_order_relaxed),
			"mmio", (json_int_t)atomic_load_explicit(&v->exits_mmio, memory_order_relaxed),
			"hlt", (json_int_t)atomic_load_explicit(&v->exits_hlt, memory_order_relaxed),
			"other", (json_int_t)atomic_load_explicit(&v->exits_other, memory_order_relaxed)));
	}
	return list;
}

/*
 * The posted-interrupt counters of ringvm's kernel patch, per vCPU: null where the
 * host kernel has none (absent is not zero).
 */
static json_t *posted_interrupts(const struct vm *vm)
{
	json_t *list = json_array();

	for (unsigned i = 0; list && i < vm->nr_vcpus; i++) {
		uint64_t v[STATS_PI_COUNTERS];
		json_t *o = NULL;
		if (!stats_read_pi(vm->vcpus[i].stats_fd, v)) {
			o = json_object();
			for (unsigned c = 0; o && c < STATS_PI_COUNTERS; c++)
				json_object_set_new(o, stats_pi_names[c], json_integer((json_int_t)v[c]));
		}
		json_array_append_new(list, o ? o : json_null());
	}
	return list;
}

/*
 * The disks' request engines, summed over their queues. Each queue's thread writes its
 * own counters; they are read here with relaxed atomic loads, a snapshot, not a sum at
 * one instant.
 */
static json_t *disk_stats(const struct vm *vm)
{
	json_t *list = json_array();

	for (unsigned i = 0; list && i < vm->nr_disks; i++) {
		const struct virtio_blk *blk = &vm->disks[i];
		uint64_t calls = 0, deferred = 0;
		unsigned max_in_flight = 0;
		for (unsigned q = 0; q < blk->nr_queues; q++) {
			const struct vreq_stats *st = &blk->queue[q].rq.stats;
			calls += __atomic_load_n(&st->calls, __ATOMIC_RELAXED);
			deferred += __atomic_load_n(&st->deferred, __ATOMIC_RELAXED);
			unsigned m = __atomic_load_n(&st->max_in_flight, __ATOMIC_RELAXED);
			max_in_flight = m > max_in_flight ? m : max_in_flight;
		}
		json_array_append_new(list, json_pack("{s:s, s:I, s:I, s:i}", "device", blk->name,
			"handler_calls", (json_int_t)calls, "deferred", (json_int_t)deferred,
			"max_in_flight", (json_int_t)max_in_flight));
	}
	return list;
}

static void get_ringvm_stats(struct api *api, struct http_conn *conn)
{
	const struct vm_config *c = &api->vm_cfg;

	respond_json(api, conn, 200, json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:{s:I, s:I, s:i}}",
		"irq_path", irq_path_name(c->irq),
		"irqchip", c->irqchip == IRQCHIP_SPLIT ? "split" : "kernel",
		"vcpu_exits", vcpu_exits(api->vm), "posted_interrupts", posted_interrupts(api->vm),
		"disks", disk_stats(api->vm), "devices", device_stats_all(api->vm),
		"api", "requests", (json_int_t)api->requests, "errors", (json_int_t)api->errors,
		"clients", (json_int_t)api->http.nr_conns));
}

static void metrics_flush(struct api *api)
{
	json_t *line = json_pack("{s:I, s:o, s:o, s:o, s:{s:I, s:I}, s:{s:I, s:I}}",
		"utc_timestamp_ms", (json_int_t)time(NULL) * 1000, "vcpu_exits", vcpu_exits(api->vm),
		"disks", disk_stats(api->vm), "devices", device_stats_all(api->vm),
		"api", "requests", (json_int_t)api->requests, "errors", (json_int_t)api->errors,
		"logger", "lines", (json_int_t)api->log.written,
		"dropped", (json_int_t)api->log.dropped);
	char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
	json_decref(line);
	if (text) {
		size_t n = strlen(text);
		char *with_nl = realloc(text, n + 2);
		if (with_nl) {
			strcpy(with_nl + n, "\n");
			appender_write(&api->metrics, with_nl);
			text = with_nl;
		}
	}
	free(text);
}

static void metrics_arm(struct api *api);

static void metrics_tick(struct loop_op *op, int res, unsigned flags)
{
	struct api *api = container_of(op, struct api, metrics_timer);

	(void)flags;
	api->timer_armed = false;
	if (res == -ECANCELED || loop_closing(&api->vm->loop))
		return;
	metrics_flush(api);
	metrics_arm(api);
}

static void metrics_arm(struct api *api)
{
	if (api->timer_armed || api->metrics.fd < 0)
		return;
	api->metrics_period = (struct __kernel_timespec){ .tv_sec = METRICS_PERIOD_S };
	api->metrics_timer.complete = metrics_tick;
	io_uring_prep_timeout(loop_sqe(&api->vm->loop, &api->metrics_timer), &api->metrics_period, 0, 0);
	api->timer_armed = true;
}

/* The VM is built from api->cfg: everything the command line did not set comes from it. */
int api_start(struct api *api, struct error *err)
{
	struct vm_config cfg = api->vm_cfg;
	int r = api_config_to_vm(&api->cfg, &cfg, err);

	if (r)
		return r;
	api->vm_cfg = cfg;
	if ((r = vm_create(api->vm, &api->vm_cfg, err))) {
		if (vm_abandon(api->vm))
			vm_fail(api->vm, err->code, "%s", err->msg);   /* too far in: this VM is over */
		return r;
	}
	api->state = API_RUNNING;
	metrics_arm(api);
	api_log(api, "Info", "InstanceStart: %u vCPUs, %u MiB", api->cfg.vcpu_count,
		api->cfg.mem_size_mib);
	/* vm_run takes the loop over from here (main returns to it). */
	loop_stop(&api->vm->loop);
	return 0;
}

static void put_actions(struct api *api, struct http_conn *conn, const char *body)
{
	json_error_t jerr;
	struct error err = { 0 };
	json_t *o = json_loads(body, 0, &jerr);
	const char *key;
	json_t *v;

	if (!o || !json_is_object(o)) {
		json_decref(o);
		fault(api, conn, 400, "actions: the body must be a JSON object");
		return;
	}
	json_object_foreach(o, key, v) {
		if (strcmp(key, "action_type")) {
			snprintf(err.msg, sizeof(err.msg), "actions: unknown field `%s`", key);
			json_decref(o);
			fault(api, conn, 400, err.msg);
			return;
		}
	}
	const char *type = json_string_value(json_object_get(o, "action_type"));
	char action[32];
	snprintf(action, sizeof(action), "%s", type ? type : "");
	json_decref(o);
	if (!strcmp(action, "InstanceStart")) {
		if (api->state != API_NOT_STARTED)
			return not_after_start(api, conn);
		if (api_start(api, &err))
			return fault(api, conn, 400, err.msg);
		http_respond(conn, 204, NULL);
	} else if (!strcmp(action, "SendCtrlAltDel")) {
		if (api->state == API_NOT_STARTED)
			return not_before_start(api, conn);
		int r = vm_send_ctrl_alt_del(api->vm);
		if (r)
			return fault(api, conn, 400, r == -ENOSYS ? "SendCtrlAltDel: this build has no "
				     "i8042 keyboard controller to send it through" : strerror(-r));
		http_respond(conn, 204, NULL);
	} else if (!strcmp(action, "FlushMetrics")) {
		if (api->metrics.fd < 0)
			return fault(api, conn, 400, "FlushMetrics: the metrics system is not "
				     "initialized (PUT /metrics first)");
		metrics_flush(api);
		http_respond(conn, 204, NULL);
	} else {
		fault(api, conn, 400, "actions: `action_type` must be InstanceStart, SendCtrlAltDel "
		      "or FlushMetrics");
	}
}

static void paused(void *ctx)
{
	struct api *api = ctx;
	struct http_conn *conn = api->pausing;

	api->pausing = NULL;
	api->state = API_PAUSED;
	api_log(api, "Info", "paused: every vCPU parked");
	if (conn)
		http_respond(conn, 204, NULL);
}

static void patch_vm(struct api *api, struct http_conn *conn, const char *body)
{
	json_error_t jerr;
	json_t *o = json_loads(body, 0, &jerr);
	const char *state = json_is_object(o) && json_object_size(o) == 1
			    ? json_string_value(json_object_get(o, "state")) : NULL;
	bool pause = state && !strcmp(state, "Paused"), resume = state && !strcmp(state, "Resumed");

	json_decref(o);
	if (!pause && !resume)
		return fault(api, conn, 400, "vm: the body must be {\"state\": \"Paused\" or \"Resumed\"}");
	if (api->state == API_NOT_STARTED)
		return not_before_start(api, conn);
	if (api->pausing)
		return fault(api, conn, 400, "vm: a pause is already in progress");
	if (resume) {
		vm_resume(api->vm);
		api->state = API_RUNNING;
		api_log(api, "Info", "resumed");
		http_respond(conn, 204, NULL);
		return;
	}
	api->pausing = conn;
	vm_pause(api->vm, paused, api);
}

/* Drive i of the config is disk index of the VM: the root drive went first. */
static unsigned disk_index(const struct api_config *c, unsigned i)
{
	unsigned root = c->nr_drives;

	for (unsigned j = 0; j < c->nr_drives; j++)
		if (c->drives[j].is_root_device)
			root = j;
	if (root == c->nr_drives || i == root)
		return root == c->nr_drives ? i : 0;
	return i < root ? i + 1 : i;
}

static void drive_opened(struct loop_op *op, int res, unsigned flags)
{
	struct api *api = container_of(op, struct api, open_op);
	struct http_conn *conn = api->patching;
	char msg[ERROR_MSG_MAX];
	struct stat st;

	(void)flags;
	api->patching = NULL;
	if (res == -ECANCELED || !conn)
		return;
	const struct api_drive *d = &api->cfg.drives[api->patch_index];
	if (res < 0) {
		snprintf(msg, sizeof(msg), "drive: cannot open '%s': %s", d->path, strerror(-res));
		return fault(api, conn, 400, msg);
	}
	if (fstat(res, &st) || !S_ISREG(st.st_mode)) {
		close(res);
		snprintf(msg, sizeof(msg), "drive: '%s' is not a regular file", d->path);
		return fault(api, conn, 400, msg);
	}
	int r = vm_update_drive(api->vm, disk_index(&api->cfg, api->patch_index), res,
				(uint64_t)st.st_size);
	if (r) {
		snprintf(msg, sizeof(msg), "drive: cannot update '%s': %s", d->id,
			 r == -ENOSYS ? "drive updates are not connected in this build" : strerror(-r));
		return fault(api, conn, 400, msg);
	}
	api_log(api, "Info", "drive %s now on '%s'", d->id, d->path);
	http_respond(conn, 204, NULL);
}

static void patch_drive(struct api *api, struct http_conn *conn, const char *id, const char *body)
{
	struct error err = { 0 };
	unsigned index;

	if (api->state == API_NOT_STARTED)
		return not_before_start(api, conn);
	if (api->patching)
		return fault(api, conn, 400, "drive: another drive update is in progress");
	if (api_config_patch_drive(&api->cfg, id, body, &index, &err))
		return fault(api, conn, 400, err.msg);
	const struct api_drive *d = &api->cfg.drives[index];
	/* The main thread's seccomp filter has no openat: the ring opens it. */
	api->patching = conn;
	api->patch_index = index;
	api->open_op.complete = drive_opened;
	io_uring_prep_openat(loop_sqe(&api->vm->loop, &api->open_op), AT_FDCWD, d->path,
			     (d->is_read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC, 0);
}

static void put_output(struct api *api, struct http_conn *conn, const char *body, bool metrics)
{
	struct error err = { 0 };
	struct api_config next = api->cfg;
	int r = metrics ? api_config_put_metrics(&next, body, &err)
			: api_config_put_logger(&next, body, &err);

	if (!r && metrics)
		r = appender_open(&api->metrics, &api->vm->loop, next.metrics_path, "metrics", &err);
	else if (!r && next.log_path[0])
		r = appender_open(&api->log, &api->vm->loop, next.log_path, "logger", &err);
	if (!r)
		api->cfg = next;        /* its strings are the same pointers: nothing freed twice */
	config_result(api, conn, r, &err);
}

/* "/prefix/ID" into ID; false when path is not of that shape. */
static bool route_id(const char *path, const char *prefix, const char **id)
{
	size_t n = strlen(prefix);

	if (strncmp(path, prefix, n) || !path[n] || strchr(path + n, '/'))
		return false;
	*id = path + n;
	return true;
}

static void handle(void *ctx, struct http_conn *conn, const struct http_request *req)
{
	struct api *api = ctx;
	struct error err = { 0 };
	const char *p = req->path, *id;
	bool get = req->method == HTTP_M_GET, put = req->method == HTTP_M_PUT,
	     patch = req->method == HTTP_M_PATCH, pre = api->state == API_NOT_STARTED;
	static const char *const method_names[] = { "GET", "PUT", "PATCH", "?" };

	api->requests++;
	api_log(api, "Debug", "%s %s", method_names[req->method], p);
	if (!strcmp(p, "/")) {
		if (get)
			return get_instance_info(api, conn);
	} else if (!strcmp(p, "/machine-config")) {
		if (get)
			return respond_text(api, conn, api_config_machine_json(&api->cfg));
		if ((put || patch) && !pre)
			return not_after_start(api, conn);
		if (put || patch)
			return config_result(api, conn, api_config_put_machine(&api->cfg, req->body, patch,
									    &err), &err);
	} else if (!strcmp(p, "/boot-source")) {
		if (put && !pre)
			return not_after_start(api, conn);
		if (put)
			return config_result(api, conn, api_config_put_boot_source(&api->cfg, req->body,
										&err), &err);
	} else if (route_id(p, "/drives/", &id)) {
		if (put && !pre)
			return not_after_start(api, conn);
		if (put)
			return config_result(api, conn, api_config_put_drive(&api->cfg, id, req->body, &err),
					     &err);
		if (patch)
			return patch_drive(api, conn, id, req->body);
	} else if (route_id(p, "/network-interfaces/", &id)) {
		if (put && !pre)
			return not_after_start(api, conn);
		if (put)
			return config_result(api, conn, api_config_put_net(&api->cfg, id, req->body, &err),
					     &err);
		if (patch)
			return fault(api, conn, 400, "network-interface: rate limiter updates are not "
				     "implemented by ringvm");
	} else if (!strcmp(p, "/vsock")) {
		if (put && !pre)
			return not_after_start(api, conn);
		if (put)
			return config_result(api, conn, api_config_put_vsock(&api->cfg, req->body, &err),
					     &err);
	} else if (!strcmp(p, "/logger") || !strcmp(p, "/metrics")) {
		if (put && !pre)
			return not_after_start(api, conn);
		if (put)
			return put_output(api, conn, req->body, p[1] == 'm');
	} else if (!strcmp(p, "/actions")) {
		if (put)
			return put_actions(api, conn, req->body);
	} else if (!strcmp(p, "/vm")) {
		if (patch)
			return patch_vm(api, conn, req->body);
	} else if (!strcmp(p, "/vm/config")) {
		if (get)
			return respond_text(api, conn, api_config_json(&api->cfg));
	} else if (!strcmp(p, "/ringvm/stats")) {
		if (get)
			return get_ringvm_stats(api, conn);
	} else {
		char msg[HTTP_MAX_PATH + 64];
		snprintf(msg, sizeof(msg), "Invalid request path: %s", p);
		return fault(api, conn, 404, msg);
	}
	char msg[HTTP_MAX_PATH + 64];
	snprintf(msg, sizeof(msg), "Invalid request method and/or path: %s %s.",
		 method_names[req->method], p);
	fault(api, conn, 400, msg);
}

int api_init(struct api *api, struct vm *vm, const struct vm_config *defaults,
	     const char *sock_path, const char *id, const char *version, struct error *err)
{
	*api = (struct api){
		.vm = vm, .vm_cfg = *defaults, .id = id ? id : "anonymous-instance",
		.version = version, .log.fd = -1, .metrics.fd = -1,
	};
	api_config_init(&api->cfg);
	int fd = -1;
	if (sock_path) {
		if ((fd = http_listen_unix(sock_path, err)) < 0)
			return fd;
		if (!(api->sock_path = strdup(sock_path))) {
			close(fd);
			return error_set(err, ENOMEM, "out of memory");
		}
	}
	http_server_init(&api->http, &vm->loop, fd, handle, api);
	api->serving = true;
	return 0;
}

int api_load_file(struct api *api, const char *path, struct error *err)
{
	FILE *f = fopen(path, "re");

	if (!f)
		return error_sys(err, errno, "--config-file: cannot open '%s'", path);
	char *text = malloc(CONFIG_FILE_MAX + 1);
	size_t n = text ? fread(text, 1, CONFIG_FILE_MAX + 1, f) : 0;
	bool bad = ferror(f);
	fclose(f);
	int r;
	if (!text)
		r = error_set(err, ENOMEM, "out of memory");
	else if (bad)
		r = error_set(err, EIO, "--config-file: cannot read '%s'", path);
	else if (n > CONFIG_FILE_MAX)
		r = error_set(err, EFBIG, "--config-file '%s': larger than %d bytes", path, CONFIG_FILE_MAX);
	else {
		text[n] = '\0';
		r = api_config_load(&api->cfg, text, err);
		/* The logger and metrics files open as their PUTs would open them. */
		if (!r && api->cfg.has_logger && api->cfg.log_path[0])
			r = appender_open(&api->log, &api->vm->loop, api->cfg.log_path, "logger", err);
		if (!r && api->cfg.has_metrics)
			r = appender_open(&api->metrics, &api->vm->loop, api->cfg.metrics_path, "metrics", err);
	}
	free(text);
	return r;
}

void api_remove_socket(struct api *api)
{
	struct loop *loop = &api->vm->loop;

	if (!api->sock_path)
		return;
	if (api->state == API_NOT_STARTED || !loop->ring_ready) {
		unlink(api->sock_path);
	} else {
		/* The main thread's seccomp filter has no unlink: the ring does it. */
		io_uring_prep_unlinkat(loop_sqe(loop, NULL), AT_FDCWD, api->sock_path, 0);
		for (int i = 0; i < 10 && loop->in_flight; i++)
			if (loop_poll(loop, 100) < 0)
				break;
	}
	free(api->sock_path);
	api->sock_path = NULL;
}

void api_destroy(struct api *api)
{
	if (api->serving)
		http_server_destroy(&api->http);
	api->serving = false;
	appender_close(&api->log);
	appender_close(&api->metrics);
	if (api->sock_path)
		unlink(api->sock_path);     /* api_remove_socket was not called: no filter yet */
	free(api->sock_path);
	api->sock_path = NULL;
	api_config_destroy(&api->cfg);
}
