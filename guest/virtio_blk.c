#include "virtio_blk.h"

#include <stddef.h>

#include "printf.h"
#include "timer.h"

#define CFG(field) offsetof(struct virtio_blk_config, field)

/* BLK_SIZE is only a hint for alignment: offered back, never read (requests count 512s). */
#define WANTED (VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) | VIRTIO_BIT(VIRTIO_BLK_F_RO) |                 \
		VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE) | VIRTIO_BIT(VIRTIO_BLK_F_FLUSH) |             \
		VIRTIO_BIT(VIRTIO_BLK_F_MQ) | VIRTIO_BIT(VIRTIO_BLK_F_DISCARD) |                 \
		VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES) | VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC) | \
		VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX))
#define REQUEST_TIMEOUT_NS (5 * NS_PER_S)

static struct blk_dev blks[BLK_MAX_DEVS];
static bool attached[BLK_MAX_DEVS];

unsigned blk_count(void)
{
	return virtio_count(VIRTIO_ID_BLOCK, BLK_MAX_DEVS);
}

const char *blk_open(unsigned n, struct blk_dev **out)
{
	struct blk_dev *blk;
	struct virtio_dev *dev;
	const char *err;
	uint32_t segs = 1;

	if (n >= BLK_MAX_DEVS)
		return "no such virtio-blk device";
	blk = &blks[n];
	dev = &blk->vdev;
	if (!attached[n] && (err = virtio_attach(dev, VIRTIO_ID_BLOCK, n)))
		return err;
	attached[n] = true;
	if ((err = virtio_negotiate(dev, WANTED)))
		return err;
	blk->capacity = virtio_config64(dev, CFG(capacity));
	blk->ro = dev->features & VIRTIO_BIT(VIRTIO_BLK_F_RO);
	if (dev->features & VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX))
		segs = virtio_config32(dev, CFG(seg_max));
	blk->nr_queues = dev->features & VIRTIO_BIT(VIRTIO_BLK_F_MQ) ?
			 virtio_config16(dev, CFG(num_queues)) : 1;
	if (blk->nr_queues == 0)
		blk->nr_queues = 1;
	if (blk->nr_queues > VIRTIO_MAX_QUEUES)
		blk->nr_queues = VIRTIO_MAX_QUEUES;  /* a driver may use fewer than offered */
	if ((err = virtio_start_queues(dev, blk->nr_queues)))
		return err;
	/* Without indirect tables a chain (header, data, status) has to fit the ring. */
	if (!(dev->features & VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC)) &&
	    segs > dev->vq[0]->size - 2u)
		segs = dev->vq[0]->size - 2u;
	blk->max_segs = segs == 0 ? 1 : segs > BLK_MAX_SEGS ? BLK_MAX_SEGS : segs;
	*out = blk;
	return NULL;
}

int blk_submit(struct blk_dev *blk, unsigned q, struct blk_req *req, uint32_t type,
		uint64_t sector, void *buf, uint32_t len)
{
	uint16_t data_flags = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID ?
			      VRING_DESC_F_WRITE : 0;
	uintptr_t at = (uintptr_t)buf;
	unsigned n = 1;

	req->hdr.type = type;
	req->hdr.ioprio = 0;
	req->hdr.sector = sector;
	req->status = BLK_S_PENDING;
	req->chain[0] = (struct vring_desc){ (uintptr_t)&req->hdr, sizeof(req->hdr), 0, 0 };
	while (len) {
		uint32_t seg = len < BLK_SEG_SIZE ? len : BLK_SEG_SIZE;

		if (n > blk->max_segs)
			return -1;
		req->chain[n++] = (struct vring_desc){ at, seg, data_flags, 0 };
		at += seg;
		len -= seg;
	}
	req->chain[n++] = (struct vring_desc){ (uintptr_t)&req->status, 1, VRING_DESC_F_WRITE, 0 };
	return virtq_add(blk->vdev.vq[q], req->chain, n, req);
}

uint8_t blk_request(struct blk_dev *blk, unsigned q, uint32_t type, uint64_t sector, void *buf,
		    uint32_t len)
{
	static struct blk_req req;
	struct virtq *vq = blk->vdev.vq[q];
	void *token;
	uint32_t written;

	if (blk_submit(blk, q, &req, type, sector, buf, len) < 0)
		return BLK_S_REFUSED;
	virtq_kick(vq);
	if (!virtq_wait(vq, REQUEST_TIMEOUT_NS) || virtq_get(vq, &token, &written) != 1 ||
	    token != &req)
		return BLK_S_TIMEOUT;
	return req.status;
}

const char *blk_status_text(struct blk_dev *blk, uint8_t status)
{
	static char text[64];

	if (status == BLK_S_TIMEOUT)
		return virtio_status(&blk->vdev) & VIRTIO_CONFIG_S_NEEDS_RESET ?
		       "no completion, device needs reset" : "no completion in 5 s";
	if (status == BLK_S_REFUSED)
		return "request too large for the device, or its ring full";
	snprintf(text, sizeof(text), "status %u%s", status,
		 status == VIRTIO_BLK_S_IOERR ? " (IOERR)" :
		 status == VIRTIO_BLK_S_UNSUPP ? " (UNSUPP)" :
		 status == BLK_S_PENDING ? " (not written)" : "");
	return text;
}
