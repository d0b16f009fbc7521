#include "devices/virtio_net.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <unistd.h>

#include "devices/pci.h"
#include "services/util.h"

_Static_assert(2 * NET_MAX_PAIRS + 1 <= VIRTIO_MAX_QUEUES, "every pair and the control queue fit");

/* mac, status and max_virtqueue_pairs: no MTU, speed or RSS is offered. */
#define CONFIG_SIZE   VIRTIO_CONFIG_UPTO(struct virtio_net_config, max_virtqueue_pairs)

/* A control command as ringvm reads it: the header, then (MQ) the pair count. */
struct net_ctrl_msg {
	struct virtio_net_ctrl_hdr hdr;
	struct virtio_net_ctrl_mq mq;
};

struct net_tx_request {
	struct vreq req;
	struct net_tx *tx;
	struct loop_op op;
};

/* A control command holds nothing but its chain: it completes as it starts. */
struct net_ctrl_request {
	struct vreq req;
};

/* --- transmit ------------------------------------------------------------------- */

static void tx_done(struct loop_op *op, int res, unsigned flags)
{
	struct net_tx_request *r = container_of(op, struct net_tx_request, op);

	/* A frame the tap refused (a bad offload header) is dropped, as on a wire. */
	struct virtio_net_counters *c = &r->tx->net->counters;

	(void)flags;
	if (res < 0) {
		VIRTIO_COUNT(c->tx_dropped, 1);
	} else {
		VIRTIO_COUNT(c->tx_packets, 1);
		VIRTIO_COUNT(c->tx_bytes, r->req.chain.out_len - NET_HDR_SIZE);
	}
	vreq_complete(&r->req, 0);
}

static int tx_start(void *dev, struct vreq *req)
{
	struct net_tx *tx = dev;
	struct net_tx_request *r = container_of(req, struct net_tx_request, req);
	const struct virtq_chain *c = &req->chain;

	/* A frame is read by the device, never written: writable buffers are a bug. */
	if (c->nr_in || c->out_len < NET_HDR_SIZE || c->out_len > NET_FRAME_MAX) {
		snprintf(tx->rq.vq->error, sizeof(tx->rq.vq->error), "transmit chain of %llu readable "
			 "and %llu writable bytes", (unsigned long long)c->out_len,
			 (unsigned long long)c->in_len);
		return -EINVAL;
	}
	r->tx = tx;
	r->op.complete = tx_done;
	struct io_uring_sqe *sqe = loop_sqe(tx->net->loop, &r->op);
	io_uring_prep_writev(sqe, tx->fd, c->iov, c->nr_out, 0);
	return 0;
}

/* --- receive -------------------------------------------------------------------- */

static void rx_arm(struct net_rx *rx);

static void rx_notify_batch(struct loop_work *work)
{
	struct net_rx *rx = container_of(work, struct net_rx, notify_work);
	virtio_notify_used(&rx->net->vdev, 2 * rx->index, rx->net->loop);
}

/* Copies len bytes into a receive chain at offset; returns the bytes copied. */
static uint64_t rx_chain_write(const struct net_rx_chain *c, uint64_t offset, const void *src,
			       uint64_t len)
{
	uint64_t done = 0;

	for (unsigned i = 0; i < c->n && done < len; i++) {
		if (offset >= c->iov[i].iov_len) {
			offset -= c->iov[i].iov_len;
			continue;
		}
		uint64_t n = c->iov[i].iov_len - offset;
		if (n > len - done)
			n = len - done;
		memcpy((uint8_t *)c->iov[i].iov_base + offset, (const uint8_t *)src + done, n);
		done += n;
		offset = 0;
	}
	return done;
}

/* Takes one more receive chain; 1, 0 when the guest has none, -EINVAL if it broke the queue. */
static int rx_take_chain(struct net_rx *rx)
{
	struct virtq_chain *c = &rx->scratch;
	int got = virtq_pop(rx->vq, c);

	if (got <= 0)
		return got;
	if (c->nr_out || c->in_len < NET_HDR_SIZE || c->nr_in > NET_RX_BUFFERS) {
		snprintf(rx->vq->error, sizeof(rx->vq->error),
			 "receive chain of %u readable and %u writable buffers, %llu bytes", c->nr_out,
			 c->nr_in, (unsigned long long)c->in_len);
		rx->vq->broken = true;
		return -EINVAL;
	}
	struct net_rx_chain *kept = &rx->held[rx->nr_held++];
	kept->head = c->head;
	kept->n = c->nr_in;
	kept->room = c->in_len;
	memcpy(kept->iov, c->iov, c->nr_in * sizeof(c->iov[0]));
	rx->held_room += c->in_len;
	return 1;
}

/* Moves the waiting frame into guest buffers if there are enough; true when it is gone. */
static bool rx_deliver(struct net_rx *rx)
{
	struct virtio_net *net = rx->net;
	bool mergeable = net->features & VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF);

	if (!rx->vq || rx->vq->broken)
		return false;
	while (rx->held_room < rx->frame_len) {
		if (rx->nr_held == (mergeable ? NET_HELD_MAX : 1)) {
			/* Buffers too small for this frame (and no merging): drop it, keep them. */
			rx->dropped++;
			VIRTIO_COUNT(net->counters.rx_dropped, 1);
			rx->frame_len = 0;
			return true;
		}
		int got = rx_take_chain(rx);
		if (got < 0) {
			virtio_needs_reset(&net->vdev, rx->vq);
			return false;
		}
		if (!got)
			return false;           /* wait for the guest to add buffers */
	}
	uint16_t used = 0;
	uint64_t off = 0;
	while (off < rx->frame_len)
		off += rx_chain_write(&rx->held[used++], 0, rx->frame + off, rx->frame_len - off);
	/* num_buffers: how many chains the frame took (1 without mergeable buffers). */
	rx_chain_write(&rx->held[0], offsetof(struct virtio_net_hdr_v1, num_buffers), &used, sizeof(used));
	off = 0;
	for (unsigned i = 0; i < used; i++) {
		uint64_t n = rx->frame_len - off < rx->held[i].room ? rx->frame_len - off : rx->held[i].room;
		virtq_push(rx->vq, rx->held[i].head, (uint32_t)n);
		off += n;
	}
	/* Chains taken but not needed stay for the next frame. */
	unsigned left = rx->nr_held - used;
	memmove(&rx->held[0], &rx->held[used], left * sizeof(rx->held[0]));
	rx->nr_held = left;
	rx->held_room = 0;
	for (unsigned i = 0; i < left; i++)
		rx->held_room += rx->held[i].room;
	VIRTIO_COUNT(net->counters.rx_packets, 1);
	VIRTIO_COUNT(net->counters.rx_bytes, rx->frame_len - NET_HDR_SIZE);
	rx->frame_len = 0;
	loop_after_batch(net->loop, &rx->notify_work);
	return true;
}

static void rx_read_done(struct loop_op *op, int res, unsigned flags)
{
	struct net_rx *rx = container_of(op, struct net_rx, read_op);
	struct virtio_net *net = rx->net;

	(void)flags;
	rx->reading = false;
	if (rx->resetting) {
		/* The read the reset of this queue waited for (cancelled, or done): it is over. */
		rx->resetting = false;
		virtio_reset_done(&net->vdev, 2 * rx->index);
		return;
	}
	if (res == -ECANCELED || !net->vdev.active)
		return;
	if (res > (int)NET_HDR_SIZE) {
		rx->frame_len = (uint32_t)res;
		if (!rx_deliver(rx))
			return;         /* the frame waits; the guest's next notify resumes us */
	}
	rx_arm(rx);
}

static void rx_arm(struct net_rx *rx)
{
	struct virtio_net *net = rx->net;

	if (rx->reading || rx->frame_len || !net->vdev.active || !rx->vq || rx->vq->broken ||
	    rx->index >= net->active_pairs)
		return;
	struct io_uring_sqe *sqe = loop_sqe(net->loop, &rx->read_op);
	io_uring_prep_read(sqe, rx->fd, rx->frame, NET_FRAME_MAX, 0);
	rx->reading = true;
}

static void rx_process(struct net_rx *rx, struct virtq *vq)
{
	rx->vq = vq;
	if (rx->frame_len && !rx_deliver(rx))
		return;
	rx_arm(rx);
}

/* --- control queue (multi-queue only) -------------------------------------------- */

/*
 * Uses queue pairs [0, n): the tap's other queues are detached, so that the kernel
 * hashes no frame onto a queue the driver does not read (a driver without MQ reads
 * pair 0 only).
 */
static int set_active_pairs(struct virtio_net *net, unsigned n)
{
	for (unsigned i = 0; i < net->pairs && net->pairs > 1; i++) {
		struct ifreq ifr = { .ifr_flags = i < n ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE };
		if (ioctl(net->fds[i], TUNSETQUEUE, &ifr) && errno != EINVAL)
			return -errno;
	}
	net->active_pairs = n;
	for (unsigned i = 0; i < n; i++)
		rx_arm(&net->rx[i]);
	return 0;
}

static int ctrl_start(void *dev, struct vreq *req)
{
	struct virtio_net *net = dev;
	const struct virtq_chain *c = &req->chain;
	struct net_ctrl_msg msg = { 0 };
	uint8_t ack = VIRTIO_NET_OK;

	virtq_chain_read(c, 0, &msg, sizeof(msg));
	if (c->in_len < 1 || c->out_len < sizeof(msg.hdr)) {
		snprintf(net->ctrl.vq->error, sizeof(net->ctrl.vq->error), "control command of %llu bytes",
			 (unsigned long long)c->out_len);
		return -EINVAL;
	}
	/* Filtering is the tap's business: RX, MAC and VLAN commands are just acknowledged. */
	uint16_t pairs = msg.mq.virtqueue_pairs;
	if (msg.hdr.class == VIRTIO_NET_CTRL_MQ)
		ack = msg.hdr.cmd == VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET &&
		      c->out_len >= sizeof(msg) && pairs >= 1 && pairs <= net->pairs &&
		      !set_active_pairs(net, pairs) ? VIRTIO_NET_OK : VIRTIO_NET_ERR;
	virtq_chain_write(c, c->in_len - 1, &ack, 1);
	vreq_complete(req, 1);
	return 0;
}

static void net_queue_notify(void *impl, unsigned q, struct virtq *vq)
{
	struct virtio_net *net = impl;

	if (q == 2 * net->pairs)
		vreq_queue_notify(&net->ctrl, vq);
	else if (q % 2)
		vreq_queue_notify(&net->tx[q / 2].rq, vq);
	else
		rx_process(&net->rx[q / 2], vq);
}

static void net_config_read(void *impl, uint32_t offset, uint8_t *data, uint32_t len)
{
	struct virtio_net *net = impl;
	struct virtio_net_config cfg = {
		.status = VIRTIO_NET_S_LINK_UP,
		.max_virtqueue_pairs = (uint16_t)net->pairs,
	};

	memcpy(cfg.mac, net->mac, sizeof(cfg.mac));
	memcpy(data, (const uint8_t *)&cfg + offset, len);
}

static void net_config_write(void *impl, uint32_t offset, const uint8_t *data, uint32_t len)
{
	(void)impl, (void)offset, (void)data, (void)len;   /* the MAC is read-only under VERSION_1 */
}

static int net_activate(void *impl, uint64_t features)
{
	struct virtio_net *net = impl;
	unsigned offload = 0;

	net->features = features;
	/* Tell the tap which offloads the guest can take on receive. */
	if (features & VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM)) {
		offload |= TUN_F_CSUM;
		offload |= features & VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4) ? TUN_F_TSO4 : 0;
		offload |= features & VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO6) ? TUN_F_TSO6 : 0;
		offload |= features & VIRTIO_BIT(VIRTIO_NET_F_GUEST_ECN) ? TUN_F_TSO_ECN : 0;
	}
	for (unsigned i = 0; i < net->pairs; i++)
		if (ioctl(net->fds[i], TUNSETOFFLOAD, offload))
			return -errno;
	return set_active_pairs(net, 1);
}

/*
 * Each queue resets on its own: transmit and control through the engine, a receive
 * queue by cancelling its read and waiting for it (the read writes into rx->frame).
 */
static bool net_reset(void *impl, unsigned q)
{
	struct virtio_net *net = impl;

	if (q == 2 * net->pairs)
		return vreq_queue_reset(&net->ctrl);
	if (q % 2)
		return vreq_queue_reset(&net->tx[q / 2].rq);
	struct net_rx *rx = &net->rx[q / 2];
	rx->vq = NULL;
	rx->frame_len = 0;
	rx->nr_held = 0;
	rx->held_room = 0;
	if (!rx->reading || rx->resetting)
		return !rx->reading;
	struct io_uring_sqe *sqe = loop_sqe(net->loop, NULL);
	io_uring_prep_cancel(sqe, &rx->read_op, 0);
	rx->resetting = true;
	return false;
}

static const struct virtio_device_ops net_ops = {
	.queue_notify = net_queue_notify,
	.config_read = net_config_read,
	.config_write = net_config_write,
	.activate = net_activate,
	.reset = net_reset,
};

static int tap_open(const char *name, bool multi_queue, struct error *err)
{
	struct ifreq ifr = { 0 };
	int hdr = NET_HDR_SIZE;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return error_sys(err, errno, "cannot open /dev/net/tun for tap '%s'", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (multi_queue ? IFF_MULTI_QUEUE : 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) || ioctl(fd, TUNSETVNETHDRSZ, &hdr) ||
	    ioctl(fd, TUNSETOFFLOAD, 0)) {
		int e = errno;
		close(fd);
		return error_set(err, e, "cannot attach to tap '%s': %s%s", name, strerror(e),
				 e == EPERM ? " (needs CAP_NET_ADMIN)" :
				 e == EINVAL ? " (is it a tap with the same queue setting?)" : "");
	}
	return fd;
}

int virtio_net_open(struct net_tap *tap, const struct net_config *cfg, struct error *err)
{
	tap->pairs = cfg->queue_pairs ? cfg->queue_pairs : 1;
	for (unsigned i = 0; i < NET_MAX_PAIRS; i++)
		tap->fds[i] = -1;
	if (tap->pairs > NET_MAX_PAIRS)
		return error_set(err, EINVAL, "--net: at most %d queue pairs", NET_MAX_PAIRS);
	for (unsigned i = 0; i < tap->pairs; i++) {
		int fd = tap_open(cfg->tap, tap->pairs > 1, err);
		if (fd < 0) {
			virtio_net_close(tap);
			return fd;
		}
		tap->fds[i] = fd;
	}
	return 0;
}

void virtio_net_close(struct net_tap *tap)
{
	for (unsigned i = 0; i < NET_MAX_PAIRS; i++) {
		if (tap->fds[i] >= 0)
			close(tap->fds[i]);
		tap->fds[i] = -1;
	}
}

int virtio_net_init(struct virtio_net *net, const struct net_config *cfg, struct net_tap *tap,
		    unsigned index, struct guest_memory *mem,
		    struct loop *loop, int vm_fd, struct error *err)
{
	memset(net, 0, sizeof(*net));
	net->cfg = *cfg;
	net->loop = loop;
	net->pairs = tap->pairs;
	for (unsigned i = 0; i < NET_MAX_PAIRS; i++) {
		net->fds[i] = tap->fds[i];
		tap->fds[i] = -1;
	}
	for (unsigned i = 0; i < net->pairs; i++) {
		int fd = net->fds[i];
		net->rx[i] = (struct net_rx){ .net = net, .index = i, .fd = fd,
					      .read_op.complete = rx_read_done,
					      .notify_work.run = rx_notify_batch };
		net->tx[i] = (struct net_tx){ .net = net, .index = i, .fd = fd };
		net->rx[i].frame = malloc(NET_FRAME_MAX);
		if (!net->rx[i].frame)
			return error_set(err, ENOMEM, "out of memory for tap '%s'", cfg->tap);
	}
	if (cfg->has_mac) {
		memcpy(net->mac, cfg->mac, 6);
	} else {
		/* A random, locally administered unicast address. */
		if (getrandom(net->mac, 6, 0) != 6)
			return error_sys(err, errno, "cannot make a MAC address");
		net->mac[0] = (uint8_t)((net->mac[0] & 0xfe) | 0x02);
	}
	snprintf(net->name, sizeof(net->name), "virtio-net %u", index);
	uint64_t features = VIRTIO_BIT(VIRTIO_NET_F_MAC) | VIRTIO_BIT(VIRTIO_NET_F_STATUS) |
			    VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF) | VIRTIO_BIT(VIRTIO_NET_F_CSUM) |
			    VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4) |
			    VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO6) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_ECN) |
			    VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4) | VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO6) |
			    VIRTIO_BIT(VIRTIO_NET_F_HOST_ECN) |
			    (net->pairs > 1 ? VIRTIO_BIT(VIRTIO_NET_F_CTRL_VQ) | VIRTIO_BIT(VIRTIO_NET_F_MQ) : 0);
	struct virtio_device_info info = {
		.name = net->name, .type = VIRTIO_ID_NET, .pci_class = PCI_CLASS_CODE_ETHERNET,
		.features = features,
		.num_queues = 2 * net->pairs + (net->pairs > 1), .config_size = CONFIG_SIZE,
	};
	int r = virtio_dev_init(&net->vdev, &info, &net_ops, net, mem, &loop, 1, vm_fd);
	for (unsigned i = 0; i < net->pairs && !r; i++)
		r = vreq_queue_init(&net->tx[i].rq, &net->vdev, 2 * i + 1, loop,
				    sizeof(struct net_tx_request), offsetof(struct net_tx_request, req),
				    tx_start, &net->tx[i]);
	if (!r && net->pairs > 1)
		r = vreq_queue_init(&net->ctrl, &net->vdev, 2 * net->pairs, loop,
				    sizeof(struct net_ctrl_request), offsetof(struct net_ctrl_request, req),
				    ctrl_start, net);
	return r ? error_sys(err, -r, "cannot create %s", net->name) : 0;
}

void virtio_net_counters(const struct virtio_net *net, struct virtio_net_counters *out)
{
	virtio_counters_snapshot(out, &net->counters, sizeof(*out));
}

void virtio_net_destroy(struct virtio_net *net)
{
	virtio_dev_destroy(&net->vdev);
	vreq_queue_destroy(&net->ctrl);
	for (unsigned i = 0; i < NET_MAX_PAIRS; i++) {
		free(net->rx[i].frame);
		vreq_queue_destroy(&net->tx[i].rq);
		if (net->fds[i] >= 0)
			close(net->fds[i]);
	}
}
