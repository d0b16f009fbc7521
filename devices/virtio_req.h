/*
 * The virtio request engine every request-driven queue uses (virtio-blk, the
 * transmit and control queues of virtio-net, virtio-rng): it takes chains into a
 * pool made up front (one request per descriptor a queue can have, so the guest
 * makes us allocate nothing), at most one queue's worth per call before the loop
 * gets its turn back, ties each request to the session that took it (a reset
 * starts a new epoch: completions of the old one touch nothing) and holds a
 * queue's reset until its last request is back. All of a queue's engine runs on
 * that queue's I/O thread.
 */
#ifndef RINGVM_VIRTIO_REQ_H
#define RINGVM_VIRTIO_REQ_H

#include <stddef.h>
#include <stdint.h>

#include "devices/virtio.h"
#include "devices/virtqueue.h"
#include "services/loop.h"

struct vreq_queue;

/* Embedded in a device's request; the chain is filled when the engine hands it out. */
struct vreq {
	struct virtq_chain chain;
	struct vreq_queue *queue;
	unsigned epoch;
};

/*
 * Starts request r: 0 once the device owns it (it calls vreq_complete, maybe at once),
 * -EINVAL (vq->error filled in) if the chain breaks the protocol: NEEDS_RESET.
 */
typedef int (*vreq_start_fn)(void *dev, struct vreq *r);

/* What a queue's engine has seen: for tests, and to size the budget. */
struct vreq_stats {
	unsigned max_in_flight;     /* the most requests held at once */
	unsigned max_per_call;      /* the most chains one handler call took */
	uint64_t max_call_ns;       /* the longest one handler call held the thread */
	uint64_t calls, deferred;   /* handler calls; of those, cut short by the budget */
};

struct vreq_queue {
	struct virtio_dev *vdev;
	unsigned index;             /* the transport's queue number */
	struct loop *loop;          /* the queue's I/O thread */
	vreq_start_fn start;
	void *dev;
	struct virtq *vq;           /* the live session's ring; NULL once reset */
	unsigned char *pool;        /* VIRTQ_MAX_SIZE requests of req_size bytes */
	size_t req_size, req_offset;    /* a device request, and where its vreq is in it */
	uint16_t free[VIRTQ_MAX_SIZE];  /* indices of the requests not in use */
	unsigned nr_free;
	unsigned in_flight;         /* requests handed out and not completed */
	unsigned epoch;             /* bumped by each reset */
	unsigned notify_epoch;      /* the session the pending interrupt decision is for */
	bool resetting;             /* a reset waits for in_flight to reach 0 */
	struct loop_work notify_work;   /* one interrupt decision per batch */
	struct vreq_stats stats;
};

/* Builds queue index's engine with a pool of device requests (vreq at req_offset); -ENOMEM. */
int vreq_queue_init(struct vreq_queue *q, struct virtio_dev *vdev, unsigned index, struct loop *loop,
		    size_t req_size, size_t req_offset, vreq_start_fn start, void *dev);

/* Frees the pool; the queue's I/O thread must have stopped. */
void vreq_queue_destroy(struct vreq_queue *q);

/* The device's queue_notify: takes up to one queue's worth of chains, posts itself for the rest. */
void vreq_queue_notify(struct vreq_queue *q, struct virtq *vq);

/* The device's reset of this queue: true if nothing is in flight, else reset_done comes later. */
bool vreq_queue_reset(struct vreq_queue *q);

/* Whether r belongs to the live session (else its work is to be dropped). */
bool vreq_live(const struct vreq *r);

/* Finishes r: returns its chain with written bytes if its session lives; r goes back to the pool. */
void vreq_complete(struct vreq *r, uint32_t written);

#endif
