#include <criterion/criterion.h>
#include <jansson.h>

#include "machine/device_stats.h"

static json_int_t field(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	cr_assert(json_is_integer(v), "%s is an integer", key);
	return json_integer_value(v);
}

Test(device_stats, one_disk_as_json)
{
	struct device_stats d = {
		.name = "virtio-blk 0", .type = VIRTIO_ID_BLOCK, .transport = "pci",
		.dev = { .interrupts_queue = 2, .interrupts_config = 1, .broken_queues = 1,
			 .resets = 4, .doorbells = 5 },
		.model.blk = { .reads = 3, .writes = 6, .flushes = 7, .other = 8, .bytes_read = 12288,
			       .bytes_written = 9, .io_errors = 10, .unsupported = 11 },
	};
	json_t *o = device_stats_json(&d);

	cr_assert_not_null(o);
	cr_assert_str_eq(json_string_value(json_object_get(o, "name")), "virtio-blk 0");
	cr_assert_str_eq(json_string_value(json_object_get(o, "type")), "blk");
	cr_assert_str_eq(json_string_value(json_object_get(o, "transport")), "pci");
	cr_assert_eq(field(o, "interrupts_queue"), 2);
	cr_assert_eq(field(o, "interrupts_config"), 1);
	cr_assert_eq(field(o, "broken_queues"), 1);
	cr_assert_eq(field(o, "resets"), 4);
	cr_assert_eq(field(o, "doorbells"), 5);
	cr_assert_eq(field(o, "reads"), 3);
	cr_assert_eq(field(o, "writes"), 6);
	cr_assert_eq(field(o, "flushes"), 7);
	cr_assert_eq(field(o, "other"), 8);
	cr_assert_eq(field(o, "bytes_read"), 12288);
	cr_assert_eq(field(o, "bytes_written"), 9);
	cr_assert_eq(field(o, "io_errors"), 10);
	cr_assert_eq(field(o, "unsupported"), 11);
	cr_assert_eq(json_object_size(o), 3 + 5 + 8, "nothing else");
	json_decref(o);
}

Test(device_stats, each_model_has_its_own_keys)
{
	struct device_stats net = { .name = "virtio-net 0", .type = VIRTIO_ID_NET, .transport = "mmio",
				    .model.net = { .tx_packets = 1, .tx_bytes = 2, .tx_dropped = 3,
						   .rx_packets = 4, .rx_bytes = 5, .rx_dropped = 6 } };
	struct device_stats rng = { .name = "virtio-rng", .type = VIRTIO_ID_RNG, .transport = "mmio",
				    .model.rng = { .requests = 7, .bytes = 8 } };
	struct device_stats vs = { .name = "virtio-vsock", .type = VIRTIO_ID_VSOCK, .transport = "mmio",
				   .model.vsock = { .conns_opened = 1, .conns_refused = 2, .conns_closed = 3,
						    .conns_reset = 4, .bytes_to_guest = 5,
						    .bytes_to_host = 6, .dropped = 7 } };
	json_t *o = device_stats_json(&net);
	cr_assert_str_eq(json_string_value(json_object_get(o, "type")), "net");
	cr_assert_eq(field(o, "tx_packets"), 1);
	cr_assert_eq(field(o, "tx_bytes"), 2);
	cr_assert_eq(field(o, "tx_dropped"), 3);
	cr_assert_eq(field(o, "rx_packets"), 4);
	cr_assert_eq(field(o, "rx_bytes"), 5);
	cr_assert_eq(field(o, "rx_dropped"), 6);
	json_decref(o);
	o = device_stats_json(&rng);
	cr_assert_str_eq(json_string_value(json_object_get(o, "type")), "rng");
	cr_assert_eq(field(o, "requests"), 7);
	cr_assert_eq(field(o, "bytes"), 8);
	cr_assert_eq(field(o, "broken_queues"), 0);
	json_decref(o);
	o = device_stats_json(&vs);
	cr_assert_str_eq(json_string_value(json_object_get(o, "type")), "vsock");
	cr_assert_eq(field(o, "conns_opened"), 1);
	cr_assert_eq(field(o, "conns_refused"), 2);
	cr_assert_eq(field(o, "conns_closed"), 3);
	cr_assert_eq(field(o, "conns_reset"), 4);
	cr_assert_eq(field(o, "bytes_to_guest"), 5);
	cr_assert_eq(field(o, "bytes_to_host"), 6);
	cr_assert_eq(field(o, "dropped"), 7);
	json_decref(o);
}

/* Gathered from a machine's devices (built by hand: no KVM), in transport order. */
Test(device_stats, every_device_of_a_vm)
{
	static struct vm vm;
	static struct virtio_blk blk;
	static struct virtio_rng rng;

	blk.vdev.info = (struct virtio_device_info){ .name = "virtio-blk 0", .type = VIRTIO_ID_BLOCK };
	blk.vdev.impl = &blk;
	blk.vdev.counters.interrupts_queue = 1;
	blk.counters.reads = 3;
	blk.counters.bytes_read = 12288;
	rng.vdev.info = (struct virtio_device_info){ .name = "virtio-rng", .type = VIRTIO_ID_RNG };
	rng.vdev.impl = &rng;
	rng.vdev.counters.broken_queues = 1;
	rng.counters.bytes = 64;
	vm.cfg.transport = VIRTIO_TRANSPORT_MMIO;
	vm.disks = &blk;
	vm.nr_disks = 1;
	vm.rng = &rng;

	json_t *list = device_stats_all(&vm);
	cr_assert_eq(json_array_size(list), 2);
	json_t *a = json_array_get(list, 0), *b = json_array_get(list, 1);
	cr_assert_str_eq(json_string_value(json_object_get(a, "name")), "virtio-blk 0");
	cr_assert_str_eq(json_string_value(json_object_get(a, "transport")), "mmio");
	cr_assert_eq(field(a, "reads"), 3);
	cr_assert_eq(field(a, "bytes_read"), 12288);
	cr_assert_eq(field(a, "interrupts_queue"), 1);
	cr_assert_str_eq(json_string_value(json_object_get(b, "type")), "rng");
	cr_assert_eq(field(b, "broken_queues"), 1);
	cr_assert_eq(field(b, "bytes"), 64);
	char *text = json_dumps(list, JSON_COMPACT | JSON_SORT_KEYS);
	cr_assert(strstr(text, "\"bytes_read\":12288"), "%s", text);
	free(text);
	json_decref(list);
}
