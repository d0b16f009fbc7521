/*
 * virtio-net (virtio 1.2, 5.1) with one receive and one transmit queue and
 * no offloads: every frame carries the 12-byte virtio_net_hdr, zeroed on
 * transmit. Receive buffers are posted at start and re-posted once read.
 */
#ifndef RINGVM_GUEST_VIRTIO_NET_H
#define RINGVM_GUEST_VIRTIO_NET_H

#include <linux/virtio_net.h>
#include <stdint.h>

#include "virtio.h"

#define NET_MAX_DEVS   2
#define NET_RX_BUFS    16
#define NET_BUF_SIZE   2048         /* header and a 1514-byte frame, rounded up */
#define NET_HDR_SIZE   sizeof(struct virtio_net_hdr_v1)    /* num_buffers included (VERSION_1) */
#define NET_RXQ        0
#define NET_TXQ        1

struct net_dev {
	struct virtio_dev vdev;
	uint8_t mac[6];
	uint8_t tx[NET_BUF_SIZE];                   /* the header, then the frame to send */
	uint8_t rx[NET_RX_BUFS][NET_BUF_SIZE];
};

/* virtio-net devices on the bus. */
unsigned net_count(void);

/* Resets and starts the nth device, receive buffers posted; NULL or why not. */
const char *net_open(unsigned n, struct net_dev **out);

/* Where to build the frame the next net_send() sends. */
static inline uint8_t *net_tx_frame(struct net_dev *net)
{
	return net->tx + NET_HDR_SIZE;
}

/* Sends the len-byte frame at net_tx_frame() and waits until the device is done with it. */
const char *net_send(struct net_dev *net, uint32_t len);

/*
 * Waits up to ns for a frame: its length and address, valid until
 * net_recycle() (a length of 0: the device returned nothing usable, already
 * recycled), or -1 when none came.
 */
int net_receive(struct net_dev *net, const uint8_t **frame, uint64_t ns);

/* Gives the buffer of a frame net_receive() returned back to the device. */
void net_recycle(struct net_dev *net, const uint8_t *frame);

#endif
