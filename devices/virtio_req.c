#include "devices/virtio_req.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "devices/virtio_dev.h"
#include "services/util.h"

static struct vreq *request_at(struct vreq_queue *q, unsigned i)
{
	return (struct vreq *)(q->pool + i * q->req_size + q->req_offset);
}

static void vreq_notify_batch(struct loop_work *work)
{
	struct vreq_queue *q = container_of(work, struct vreq_queue, notify_work);

	/* Decided for a session a reset in this batch has ended: its ring is gone. */
	if (q->notify_epoch == q->epoch && q->vq)
		virtio_notify_used(q->vdev, q->index, q->loop);
}

int vreq_queue_init(struct vreq_queue *q, struct virtio_dev *vdev, unsigned index, struct loop *loop,
		    size_t req_size, size_t req_offset, vreq_start_fn start, void *dev)
{
	memset(q, 0, sizeof(*q));
	q->vdev = vdev;
	q->index = index;
	q->loop = loop;
	q->start = start;
	q->dev = dev;
	q->req_size = req_size;
	q->req_offset = req_offset;
	q->notify_work.run = vreq_notify_batch;
	/* Untouched until used: calloc's fresh pages cost nothing until a request lands there. */
	q->pool = calloc(VIRTQ_MAX_SIZE, req_size);
	if (!q->pool)
		return -ENOMEM;
	for (unsigned i = 0; i < VIRTQ_MAX_SIZE; i++)
		q->free[i] = (uint16_t)(VIRTQ_MAX_SIZE - 1 - i);
	q->nr_free = VIRTQ_MAX_SIZE;
	return 0;
}

void vreq_queue_destroy(struct vreq_queue *q)
{
	free(q->pool);
	q->pool = NULL;
}

static void request_put(struct vreq *r)
{
	struct vreq_queue *q = r->queue;

	q->free[q->nr_free++] = (uint16_t)(((unsigned char *)r - q->req_offset - q->pool) / q->req_size);
	if (!--q->in_flight && q->resetting) {
		q->resetting = false;
		virtio_reset_done(q->vdev, q->index);
	}
}

bool vreq_live(const struct vreq *r)
{
	return r->epoch == r->queue->epoch;
}

void vreq_complete(struct vreq *r, uint32_t written)
{
	struct vreq_queue *q = r->queue;

	/* A request of a session the driver has since reset must not touch its new rings. */
	if (vreq_live(r) && q->vq) {
		virtq_push(q->vq, r->chain.head, written);
		q->notify_epoch = q->epoch;
		loop_after_batch(q->loop, &q->notify_work);
	}
	request_put(r);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void broken(struct vreq_queue *q, struct virtq *vq)
{
	vq->broken = true;
	virtio_needs_reset(q->vdev, vq);
}

void vreq_queue_notify(struct vreq_queue *q, struct virtq *vq)
{
	uint64_t begin = now_ns();
	/*
	 * One queue's worth per call: a driver that re-publishes chains as fast as they
	 * complete would otherwise keep the thread (and the console, the other devices
	 * and a stop request that share it) here for as long as it likes.
	 */
	unsigned budget = vq->ring.num, taken = 0;

	q->vq = vq;
	q->stats.calls++;
	for (;;) {
		if (taken == budget) {
			q->stats.deferred++;
			virtio_queue_again(q->vdev, q->index);
			break;
		}
		/*
		 * Every request out means num (VIRTQ_MAX_SIZE) chains in flight: a full queue,
		 * which is fine, unless the driver offers one more, which it cannot have.
		 */
		if (!q->nr_free) {
			if (!virtq_pending(vq) && !virtq_enable_notify(vq))
				break;
			snprintf(vq->error, sizeof(vq->error), "more than %u chains in flight in a queue of %u",
				 q->in_flight, vq->ring.num);
			broken(q, vq);
			break;
		}
		struct vreq *r = request_at(q, q->free[q->nr_free - 1]);
		int got = virtq_pop(vq, &r->chain);
		if (got < 0) {
			broken(q, vq);
			break;
		}
		if (!got) {
			if (virtq_enable_notify(vq))
				continue;
			break;
		}
		taken++;
		q->nr_free--;
		r->queue = q;
		r->epoch = q->epoch;
		q->in_flight++;
		if (q->in_flight > q->stats.max_in_flight)
			q->stats.max_in_flight = q->in_flight;
		if (q->start(q->dev, r) < 0) {
			request_put(r);
			broken(q, vq);
			break;
		}
	}
	if (taken > q->stats.max_per_call)
		q->stats.max_per_call = taken;
	uint64_t held = now_ns() - begin;
	if (held > q->stats.max_call_ns)
		q->stats.max_call_ns = held;
}

bool vreq_queue_reset(struct vreq_queue *q)
{
	q->epoch++;
	q->vq = NULL;
	/* The transport runs one reset at a time; one still waiting has nothing more to do. */
	if (q->resetting)
		return false;
	if (!q->in_flight)
		return true;
	/* Operations already in the kernel cannot be recalled: the reset ends when they do. */
	q->resetting = true;
	return false;
}
