/*
 * Firecracker's configuration objects: the input's first byte picks the object (or
 * the whole config file), the rest is its JSON text; after a good one the config is
 * turned into a vm_config and written back as JSON. Everything must be accepted or
 * refused with a message, within the configuration's bounds.
 */
#include "fuzz.h"
#include "machine/api_config.h"

static char text[65536];
static struct api_config c;
static struct vm_config cfg;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct error err = { 0 };
	unsigned index;
	int r;

	if (!size)
		return 0;
	size_t n = size - 1 < sizeof(text) - 1 ? size - 1 : sizeof(text) - 1;
	memcpy(text, data + 1, n);
	text[n] = 0;
	api_config_init(&c);
	switch (data[0] % 10) {
	case 0: r = api_config_put_boot_source(&c, text, &err); break;
	case 1: r = api_config_put_machine(&c, text, false, &err); break;
	case 2: r = api_config_put_machine(&c, text, true, &err); break;
	case 3: r = api_config_put_drive(&c, "rootfs", text, &err); break;
	case 4: r = api_config_put_net(&c, "eth0", text, &err); break;
	case 5: r = api_config_put_vsock(&c, text, &err); break;
	case 6: r = api_config_put_logger(&c, text, &err); break;
	case 7: r = api_config_put_metrics(&c, text, &err); break;
	case 8:
		api_config_put_drive(&c, "rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/r\", "
				     "\"is_root_device\": true}", &err);
		r = api_config_patch_drive(&c, "rootfs", text, &index, &err);
		FZ_CHECK(r || index < c.nr_drives, "patched drive %u of %u", index, c.nr_drives);
		break;
	default: r = api_config_load(&c, text, &err); break;
	}
	FZ_CHECK(r == 0 || (r < 0 && err.msg[0]), "%d without a message", r);
	FZ_CHECK(c.nr_drives <= CONFIG_MAX_DISKS && c.nr_nets <= CONFIG_MAX_NETS &&
		 c.vcpu_count >= 1 && c.vcpu_count <= API_MAX_VCPUS, "out of bounds");
	if (!r) {
		memset(&cfg, 0, sizeof(cfg));
		memset(&err, 0, sizeof(err));
		r = api_config_to_vm(&c, &cfg, &err);
		FZ_CHECK(r == 0 || err.msg[0], "to_vm: %d without a message", r);
		FZ_CHECK(!cfg.cmdline || strlen(cfg.cmdline) < 2048, "command line too long");
		free(api_config_json(&c));
		free(api_config_machine_json(&c));
	}
	api_config_destroy(&c);
	return 0;
}
