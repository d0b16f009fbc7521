/*
 * Every virtio device's counters, whatever its model and transport, as the JSON
 * objects of the API's metrics line and of GET /ringvm/stats ("devices").
 */
#ifndef RINGVM_DEVICE_STATS_H
#define RINGVM_DEVICE_STATS_H

#include <jansson.h>

#include "machine/vm.h"

/* One device's snapshot: the generic counters and its model's (chosen by type). */
struct device_stats {
	const char *name;           /* "virtio-blk 0" */
	uint16_t type;              /* VIRTIO_ID_*: which of model holds */
	const char *transport;      /* "pci" or "mmio" */
	struct virtio_dev_counters dev;
	union {
		struct virtio_blk_counters blk;
		struct virtio_net_counters net;
		struct virtio_rng_counters rng;
		struct virtio_vsock_counters vsock;
	} model;
};

/* One device's object: name, type, transport, the generic counters, the model's. */
json_t *device_stats_json(const struct device_stats *d);

/* The array of every device of vm, in transport order (disks, nets, rng, vsock). */
json_t *device_stats_all(const struct vm *vm);

#endif
