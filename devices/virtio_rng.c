#include "devices/virtio_rng.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "services/util.h"

#define RNG_MAX_BYTES (64 * 1024)   /* per request: a guest may not drain the pool in one go */

struct rng_request {
	struct virtio_rng *rng;
	struct loop_op op;
	struct virtq_chain chain;
	unsigned generation;
	struct iovec data[VIRTQ_CHAIN_MAX];
	unsigned nr_data;
	struct rng_request *next_free;
};

static void rng_put(struct rng_request *r)
{
	r->next_free = r->rng->free;
	r->rng->free = r;
}

static void rng_notify_batch(struct loop_work *work)
{
	struct virtio_rng *rng = container_of(work, struct virtio_rng, notify_work);
	virtio_pci_notify_used(&rng->vp, 0, rng->loop);
}

static void rng_cqe(struct loop_op *op, int res, unsigned flags)
{
	struct rng_request *r = container_of(op, struct rng_request, op);
	struct virtio_rng *rng = r->rng;

	(void)flags;
	if (r->generation == rng->generation) {
		virtq_push(rng->vq, r->chain.head, res > 0 ? (uint32_t)res : 0);
		loop_after_batch(rng->loop, &rng->notify_work);
	}
	rng_put(r);
	if (!--rng->in_flight && rng->resetting) {
		rng->resetting = false;
		virtio_pci_reset_done(&rng->vp, 0);
	}
}

static void rng_queue_notify(void *impl, unsigned q, struct virtq *vq)
{
	struct virtio_rng *rng = impl;

	(void)q;
	rng->vq = vq;
	do {
		for (;;) {
			struct rng_request *r = rng->free;
			if (r)
				rng->free = r->next_free;
			else if (!(r = malloc(sizeof(*r))))
				return;
			r->rng = rng;
			r->op.complete = rng_cqe;
			int got = virtq_pop(vq, &r->chain);
			if (got < 0) {
				rng_put(r);
				virtio_pci_needs_reset(&rng->vp, vq);
				return;
			}
			if (!got) {
				rng_put(r);
				break;
			}
			/* Only the writable buffers get bytes, at most RNG_MAX_BYTES of them. */
			uint64_t room = RNG_MAX_BYTES;
			r->nr_data = 0;
			for (unsigned i = r->chain.nr_out; i < r->chain.nr_out + r->chain.nr_in && room; i++) {
				struct iovec v = r->chain.iov[i];
				if (v.iov_len > room)
					v.iov_len = room;
				room -= v.iov_len;
				r->data[r->nr_data++] = v;
			}
			if (!r->nr_data) {
				virtq_push(vq, r->chain.head, 0);
				loop_after_batch(rng->loop, &rng->notify_work);
				rng_put(r);
				continue;
			}
			r->generation = rng->generation;
			struct io_uring_sqe *sqe = loop_sqe(rng->loop, &r->op);
			io_uring_prep_readv(sqe, rng->fd, r->data, r->nr_data, 0);
			rng->in_flight++;
		}
	} while (virtq_enable_notify(vq));
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
	rng->generation++;
	rng->vq = NULL;
	rng->resetting = rng->in_flight > 0;
	return !rng->resetting;
}

static const struct virtio_device_ops rng_ops = {
	.queue_notify = rng_queue_notify,
	.config_read = rng_config_read,
	.config_write = rng_config_write,
	.activate = rng_activate,
	.reset = rng_reset,
};

int virtio_rng_init(struct virtio_rng *rng, struct guest_memory *mem, struct irq_chip *chip,
		    struct loop *loop, int vm_fd, struct error *err)
{
	memset(rng, 0, sizeof(*rng));
	rng->loop = loop;
	rng->notify_work.run = rng_notify_batch;
	rng->fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (rng->fd < 0)
		return error_sys(err, errno, "cannot open /dev/urandom for virtio-rng");
	struct virtio_device_info info = {
		.name = "virtio-rng", .type = VIRTIO_ID_RNG, .pci_class = PCI_CLASS_CODE_UNASSIGNED,
		.num_queues = 1,
	};
	int r = virtio_pci_init(&rng->vp, &info, &rng_ops, rng, mem, chip, &loop, 1, vm_fd);
	return r ? error_sys(err, -r, "cannot create virtio-rng") : 0;
}

void virtio_rng_destroy(struct virtio_rng *rng)
{
	virtio_pci_destroy(&rng->vp);
	while (rng->free) {
		struct rng_request *r = rng->free;
		rng->free = r->next_free;
		free(r);
	}
	if (rng->fd >= 0)
		close(rng->fd);
}
