#include "devices/virtio_rng.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/pci.h"
#include "services/util.h"

#define RNG_MAX_BYTES (64 * 1024)   /* per request: a guest may not drain the pool in one go */

struct rng_request {
	struct vreq req;
	struct virtio_rng *rng;
	struct loop_op op;
	struct iovec data[VIRTQ_CHAIN_MAX];
	unsigned nr_data;
};

static void rng_cqe(struct loop_op *op, int res, unsigned flags)
{
	struct rng_request *r = container_of(op, struct rng_request, op);

	(void)flags;
	VIRTIO_COUNT(r->rng->counters.requests, 1);
	VIRTIO_COUNT(r->rng->counters.bytes, res > 0 ? res : 0);
	vreq_complete(&r->req, res > 0 ? (uint32_t)res : 0);
}

static int rng_start(void *dev, struct vreq *req)
{
	struct virtio_rng *rng = dev;
	struct rng_request *r = container_of(req, struct rng_request, req);
	const struct virtq_chain *c = &req->chain;

	r->rng = rng;
	r->op.complete = rng_cqe;
	/* Only the writable buffers get bytes, at most RNG_MAX_BYTES of them. */
	uint64_t room = RNG_MAX_BYTES;
	r->nr_data = 0;
	for (unsigned i = c->nr_out; i < c->nr_out + c->nr_in && room; i++) {
		struct iovec v = c->iov[i];
		if (v.iov_len > room)
			v.iov_len = room;
		room -= v.iov_len;
		r->data[r->nr_data++] = v;
	}
	if (!r->nr_data) {
		VIRTIO_COUNT(rng->counters.requests, 1);
		vreq_complete(req, 0);
		return 0;
	}
	struct io_uring_sqe *sqe = loop_sqe(rng->loop, &r->op);
	io_uring_prep_readv(sqe, rng->fd, r->data, r->nr_data, 0);
	return 0;
}

static void rng_queue_notify(void *impl, unsigned q, struct virtq *vq)
{
	struct virtio_rng *rng = impl;

	(void)q;
	vreq_queue_notify(&rng->rq, vq);
}

static void rng_config_read(void *impl, uint32_t offset, uint8_t *data, uint32_t len)
{
	(void)impl, (void)offset;
	memset(data, 0, len);
}

static void rng_config_write(void *impl, uint32_t offset, const uint8_t *data, uint32_t len)
{
	(void)impl, (void)offset, (void)data, (void)len;
}

static int rng_activate(void *impl, uint64_t features)
{
	(void)impl, (void)features;
	return 0;
}

static bool rng_reset(void *impl, unsigned q)
{
	struct virtio_rng *rng = impl;

	(void)q;        /* its only queue */
	return vreq_queue_reset(&rng->rq);
}

static const struct virtio_device_ops rng_ops = {
	.queue_notify = rng_queue_notify,
	.config_read = rng_config_read,
	.config_write = rng_config_write,
	.activate = rng_activate,
	.reset = rng_reset,
};

int virtio_rng_init(struct virtio_rng *rng, struct guest_memory *mem,
		    struct loop *loop, int vm_fd, struct error *err)
{
	memset(rng, 0, sizeof(*rng));
	rng->loop = loop;
	rng->fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (rng->fd < 0)
		return error_sys(err, errno, "cannot open /dev/urandom for virtio-rng");
	struct virtio_device_info info = {
		.name = "virtio-rng", .type = VIRTIO_ID_RNG, .pci_class = PCI_CLASS_CODE_UNASSIGNED,
		.num_queues = 1,
	};
	int r = virtio_dev_init(&rng->vdev, &info, &rng_ops, rng, mem, &loop, 1, vm_fd);
	if (!r)
		r = vreq_queue_init(&rng->rq, &rng->vdev, 0, loop, sizeof(struct rng_request),
				    offsetof(struct rng_request, req), rng_start, rng);
	return r ? error_sys(err, -r, "cannot create virtio-rng") : 0;
}

void virtio_rng_counters(const struct virtio_rng *rng, struct virtio_rng_counters *out)
{
	virtio_counters_snapshot(out, &rng->counters, sizeof(*out));
}

void virtio_rng_destroy(struct virtio_rng *rng)
{
	virtio_dev_destroy(&rng->vdev);
	vreq_queue_destroy(&rng->rq);
	if (rng->fd >= 0)
		close(rng->fd);
}
