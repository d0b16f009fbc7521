#include "machine/device_stats.h"

#include <string.h>

#define I(v) ((json_int_t)(v))

static const char *type_name(uint16_t type)
{
	switch (type) {
	case VIRTIO_ID_BLOCK:   return "blk";
	case VIRTIO_ID_NET:     return "net";
	case VIRTIO_ID_RNG:     return "rng";
	case VIRTIO_ID_VSOCK:   return "vsock";
	default:                return "other";
	}
}

static json_t *model_json(const struct device_stats *d)
{
	switch (d->type) {
	case VIRTIO_ID_BLOCK: {
		const struct virtio_blk_counters *c = &d->model.blk;
		return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "reads", I(c->reads),
				 "writes", I(c->writes), "flushes", I(c->flushes), "other", I(c->other),
				 "bytes_read", I(c->bytes_read), "bytes_written", I(c->bytes_written),
				 "io_errors", I(c->io_errors), "unsupported", I(c->unsupported));
	}
	case VIRTIO_ID_NET: {
		const struct virtio_net_counters *c = &d->model.net;
		return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "tx_packets", I(c->tx_packets),
				 "tx_bytes", I(c->tx_bytes), "tx_dropped", I(c->tx_dropped),
				 "rx_packets", I(c->rx_packets), "rx_bytes", I(c->rx_bytes),
				 "rx_dropped", I(c->rx_dropped));
	}
	case VIRTIO_ID_RNG:
		return json_pack("{s:I, s:I}", "requests", I(d->model.rng.requests),
				 "bytes", I(d->model.rng.bytes));
	case VIRTIO_ID_VSOCK: {
		const struct virtio_vsock_counters *c = &d->model.vsock;
		return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
				 "conns_opened", I(c->conns_opened), "conns_refused", I(c->conns_refused),
				 "conns_closed", I(c->conns_closed), "conns_reset", I(c->conns_reset),
				 "bytes_to_guest", I(c->bytes_to_guest), "bytes_to_host", I(c->bytes_to_host),
				 "dropped", I(c->dropped));
	}
	default:
		return json_object();
	}
}

json_t *device_stats_json(const struct device_stats *d)
{
	const struct virtio_dev_counters *c = &d->dev;
	json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "name", d->name,
			      "type", type_name(d->type), "transport", d->transport,
			      "interrupts_queue", I(c->interrupts_queue),
			      "interrupts_config", I(c->interrupts_config),
			      "broken_queues", I(c->broken_queues), "resets", I(c->resets),
			      "doorbells", I(c->doorbells));

	json_t *m = model_json(d);

	/* The model's counters beside the generic ones: none shares a name with them. */
	if (!o || !m || json_object_update(o, m)) {
		json_decref(o);
		o = NULL;
	}
	json_decref(m);
	return o;
}

/* Reads dev's counters and its model's (impl, by type) into d. */
static void snapshot(struct device_stats *d, const struct virtio_dev *dev, const char *transport)
{
	memset(d, 0, sizeof(*d));
	d->name = dev->info.name;
	d->type = dev->info.type;
	d->transport = transport;
	virtio_dev_counters(dev, &d->dev);
	switch (dev->info.type) {
	case VIRTIO_ID_BLOCK:
		virtio_blk_counters(dev->impl, &d->model.blk);
		break;
	case VIRTIO_ID_NET:
		virtio_net_counters(dev->impl, &d->model.net);
		break;
	case VIRTIO_ID_RNG:
		virtio_rng_counters(dev->impl, &d->model.rng);
		break;
	case VIRTIO_ID_VSOCK:
		virtio_vsock_counters(dev->impl, &d->model.vsock);
		break;
	}
}

json_t *device_stats_all(const struct vm *vm)
{
	const char *transport = vm->cfg.transport == VIRTIO_TRANSPORT_MMIO ? "mmio" : "pci";
	const struct virtio_dev *devs[CONFIG_MAX_DISKS + CONFIG_MAX_NETS + 2];
	unsigned n = 0;
	json_t *list = json_array();
	struct device_stats d;

	for (unsigned i = 0; i < vm->nr_disks; i++)
		devs[n++] = &vm->disks[i].vdev;
	for (unsigned i = 0; i < vm->nr_nets; i++)
		devs[n++] = &vm->nets[i].vdev;
	if (vm->rng)
		devs[n++] = &vm->rng->vdev;
	if (vm->vsock)
		devs[n++] = &vm->vsock->vdev;
	for (unsigned i = 0; list && i < n; i++) {
		snapshot(&d, devs[i], transport);
		json_array_append_new(list, device_stats_json(&d));
	}
	return list;
}
