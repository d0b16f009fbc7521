/*
 * virtio-net on a tap with IFF_VNET_HDR (IFF_MULTI_QUEUE for several queue pairs):
 * transmit is writev from the guest's buffers through the ring; receive reads each
 * frame through the ring into a per-queue buffer, then copies it into as many
 * receive chains as it needs (mergeable buffers). Checksum and TSO offloads follow
 * what the guest negotiated.
 */
#ifndef RINGVM_VIRTIO_NET_H
#define RINGVM_VIRTIO_NET_H

#include <linux/virtio_net.h>

#include "devices/virtio_dev.h"
#include "devices/virtio_req.h"
#include "services/error.h"

/* A receive and a transmit queue per pair, and with several pairs a control queue. */
#define NET_MAX_PAIRS    ((VIRTIO_MAX_QUEUES - 1) / 2)
#define NET_HDR_SIZE     sizeof(struct virtio_net_hdr_v1)    /* VERSION_1: num_buffers included */
#define NET_FRAME_MAX    (65536 + NET_HDR_SIZE)
#define NET_HELD_MAX     64                  /* receive chains one frame may span */
#define NET_RX_BUFFERS   20                  /* writable buffers in one receive chain */

struct net_config {
	char tap[16];               /* IFNAMSIZ */
	uint8_t mac[6];
	bool has_mac;
	unsigned queue_pairs;       /* 1 unless queues=N */
	unsigned iothread;          /* where every queue runs: 0 the main loop, else I/O thread N */
	unsigned nr_iothreads;      /* as asked; only 1 works: the queues share the device's state */
};

struct virtio_net;

/* Frames each way (bytes without the virtio-net header); VIRTIO_COUNT on the queues' thread. */
struct virtio_net_counters {
	uint64_t tx_packets, tx_bytes, tx_dropped;  /* dropped: the tap refused the frame */
	uint64_t rx_packets, rx_bytes, rx_dropped;  /* dropped: the guest's buffers were too small */
};

/* A receive chain, kept small: many of them wait while a frame fills them. */
struct net_rx_chain {
	uint16_t head;
	unsigned n;
	uint64_t room;
	struct iovec iov[NET_RX_BUFFERS];
};

struct net_rx {
	struct virtio_net *net;
	unsigned index;
	int fd;
	struct virtq *vq;
	struct loop_op read_op;
	bool reading;
	bool resetting;                         /* the queue's reset waits for the read */
	uint8_t *frame;                         /* NET_FRAME_MAX bytes */
	uint32_t frame_len;                     /* a frame waiting for guest buffers, or 0 */
	struct net_rx_chain held[NET_HELD_MAX]; /* chains taken for it so far */
	struct virtq_chain scratch;             /* where chains are popped before being kept */
	unsigned nr_held;
	uint64_t held_room;
	struct loop_work notify_work;
	uint64_t dropped;
};

struct net_tx {
	struct virtio_net *net;
	unsigned index;
	int fd;
	struct vreq_queue rq;       /* its frames in flight */
};

/* A tap attached once per queue pair, before the VM exists. */
struct net_tap {
	unsigned pairs;
	int fds[NET_MAX_PAIRS];     /* -1 once virtio_net_init has them */
};

struct virtio_net {
	struct virtio_dev vdev;
	struct net_config cfg;
	uint8_t mac[6];
	unsigned pairs;
	unsigned active_pairs;                  /* the driver's: 1 unless it set more (MQ) */
	int fds[NET_MAX_PAIRS];
	struct net_rx rx[NET_MAX_PAIRS];
	struct net_tx tx[NET_MAX_PAIRS];
	uint64_t features;                      /* negotiated */
	struct vreq_queue ctrl;                 /* the control queue (several pairs only) */
	struct loop *loop;
	char name[24];
	struct virtio_net_counters counters;
};

/* Attaches to tap cfg->tap (made if absent) once per queue pair; needs no VM. */
int virtio_net_open(struct net_tap *tap, const struct net_config *cfg, struct error *err);

/* Closes a tap that no device took. */
void virtio_net_close(struct net_tap *tap);

/* Builds the device on tap, which it takes (its fds become -1) whether or not it succeeds. */
int virtio_net_init(struct virtio_net *net, const struct net_config *cfg, struct net_tap *tap,
		    unsigned index, struct guest_memory *mem,
		    struct loop *loop, int vm_fd, struct error *err);

/* A snapshot of the device's counters. */
void virtio_net_counters(const struct virtio_net *net, struct virtio_net_counters *out);

/* Closes the tap; the I/O thread must have stopped. */
void virtio_net_destroy(struct virtio_net *net);

#endif
