/* Firecracker's configuration objects: every field, its type and range, and the vm_config they make. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "machine/api_config.h"

static struct api_config c;
static struct error err;

static void setup(void)
{
	api_config_init(&c);
	memset(&err, 0, sizeof(err));
}

static void teardown(void)
{
	api_config_destroy(&c);
}

TestSuite(api_config, .init = setup, .fini = teardown);

#define OK(call) cr_assert_eq((call), 0, "%s: %s", #call, err.msg)
#define FAILS(call, text) do { \
		memset(&err, 0, sizeof(err)); \
		cr_assert_eq((call), -EINVAL, "%s succeeded", #call); \
		cr_assert(strstr(err.msg, text), "'%s' lacks '%s'", err.msg, text); \
	} while (0)

Test(api_config, defaults_are_firecrackers)
{
	cr_assert_eq(c.vcpu_count, 1);
	cr_assert_eq(c.mem_size_mib, 128);
	cr_assert(!c.has_boot_source && !c.nr_drives && !c.nr_nets && !c.has_vsock);
}

Test(api_config, machine_config_fields)
{
	OK(api_config_put_machine(&c, "{\"vcpu_count\": 4, \"mem_size_mib\": 1024, \"smt\": false, "
			"\"track_dirty_pages\": false, \"cpu_template\": \"None\", \"huge_pages\": \"None\"}",
			false, &err));
	cr_assert_eq(c.vcpu_count, 4);
	cr_assert_eq(c.mem_size_mib, 1024);
	FAILS(api_config_put_machine(&c, "{\"vcpu_count\": 0, \"mem_size_mib\": 128}", false, &err),
	      "`vcpu_count` must be between 1 and 32");
	FAILS(api_config_put_machine(&c, "{\"vcpu_count\": 33, \"mem_size_mib\": 128}", false, &err),
	      "vcpu_count");
	FAILS(api_config_put_machine(&c, "{\"vcpu_count\": -1, \"mem_size_mib\": 128}", false, &err),
	      "must be a non-negative integer");
	FAILS(api_config_put_machine(&c, "{\"vcpu_count\": \"2\", \"mem_size_mib\": 128}", false, &err),
	      "must be a non-negative integer");
	FAILS(api_config_put_machine(&c, "{\"vcpu_count\": 1, \"mem_size_mib\": 1}", false, &err),
	      "`mem_size_mib` must be between 2");
	FAILS(api_config_put_machine(&c, "{\"vcpu_count\": 1}", false, &err),
	      "missing field `mem_size_mib`");
	FAILS(api_config_put_machine(&c, "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"x\": 1}", false,
				     &err), "unknown field `x`");
	FAILS(api_config_put_machine(&c, "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"smt\": 1}",
				     false, &err), "`smt` must be a boolean");
	FAILS(api_config_put_machine(&c, "{\"vcpu_count\": 2, \"mem_size_mib\": 128, \"smt\": true}",
				     false, &err), "`smt` true is not supported");
	FAILS(api_config_put_machine(&c, "{\"vcpu_count\": 1, \"mem_size_mib\": 128, "
				     "\"track_dirty_pages\": true}", false, &err), "track_dirty_pages");
	FAILS(api_config_put_machine(&c, "{\"vcpu_count\": 1, \"mem_size_mib\": 128, "
				     "\"cpu_template\": \"C3\"}", false, &err), "no CPU templates");
	FAILS(api_config_put_machine(&c, "{\"vcpu_count\": 1, \"mem_size_mib\": 128, "
				     "\"huge_pages\": \"2M\"}", false, &err), "huge_pages");
	/* Nothing that failed changed anything. */
	cr_assert_eq(c.vcpu_count, 4);
	cr_assert_eq(c.mem_size_mib, 1024);
	/* PATCH: absent fields keep their values. */
	OK(api_config_put_machine(&c, "{\"vcpu_count\": 2}", true, &err));
	cr_assert_eq(c.vcpu_count, 2);
	cr_assert_eq(c.mem_size_mib, 1024);
}

Test(api_config, malformed_json_and_non_objects)
{
	FAILS(api_config_put_machine(&c, "{\"vcpu_count\": 1,", false, &err), "malformed JSON");
	FAILS(api_config_put_boot_source(&c, "", &err), "malformed JSON");
	FAILS(api_config_put_boot_source(&c, "[1, 2]", &err), "must be a JSON object");
	FAILS(api_config_put_vsock(&c, "{\"guest_cid\": 3, \"guest_cid\": 4, \"uds_path\": \"/v\"}",
				   &err), "malformed JSON");   /* duplicate keys */
}

Test(api_config, boot_source_replaces_the_whole_object)
{
	OK(api_config_put_boot_source(&c, "{\"kernel_image_path\": \"/k\", \"boot_args\": \"a=1\", "
				      "\"initrd_path\": \"/i\"}", &err));
	cr_assert_str_eq(c.kernel, "/k");
	cr_assert_str_eq(c.initrd, "/i");
	cr_assert_str_eq(c.boot_args, "a=1");
	OK(api_config_put_boot_source(&c, "{\"kernel_image_path\": \"/k2\"}", &err));
	cr_assert_str_eq(c.kernel, "/k2");
	cr_assert_null(c.initrd);
	cr_assert_null(c.boot_args);
	FAILS(api_config_put_boot_source(&c, "{\"kernel_image_path\": \"\"}", &err), "empty path");
	FAILS(api_config_put_boot_source(&c, "{\"kernel\": \"/k\"}", &err), "unknown field `kernel`");
	FAILS(api_config_put_boot_source(&c, "{\"boot_args\": 5}", &err), "must be a string");
	char big[3000];
	snprintf(big, sizeof(big), "{\"boot_args\": \"%2500d\"}", 1);
	FAILS(api_config_put_boot_source(&c, big, &err), "longer than");
}

Test(api_config, drives)
{
	OK(api_config_put_drive(&c, "rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/r\", "
				"\"is_root_device\": true, \"is_read_only\": false, \"partuuid\": \"\", "
				"\"cache_type\": \"Writeback\", \"io_engine\": \"Async\", "
				"\"rate_limiter\": null}", &err));
	OK(api_config_put_drive(&c, "d1", "{\"drive_id\": \"d1\", \"path_on_host\": \"/a\", "
				"\"is_root_device\": false, \"is_read_only\": true, "
				"\"rate_limiter\": {\"bandwidth\": null, \"ops\": null}}", &err));
	cr_assert_eq(c.nr_drives, 2);
	/* The same id replaces. */
	OK(api_config_put_drive(&c, "d1", "{\"drive_id\": \"d1\", \"path_on_host\": \"/b\", "
				"\"is_root_device\": false}", &err));
	cr_assert_eq(c.nr_drives, 2);
	cr_assert_str_eq(c.drives[1].path, "/b");
	cr_assert(!c.drives[1].is_read_only);
	cr_assert_str_eq(c.drives[0].cache_type, "Writeback");
	FAILS(api_config_put_drive(&c, "x", "{\"drive_id\": \"y\", \"path_on_host\": \"/b\", "
				   "\"is_root_device\": false}", &err), "does not match");
	FAILS(api_config_put_drive(&c, "a-b", "{\"drive_id\": \"a-b\", \"path_on_host\": \"/b\", "
				   "\"is_root_device\": false}", &err), "invalid id");
	FAILS(api_config_put_drive(&c, "r2", "{\"drive_id\": \"r2\", \"path_on_host\": \"/b\", "
				   "\"is_root_device\": true}", &err), "root block device already exists");
	FAILS(api_config_put_drive(&c, "x", "{\"drive_id\": \"x\", \"path_on_host\": \"/b\"}", &err),
	      "missing field `is_root_device`");
	FAILS(api_config_put_drive(&c, "x", "{\"drive_id\": \"x\", \"path_on_host\": \"/b\", "
				   "\"is_root_device\": false, \"cache_type\": \"Fast\"}", &err),
	      "cache_type");
	FAILS(api_config_put_drive(&c, "x", "{\"drive_id\": \"x\", \"path_on_host\": \"/b\", "
				   "\"is_root_device\": false, \"io_engine\": \"Uring\"}", &err), "io_engine");
	FAILS(api_config_put_drive(&c, "x", "{\"drive_id\": \"x\", \"path_on_host\": \"/b\", "
				   "\"is_root_device\": false, \"rate_limiter\": {\"bandwidth\": "
				   "{\"size\": 1, \"refill_time\": 1}}}", &err), "rate limiting");
	FAILS(api_config_put_drive(&c, "x", "{\"drive_id\": \"x\", \"path_on_host\": \"/b\", "
				   "\"is_root_device\": false, \"socket\": \"/s\"}", &err), "vhost-user");
	FAILS(api_config_put_drive(&c, "x", "{\"drive_id\": \"x\", \"path_on_host\": \"\", "
				   "\"is_root_device\": false}", &err), "empty");
	for (int i = 2; i < CONFIG_MAX_DISKS; i++) {
		char id[8], json[128];
		snprintf(id, sizeof(id), "p%d", i);
		snprintf(json, sizeof(json), "{\"drive_id\": \"%s\", \"path_on_host\": \"/p\", "
			 "\"is_root_device\": false}", id);
		OK(api_config_put_drive(&c, id, json, &err));
	}
	FAILS(api_config_put_drive(&c, "last", "{\"drive_id\": \"last\", \"path_on_host\": \"/p\", "
				   "\"is_root_device\": false}", &err), "at most");
}

Test(api_config, patch_drive)
{
	unsigned index = 99;

	OK(api_config_put_drive(&c, "a", "{\"drive_id\": \"a\", \"path_on_host\": \"/a\", "
				"\"is_root_device\": false}", &err));
	OK(api_config_patch_drive(&c, "a", "{\"drive_id\": \"a\", \"path_on_host\": \"/new\"}", &index,
				  &err));
	cr_assert_eq(index, 0);
	cr_assert_str_eq(c.drives[0].path, "/new");
	FAILS(api_config_patch_drive(&c, "b", "{\"drive_id\": \"b\", \"path_on_host\": \"/n\"}", &index,
				     &err), "no drive with id 'b'");
	FAILS(api_config_patch_drive(&c, "a", "{\"drive_id\": \"a\", \"is_read_only\": true}", &index,
				     &err), "unknown field `is_read_only`");
}

Test(api_config, network_interfaces)
{
	OK(api_config_put_net(&c, "eth0", "{\"iface_id\": \"eth0\", \"guest_mac\": \"AA:FC:00:00:00:01\", "
			      "\"host_dev_name\": \"tap0\", \"rx_rate_limiter\": null}", &err));
	cr_assert_eq(c.nr_nets, 1);
	FAILS(api_config_put_net(&c, "eth1", "{\"iface_id\": \"eth1\", \"guest_mac\": "
				 "\"01:00:00:00:00:01\", \"host_dev_name\": \"tap1\"}", &err), "unicast");
	FAILS(api_config_put_net(&c, "eth1", "{\"iface_id\": \"eth1\", \"guest_mac\": \"zz\", "
				 "\"host_dev_name\": \"tap1\"}", &err), "guest_mac");
	FAILS(api_config_put_net(&c, "eth1", "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap0\"}",
				 &err), "already in use");
	FAILS(api_config_put_net(&c, "eth1", "{\"iface_id\": \"eth1\"}", &err),
	      "missing field `host_dev_name`");
	FAILS(api_config_put_net(&c, "eth1", "{\"iface_id\": \"eth1\", \"host_dev_name\": "
				 "\"a-name-that-is-too-long\"}", &err), "longer than 15");
}

Test(api_config, vsock_logger_metrics)
{
	OK(api_config_put_vsock(&c, "{\"guest_cid\": 3, \"uds_path\": \"/run/v.sock\", "
				"\"vsock_id\": \"vsock0\"}", &err));
	cr_assert_eq(c.guest_cid, 3);
	FAILS(api_config_put_vsock(&c, "{\"guest_cid\": 2, \"uds_path\": \"/v\"}", &err), "guest_cid");
	FAILS(api_config_put_vsock(&c, "{\"guest_cid\": 4294967296, \"uds_path\": \"/v\"}", &err),
	      "guest_cid");
	FAILS(api_config_put_vsock(&c, "{\"guest_cid\": 3}", &err), "missing field `uds_path`");
	OK(api_config_put_logger(&c, "{\"log_path\": \"/l\", \"level\": \"warning\", "
				 "\"show_level\": true, \"show_log_origin\": true}", &err));
	cr_assert_str_eq(c.log_level, "Warning");
	cr_assert(c.show_level && c.show_log_origin);
	FAILS(api_config_put_logger(&c, "{\"level\": \"Loud\"}", &err), "`level`");
	OK(api_config_put_metrics(&c, "{\"metrics_path\": \"/m\"}", &err));
	cr_assert_str_eq(c.metrics_path, "/m");
	FAILS(api_config_put_metrics(&c, "{}", &err), "missing field `metrics_path`");
}

Test(api_config, to_vm_config)
{
	struct vm_config cfg = { .cpus = 1 };

	OK(api_config_put_boot_source(&c, "{\"kernel_image_path\": \"/k\"}", &err));
	OK(api_config_put_machine(&c, "{\"vcpu_count\": 2, \"mem_size_mib\": 256}", false, &err));
	OK(api_config_put_drive(&c, "p1", "{\"drive_id\": \"p1\", \"path_on_host\": \"/p1\", "
				"\"is_root_device\": false, \"is_read_only\": true}", &err));
	OK(api_config_put_drive(&c, "rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/r\", "
				"\"is_root_device\": true, \"is_read_only\": true}", &err));
	OK(api_config_put_net(&c, "eth0", "{\"iface_id\": \"eth0\", \"guest_mac\": "
			      "\"02:00:00:00:00:07\", \"host_dev_name\": \"tap0\"}", &err));
	OK(api_config_to_vm(&c, &cfg, &err));
	cr_assert_str_eq(cfg.kernel, "/k");
	cr_assert_eq(cfg.cpus, 2);
	cr_assert_eq(cfg.memory, 256ULL << 20);
	/* Firecracker's default line, and the root drive as /dev/vda, read-only as asked. */
	cr_assert(strstr(cfg.cmdline, "pci=off"), "%s", cfg.cmdline);
	cr_assert(strstr(cfg.cmdline, "root=/dev/vda ro"), "%s", cfg.cmdline);
	cr_assert_eq(cfg.nr_disks, 2);
	cr_assert_str_eq(cfg.disks[0].path, "/r");
	cr_assert_str_eq(cfg.disks[1].path, "/p1");
	cr_assert(cfg.disks[1].readonly);
	cr_assert_eq(cfg.nr_nets, 1);
	cr_assert_str_eq(cfg.nets[0].tap, "tap0");
	cr_assert(cfg.nets[0].has_mac && cfg.nets[0].mac[5] == 7);
	/* boot_args replace the whole line. */
	OK(api_config_put_boot_source(&c, "{\"kernel_image_path\": \"/k\", \"boot_args\": \"quiet\"}",
				      &err));
	OK(api_config_to_vm(&c, &cfg, &err));
	cr_assert_str_eq(cfg.cmdline, "quiet root=/dev/vda ro");
}

Test(api_config, builtin_guest_without_kernel)
{
	struct vm_config cfg = { 0 };

	OK(api_config_to_vm(&c, &cfg, &err));
	cr_assert_null(cfg.kernel);
	cr_assert_null(cfg.cmdline);
	OK(api_config_put_boot_source(&c, "{\"boot_args\": \"test=serial exit=3\"}", &err));
	OK(api_config_to_vm(&c, &cfg, &err));
	cr_assert_null(cfg.kernel);
	cr_assert_str_eq(cfg.cmdline, "test=serial exit=3");
}

Test(api_config, config_file)
{
	OK(api_config_load(&c, "{\"boot-source\": {\"kernel_image_path\": \"/k\", \"boot_args\": \"x\"},"
			   "\"machine-config\": {\"vcpu_count\": 2, \"mem_size_mib\": 64},"
			   "\"drives\": [{\"drive_id\": \"rootfs\", \"path_on_host\": \"/r\", "
			   "\"is_root_device\": true, \"is_read_only\": false}],"
			   "\"network-interfaces\": [{\"iface_id\": \"eth0\", \"host_dev_name\": \"t\"}],"
			   "\"vsock\": {\"guest_cid\": 3, \"uds_path\": \"/v\"},"
			   "\"logger\": {\"log_path\": \"/l\", \"level\": \"Info\"},"
			   "\"metrics\": {\"metrics_path\": \"/m\"}}", &err));
	cr_assert_eq(c.vcpu_count, 2);
	cr_assert_eq(c.nr_drives, 1);
	cr_assert_eq(c.nr_nets, 1);
	cr_assert(c.has_vsock && c.has_logger && c.has_metrics);
	FAILS(api_config_load(&c, "{\"boot-source\": {}, \"balloon\": {}}", &err), "\"balloon\"");
	FAILS(api_config_load(&c, "{\"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 64}}",
			      &err), "\"boot-source\" is required");
	FAILS(api_config_load(&c, "{\"boot-source\": {}, \"drives\": {}}", &err), "must be a list");
	FAILS(api_config_load(&c, "{\"boot-source\": {}, \"drives\": [{}]}", &err), "drive_id");
	FAILS(api_config_load(&c, "{\"boot-source\": {", &err), "malformed JSON");
}

Test(api_config, json_out)
{
	OK(api_config_put_drive(&c, "a", "{\"drive_id\": \"a\", \"path_on_host\": \"/a\", "
				"\"is_root_device\": true}", &err));
	char *text = api_config_json(&c);
	json_error_t jerr;
	json_t *o = json_loads(text, 0, &jerr);
	cr_assert_not_null(o, "%s", text);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(o, "machine-config"),
							"mem_size_mib")), 128);
	json_t *d = json_array_get(json_object_get(o, "drives"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(d, "drive_id")), "a");
	cr_assert(json_is_true(json_object_get(d, "is_root_device")));
	cr_assert(json_is_null(json_object_get(o, "vsock")));
	json_decref(o);
	free(text);
}
