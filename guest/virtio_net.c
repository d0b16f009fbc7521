#include "virtio_net.h"

#include <stdbool.h>
#include <stddef.h>

#include "mem.h"
#include "timer.h"

#define SEND_TIMEOUT_NS (5 * NS_PER_S)
#define WANTED          (VIRTIO_BIT(VIRTIO_NET_F_MAC) | VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC) | \
			 VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX))
#define CFG_MAC         offsetof(struct virtio_net_config, mac)

static struct net_dev nets[NET_MAX_DEVS];
static bool attached[NET_MAX_DEVS];

unsigned net_count(void)
{
	return virtio_count(VIRTIO_ID_NET, NET_MAX_DEVS);
}

static void post_rx(struct net_dev *net, uint8_t *buf)
{
	struct vring_desc chain = { (uintptr_t)buf, NET_BUF_SIZE, VRING_DESC_F_WRITE, 0 };

	virtq_add(net->vdev.vq[NET_RXQ], &chain, 1, buf);
}

const char *net_open(unsigned n, struct net_dev **out)
{
	struct net_dev *net;
	const char *err;

	if (n >= NET_MAX_DEVS)
		return "no such virtio-net device";
	net = &nets[n];
	if (!attached[n] && (err = virtio_attach(&net->vdev, VIRTIO_ID_NET, n)))
		return err;
	attached[n] = true;
	if ((err = virtio_negotiate(&net->vdev, WANTED)))
		return err;
	/* Without VIRTIO_NET_F_MAC the driver picks one: a fixed locally administered address. */
	static const uint8_t fallback[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

	for (unsigned i = 0; i < 6; i++)
		net->mac[i] = net->vdev.features & VIRTIO_BIT(VIRTIO_NET_F_MAC) ?
			      virtio_config8(&net->vdev, CFG_MAC + i) : fallback[i];
	if ((err = virtio_start_queues(&net->vdev, 2)))
		return err;
	for (unsigned i = 0; i < NET_RX_BUFS; i++)
		post_rx(net, net->rx[i]);
	virtq_kick(net->vdev.vq[NET_RXQ]);
	memset(net->tx, 0, NET_HDR_SIZE);
	*out = net;
	return NULL;
}

const char *net_send(struct net_dev *net, uint32_t len)
{
	struct virtq *vq = net->vdev.vq[NET_TXQ];
	struct vring_desc chain = { (uintptr_t)net->tx, NET_HDR_SIZE + len, 0, 0 };
	void *token;
	uint32_t written;

	if (virtq_add(vq, &chain, 1, net->tx) < 0)
		return "transmit ring full";
	virtq_kick(vq);
	if (!virtq_wait(vq, SEND_TIMEOUT_NS))
		return virtio_status(&net->vdev) & VIRTIO_CONFIG_S_NEEDS_RESET ?
		       "transmit not completed, device needs reset" : "transmit not completed in 5 s";
	if (virtq_get(vq, &token, &written) != 1 || token != net->tx)
		return "device returned a transmit buffer that was not outstanding";
	return NULL;
}

int net_receive(struct net_dev *net, const uint8_t **frame, uint64_t ns)
{
	struct virtq *vq = net->vdev.vq[NET_RXQ];
	void *token;
	uint32_t len;
	int got;

	if (!virtq_wait(vq, ns))
		return -1;
	if ((got = virtq_get(vq, &token, &len)) != 1)
		return got == 0 ? -1 : 0;
	*frame = (const uint8_t *)token + NET_HDR_SIZE;
	if (len <= NET_HDR_SIZE || len > NET_BUF_SIZE) {
		net_recycle(net, *frame);
		return 0;
	}
	return (int)(len - NET_HDR_SIZE);
}

void net_recycle(struct net_dev *net, const uint8_t *frame)
{
	post_rx(net, (uint8_t *)(uintptr_t)(frame - NET_HDR_SIZE));
	virtq_kick(net->vdev.vq[NET_RXQ]);
}
