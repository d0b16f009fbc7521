#include "devices/virtio_pci.h"

#include <errno.h>
#include <linux/virtio_pci.h>
#include <stddef.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "services/log.h"
#include "services/util.h"

/* BAR 0: where each structure lives (a power of two in all). */
#define BAR_SIZE           0x8000
#define COMMON_OFFSET      0x0000
#define COMMON_SIZE        0x40
#define ISR_OFFSET         0x1000
#define ISR_SIZE           4
#define DEVICE_OFFSET      0x2000
#define DEVICE_MAX         0x1000
#define NOTIFY_OFFSET      0x3000
#define NOTIFY_MULTIPLIER  4
#define MSIX_TABLE_OFFSET  0x4000
#define MSIX_PBA_OFFSET    0x5000

#define VIRTIO_PCI_SUBSYS  0x1100      /* QEMU's subsystem ID, as its virtio devices have */
#define LOG_BUDGET         16

/* Offsets from the kernel's structs: the device and any driver read the same definition. */
#define CC(field)          offsetof(struct virtio_pci_common_cfg, field)
#define CC_END             sizeof(struct virtio_pci_common_cfg)
/* In a vendor capability: virtio_pci_cap, and the notify and PCI_CFG ones that extend it. */
#define CAP(field)         offsetof(struct virtio_pci_cap, field)
#define CFG_CAP_DATA       offsetof(struct virtio_pci_cfg_cap, pci_cfg_data)

static uint64_t offered_features(const struct virtio_pci *vp)
{
	return vp->info.features | VIRTIO_BIT(VIRTIO_F_VERSION_1) |
	       VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC) | VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX);
}

/* --- the I/O thread's side ------------------------------------------------ */

static void queue_arm_notify(struct virtio_pci_queue *q)
{
	if (q->notify_armed)
		return;
	struct io_uring_sqe *sqe = loop_sqe(q->loop, &q->notify_op);
	io_uring_prep_read(sqe, q->notify_fd, &q->notify_count, sizeof(q->notify_count), 0);
	q->notify_armed = true;
}

static bool queue_live(const struct virtio_pci *vp, const struct virtio_pci_queue *q)
{
	return vp->active && q->enable && !q->vq.broken;
}

static void queue_notified(struct loop_op *op, int res, unsigned flags)
{
	struct virtio_pci_queue *q = container_of(op, struct virtio_pci_queue, notify_op);
	struct virtio_pci *vp = q->vp;

	(void)flags;
	q->notify_armed = false;
	/* A cancelled read may outlive the session it belonged to; a new one re-arms. */
	if (!vp->active || loop_closing(q->loop) || (res < 0 && res != -ECANCELED && res != -EINTR))
		return;
	if (res > 0 && queue_live(vp, q))
		vp->ops->queue_notify(vp->impl, q->index, &q->vq);
	queue_arm_notify(q);
}

static void queue_kicked(struct loop_work *work)
{
	struct virtio_pci_queue *q = container_of(work, struct virtio_pci_queue, kick);

	if (queue_live(q->vp, q))
		q->vp->ops->queue_notify(q->vp->impl, q->index, &q->vq);
}

/* Queue thread: DRIVER_OK reached this queue. */
static void queue_activated(struct loop_work *work)
{
	struct virtio_pci_queue *q = container_of(work, struct virtio_pci_queue, activate_work);
	struct virtio_pci *vp = q->vp;

	if (!vp->active || !q->enable)
		return;
	queue_arm_notify(q);
	/* Whatever the driver queued before DRIVER_OK, or before its first doorbell. */
	if (queue_live(vp, q))
		vp->ops->queue_notify(vp->impl, q->index, &q->vq);
}

/* The last queue's thread: the old session is gone from every queue; the device is as new. */
static void virtio_pci_finish_reset(struct virtio_pci *vp)
{
	pthread_mutex_lock(&vp->lock);
	for (unsigned i = 0; i < vp->info.num_queues; i++) {
		struct virtio_pci_queue *q = &vp->queue[i];
		q->size = VIRTQ_MAX_SIZE;
		q->msix_vector = VIRTIO_MSI_NO_VECTOR;
		q->enable = 0;
		q->desc = q->driver = q->device = 0;
		memset(&q->vq, 0, sizeof(q->vq));
	}
	vp->device_feature_select = vp->driver_feature_select = 0;
	vp->driver_features = 0;
	vp->config_msix_vector = VIRTIO_MSI_NO_VECTOR;
	vp->queue_select = 0;
	atomic_store(&vp->isr, 0);
	vp->status = 0;
	/* The queues are gone: only a new DRIVER_OK may make the device active again. */
	vp->active = false;
	vp->resetting = false;
	pthread_mutex_unlock(&vp->lock);
}

/*
 * Queue thread: this queue's part of a reset. Only the thread that runs a queue may
 * cancel its doorbell read (a cancel searches its own ring) or touch its requests, so
 * each queue resets on its own thread, and whichever finishes last resets the device.
 */
static void queue_reset_work(struct loop_work *work)
{
	struct virtio_pci_queue *q = container_of(work, struct virtio_pci_queue, reset_work);
	struct virtio_pci *vp = q->vp;

	if (q->notify_armed) {
		struct io_uring_sqe *sqe = loop_sqe(q->loop, NULL);
		io_uring_prep_cancel(sqe, &q->notify_op, 0);
	}
	if (vp->ops->reset(vp->impl, q->index))
		virtio_pci_reset_done(vp, q->index);
}

void virtio_pci_reset_done(struct virtio_pci *vp, unsigned q)
{
	(void)q;
	if (atomic_fetch_sub(&vp->resets_left, 1) == 1)
		virtio_pci_finish_reset(vp);
}

void virtio_pci_queue_again(struct virtio_pci *vp, unsigned q)
{
	/* Through the mailbox, as a trapped doorbell: the loop sees its other work first. */
	loop_post(vp->queue[q].loop, &vp->queue[q].kick);
}

void virtio_pci_notify_used(struct virtio_pci *vp, unsigned q, struct loop *via)
{
	struct virtio_pci_queue *queue = &vp->queue[q];

	/*
	 * A completion of the old session can be followed, in the same batch, by the
	 * reset that zeroed this queue: whatever it used is the old driver's business.
	 */
	if (!queue_live(vp, queue) || !virtq_should_interrupt(&queue->vq))
		return;
	atomic_fetch_or(&vp->isr, VIRTIO_PCI_ISR_QUEUE);
	/* MSI-X only: without it the ISR bit is all a polling driver gets. */
	if (queue->msix_vector != VIRTIO_MSI_NO_VECTOR && msix_enabled(&vp->msix))
		(void)msix_notify(&vp->msix, queue->msix_vector, via);
}

void virtio_pci_needs_reset(struct virtio_pci *vp, const struct virtq *vq)
{
	pthread_mutex_lock(&vp->lock);
	bool first = !(vp->status & VIRTIO_CONFIG_S_NEEDS_RESET);
	vp->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	uint16_t vector = vp->config_msix_vector;
	if (first)
		log_guest_warning(&vp->log_budget, "%s: %s; the device needs a reset", vp->info.name,
				  vq && vq->error[0] ? vq->error : "the driver broke the protocol");
	pthread_mutex_unlock(&vp->lock);
	if (!first)
		return;
	/* virtio 1.2 2.1.2: NEEDS_RESET comes with a configuration change notification. */
	atomic_fetch_or(&vp->isr, VIRTIO_PCI_ISR_CONFIG);
	if (vector != VIRTIO_MSI_NO_VECTOR && msix_enabled(&vp->msix))
		(void)msix_notify(&vp->msix, vector, NULL);
}

void virtio_pci_config_changed(struct virtio_pci *vp)
{
	pthread_mutex_lock(&vp->lock);
	vp->config_generation++;
	uint16_t vector = vp->config_msix_vector;
	bool live = vp->status & VIRTIO_CONFIG_S_DRIVER_OK;
	pthread_mutex_unlock(&vp->lock);
	if (!live)
		return;             /* a driver not yet running reads the new values anyway */
	atomic_fetch_or(&vp->isr, VIRTIO_PCI_ISR_CONFIG);
	if (vector != VIRTIO_MSI_NO_VECTOR && msix_enabled(&vp->msix))
		(void)msix_notify(&vp->msix, vector, NULL);
}

/* --- the vCPUs' side: the common configuration ----------------------------- */

/* With the lock held: DRIVER_OK. */
static void virtio_pci_activate(struct virtio_pci *vp)
{
	uint64_t f = vp->driver_features;

	for (unsigned i = 0; i < vp->info.num_queues; i++) {
		struct virtio_pci_queue *q = &vp->queue[i];
		if (!q->enable)
			continue;
		if (virtq_init(&q->vq, vp->mem, q->size, q->desc, q->driver, q->device,
			       f & VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX),
			       f & VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC))) {
			vp->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
			log_guest_warning(&vp->log_budget, "%s: queue %u: %s; the device needs a reset",
					  vp->info.name, i, q->vq.error);
			return;
		}
	}
	if (vp->ops->activate(vp->impl, f)) {
		vp->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
		return;
	}
	vp->active = true;
	for (unsigned i = 0; i < vp->info.num_queues; i++)
		if (vp->queue[i].enable)
			loop_post(vp->queue[i].loop, &vp->queue[i].activate_work);
}

static void write_status(struct virtio_pci *vp, uint8_t value)
{
	uint8_t old = vp->status;

	if (!value) {
		/*
		 * A pending reset absorbs further ones: a second reset_work would run
		 * after the first finished and the driver may have set up a new session.
		 */
		if (vp->resetting || (!old && !vp->active))
			return;
		vp->active = false;
		vp->resetting = true;
		atomic_store(&vp->resets_left, vp->info.num_queues);
		for (unsigned i = 0; i < vp->info.num_queues; i++)
			loop_post(vp->queue[i].loop, &vp->queue[i].reset_work);
		return;
	}
	/* Bits are only ever added, and never while a reset is under way. */
	if (vp->resetting || (value & old) != old)
		return;
	value &= ~VIRTIO_CONFIG_S_NEEDS_RESET;
	value |= old & VIRTIO_CONFIG_S_NEEDS_RESET;
	if ((value & VIRTIO_CONFIG_S_FEATURES_OK) && !(old & VIRTIO_CONFIG_S_FEATURES_OK)) {
		uint64_t f = vp->driver_features;
		if ((f & ~offered_features(vp)) || !(f & VIRTIO_BIT(VIRTIO_F_VERSION_1)))
			value &= ~VIRTIO_CONFIG_S_FEATURES_OK;  /* refused: the driver sees it clear */
	}
	vp->status = value;
	if ((value & VIRTIO_CONFIG_S_DRIVER_OK) && !(old & VIRTIO_CONFIG_S_DRIVER_OK) && !vp->active) {
		if (!(value & VIRTIO_CONFIG_S_FEATURES_OK) || (value & VIRTIO_CONFIG_S_NEEDS_RESET))
			vp->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
		else
			virtio_pci_activate(vp);
	}
}

static uint16_t checked_vector(const struct virtio_pci *vp, uint16_t v)
{
	return v < vp->msix.nr ? v : VIRTIO_MSI_NO_VECTOR;
}

/* A common-configuration field: its offset, width, and whether 8-byte fields split. */
static uint64_t common_read(struct virtio_pci *vp, uint32_t off, uint32_t len)
{
	struct virtio_pci_queue *q = vp->queue_select < vp->info.num_queues
				     ? &vp->queue[vp->queue_select] : NULL;
	uint64_t f = offered_features(vp);

	switch (off) {
	case CC(device_feature_select): return vp->device_feature_select;
	case CC(device_feature):
		return vp->device_feature_select < 2 ? (uint32_t)(f >> (32 * vp->device_feature_select)) : 0;
	case CC(guest_feature_select): return vp->driver_feature_select;
	case CC(guest_feature):
		return vp->driver_feature_select < 2 ?
		       (uint32_t)(vp->driver_features >> (32 * vp->driver_feature_select)) : 0;
	case CC(msix_config): return vp->config_msix_vector;
	case CC(num_queues): return vp->info.num_queues;
	case CC(device_status): return vp->status;
	case CC(config_generation): return vp->config_generation;
	case CC(queue_select): return vp->queue_select;
	case CC(queue_size): return q ? q->size : 0;
	case CC(queue_msix_vector): return q ? q->msix_vector : VIRTIO_MSI_NO_VECTOR;
	case CC(queue_enable): return q ? q->enable : 0;
	case CC(queue_notify_off): return q ? vp->queue_select : 0;
	case CC(queue_desc_lo): case CC(queue_desc_hi):
		return q ? q->desc >> (8 * (off - CC(queue_desc_lo))) : 0;
	case CC(queue_avail_lo): case CC(queue_avail_hi):
		return q ? q->driver >> (8 * (off - CC(queue_avail_lo))) : 0;
	case CC(queue_used_lo): case CC(queue_used_hi):
		return q ? q->device >> (8 * (off - CC(queue_used_lo))) : 0;
	}
	(void)len;
	return 0;
}

static void set_half(uint64_t *field, uint32_t off, uint32_t base, uint32_t len, uint64_t v)
{
	if (len == 8)
		*field = v;
	else if (off == base)
		*field = (*field & ~0xffffffffULL) | (uint32_t)v;
	else
		*field = (*field & 0xffffffffULL) | (uint64_t)(uint32_t)v << 32;
}

static void common_write(struct virtio_pci *vp, uint32_t off, uint32_t len, uint64_t v)
{
	struct virtio_pci_queue *q = vp->queue_select < vp->info.num_queues
				     ? &vp->queue[vp->queue_select] : NULL;
	/* Queue layout is the driver's to set up before DRIVER_OK, and fixed after. */
	bool queue_writable = q && !(vp->status & VIRTIO_CONFIG_S_DRIVER_OK) && !vp->resetting;

	switch (off) {
	case CC(device_feature_select): vp->device_feature_select = (uint32_t)v; break;
	case CC(guest_feature_select): vp->driver_feature_select = (uint32_t)v; break;
	case CC(guest_feature):
		if (vp->driver_feature_select < 2 && !(vp->status & VIRTIO_CONFIG_S_FEATURES_OK)) {
			unsigned shift = 32 * vp->driver_feature_select;
			vp->driver_features = (vp->driver_features & ~(0xffffffffULL << shift)) |
					      ((uint64_t)(uint32_t)v << shift);
		}
		break;
	case CC(msix_config): vp->config_msix_vector = checked_vector(vp, (uint16_t)v); break;
	case CC(device_status): write_status(vp, (uint8_t)v); break;
	case CC(queue_select): vp->queue_select = (uint16_t)v; break;
	case CC(queue_size): if (queue_writable) q->size = (uint16_t)v; break;
	case CC(queue_msix_vector): if (q) q->msix_vector = checked_vector(vp, (uint16_t)v); break;
	case CC(queue_enable): if (queue_writable) q->enable = v == 1; break;
	case CC(queue_desc_lo): case CC(queue_desc_hi):
		if (queue_writable) set_half(&q->desc, off, CC(queue_desc_lo), len, v);
		break;
	case CC(queue_avail_lo): case CC(queue_avail_hi):
		if (queue_writable) set_half(&q->driver, off, CC(queue_avail_lo), len, v);
		break;
	case CC(queue_used_lo): case CC(queue_used_hi):
		if (queue_writable) set_half(&q->device, off, CC(queue_used_lo), len, v);
		break;
	default: break;   /* read-only or unknown: ignored */
	}
}

/* The width each common-configuration offset must be accessed with (0: none). */
static uint32_t common_width(uint32_t off)
{
	if (off < CC(msix_config))
		return off % 4 ? 0 : 4;
	if (off == CC(device_status) || off == CC(config_generation))
		return 1;
	if (off < CC(queue_desc_lo))
		return off % 2 ? 0 : 2;
	if (off < CC_END)
		return off % 4 ? 0 : 4;
	/* Past what these headers know: virtio 1.2's queue_notify_data and queue_reset (4.1.4.3). */
	return off < COMMON_SIZE && !(off % 2) ? 2 : 0;
}

static void common_access(struct virtio_pci *vp, uint32_t off, uint8_t *data, uint32_t len,
			  bool is_write)
{
	uint32_t width = common_width(off);
	bool wide = width == 4 && off >= CC(queue_desc_lo) && off < CC_END && len == 8 && !(off % 8);
	uint64_t v = 0;

	if (!width || (len != width && !wide)) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	pthread_mutex_lock(&vp->lock);
	if (is_write) {
		memcpy(&v, data, len);
		common_write(vp, off, len, v);
	} else {
		v = common_read(vp, off, len);
		if (wide)
			v |= common_read(vp, off + 4, 4) << 32;
		memcpy(data, &v, len);
	}
	pthread_mutex_unlock(&vp->lock);
}

static void notify_access(struct virtio_pci *vp, uint32_t off, uint32_t len, bool is_write)
{
	unsigned q = off / NOTIFY_MULTIPLIER;

	/* Doorbells KVM did not take (another width, or no ioeventfd): the slow way. */
	(void)len;
	if (is_write && q < vp->info.num_queues)
		loop_post(vp->queue[q].loop, &vp->queue[q].kick);
}

static void virtio_pci_bar_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
				  bool is_write)
{
	struct virtio_pci *vp = opaque;
	uint32_t off = (uint32_t)offset;

	if (off < COMMON_OFFSET + COMMON_SIZE) {
		common_access(vp, off - COMMON_OFFSET, data, len, is_write);
	} else if (off >= ISR_OFFSET && off < ISR_OFFSET + ISR_SIZE) {
		if (!is_write) {
			memset(data, 0, len);
			data[0] = off == ISR_OFFSET ? atomic_exchange(&vp->isr, 0) : 0;  /* read clears */
		}
	} else if (off >= DEVICE_OFFSET && off < DEVICE_OFFSET + DEVICE_MAX) {
		uint32_t o = off - DEVICE_OFFSET;
		if (o + len > vp->info.config_size || len > 8) {
			if (!is_write)
				memset(data, 0, len);
		} else if (is_write) {
			vp->ops->config_write(vp->impl, o, data, len);
		} else {
			vp->ops->config_read(vp->impl, o, data, len);
		}
	} else if (off >= NOTIFY_OFFSET && off < NOTIFY_OFFSET + NOTIFY_MULTIPLIER * vp->info.num_queues) {
		notify_access(vp, off - NOTIFY_OFFSET, len, is_write);
		if (!is_write)
			memset(data, 0, len);
	} else if (off >= MSIX_TABLE_OFFSET && off < MSIX_PBA_OFFSET) {
		msix_table_access(&vp->msix, off - MSIX_TABLE_OFFSET, data, len, is_write);
	} else if (off >= MSIX_PBA_OFFSET && off < MSIX_PBA_OFFSET + 8) {
		msix_pba_access(&vp->msix, off - MSIX_PBA_OFFSET, data, len, is_write);
	} else if (!is_write) {
		memset(data, 0, len);
	}
}

/* --- PCI hooks -------------------------------------------------------------- */

static uint8_t pci_cfg_cap_offset(const struct virtio_pci *vp)
{
	/* The last vendor capability added is the PCI_CFG one (see virtio_pci_init). */
	uint8_t at = vp->pci.config[PCI_CAPABILITY_LIST];
	uint8_t found = 0;
	while (at) {
		if (vp->pci.config[at + CAP(cap_vndr)] == PCI_CAP_ID_VNDR &&
		    vp->pci.config[at + CAP(cfg_type)] == VIRTIO_PCI_CAP_PCI_CFG)
			found = at;
		at = vp->pci.config[at + CAP(cap_next)];
	}
	return found;
}

/* The PCI_CFG capability: a window onto BAR 0 through configuration cycles. */
static bool pci_cfg_window(struct virtio_pci *vp, uint32_t offset, uint32_t len, uint32_t *bar_off,
			   uint32_t *bar_len)
{
	uint8_t cap = pci_cfg_cap_offset(vp);

	if (!cap || offset + len <= cap + CFG_CAP_DATA ||
	    offset >= cap + sizeof(struct virtio_pci_cfg_cap))
		return false;
	*bar_off = pci_get32(&vp->pci, cap + CAP(offset));
	*bar_len = pci_get32(&vp->pci, cap + CAP(length));
	return vp->pci.config[cap + CAP(bar)] == 0 && (*bar_len == 1 || *bar_len == 2 || *bar_len == 4) &&
	       *bar_off < BAR_SIZE && *bar_off % *bar_len == 0;
}

static void virtio_pci_config_read(struct pci_device *dev, uint32_t offset, uint32_t len)
{
	struct virtio_pci *vp = container_of(dev, struct virtio_pci, pci);
	uint32_t bar_off, bar_len;

	if (pci_cfg_window(vp, offset, len, &bar_off, &bar_len))
		virtio_pci_bar_access(vp, bar_off, &dev->config[pci_cfg_cap_offset(vp) + CFG_CAP_DATA],
				      bar_len, false);
}

static void virtio_pci_config_written(struct pci_device *dev, uint32_t offset, uint32_t len)
{
	struct virtio_pci *vp = container_of(dev, struct virtio_pci, pci);
	uint32_t bar_off, bar_len;

	msix_config_written(&vp->msix, offset, len);
	if (pci_cfg_window(vp, offset, len, &bar_off, &bar_len))
		virtio_pci_bar_access(vp, bar_off, &dev->config[pci_cfg_cap_offset(vp) + CFG_CAP_DATA],
				      bar_len, true);
}

static void virtio_pci_bar_moved(struct pci_device *dev, unsigned bar, uint64_t addr, bool mapped)
{
	struct virtio_pci *vp = container_of(dev, struct virtio_pci, pci);

	if (bar != 0)
		return;
	/* The doorbells follow the BAR; until they are back, writes trap and still work. */
	for (unsigned i = 0; i < vp->info.num_queues; i++) {
		struct virtio_pci_queue *q = &vp->queue[i];
		ioeventfd_deassign(&q->ioev);
		if (mapped && ioeventfd_assign(&q->ioev, vp->vm_fd, q->notify_fd,
					       addr + NOTIFY_OFFSET + NOTIFY_MULTIPLIER * i, 2, false))
			q->ioev.assigned = false;
	}
	vp->bar_addr = addr;
	vp->bar_mapped = mapped;
}

static const struct pci_device_ops virtio_pci_device_ops = {
	.config_read = virtio_pci_config_read,
	.config_written = virtio_pci_config_written,
	.bar_moved = virtio_pci_bar_moved,
};

/* A vendor capability for a structure in BAR 0; the notify and PCI_CFG ones are longer. */
static uint8_t add_vendor_cap(struct virtio_pci *vp, uint8_t type, uint32_t offset,
			      uint32_t length)
{
	struct virtio_pci_notify_cap c = {
		.cap = { .cap_len = sizeof(c.cap), .cfg_type = type, .bar = 0,
			 .offset = offset, .length = length },
	};

	if (type == VIRTIO_PCI_CAP_NOTIFY_CFG) {
		c.cap.cap_len = sizeof(c);
		c.notify_off_multiplier = NOTIFY_MULTIPLIER;
	} else if (type == VIRTIO_PCI_CAP_PCI_CFG) {
		c.cap.cap_len = sizeof(struct virtio_pci_cfg_cap);
	}
	return pci_device_add_cap(&vp->pci, PCI_CAP_ID_VNDR, &c, c.cap.cap_len);
}

int virtio_pci_init(struct virtio_pci *vp, const struct virtio_device_info *info,
		    const struct virtio_device_ops *ops, void *impl, struct guest_memory *mem,
		    struct irq_chip *chip, struct loop *const *loops, unsigned nr_loops, int vm_fd)
{
	if (!info->num_queues || info->num_queues > VIRTIO_MAX_QUEUES || info->config_size > DEVICE_MAX ||
	    !nr_loops)
		return -EINVAL;
	memset(vp, 0, sizeof(*vp));
	vp->info = *info;
	vp->ops = ops;
	vp->impl = impl;
	vp->mem = mem;
	vp->vm_fd = vm_fd;
	vp->log_budget = LOG_BUDGET;
	pthread_mutex_init(&vp->lock, NULL);
	for (unsigned i = 0; i < info->num_queues; i++) {
		struct virtio_pci_queue *q = &vp->queue[i];
		q->index = i;
		q->vp = vp;
		q->notify_op.complete = queue_notified;
		q->kick.run = queue_kicked;
		q->activate_work.run = queue_activated;
		q->reset_work.run = queue_reset_work;
		q->loop = loops[i % nr_loops];
		q->notify_fd = eventfd(0, EFD_CLOEXEC);
		if (q->notify_fd < 0)
			return -errno;
	}
	virtio_pci_finish_reset(vp);

	pci_device_init(&vp->pci, info->name, VIRTIO_PCI_VENDOR, VIRTIO_PCI_MODERN_DEVICE(info->type),
			info->pci_class, 1, VIRTIO_PCI_VENDOR, VIRTIO_PCI_SUBSYS);
	vp->pci.ops = &virtio_pci_device_ops;
	vp->pci.opaque = vp;
	pci_device_add_bar(&vp->pci, 0, BAR_SIZE, false, false, virtio_pci_bar_access, vp);
	if (!add_vendor_cap(vp, VIRTIO_PCI_CAP_COMMON_CFG, COMMON_OFFSET, COMMON_SIZE) ||
	    !add_vendor_cap(vp, VIRTIO_PCI_CAP_NOTIFY_CFG, NOTIFY_OFFSET,
			    NOTIFY_MULTIPLIER * info->num_queues) ||
	    !add_vendor_cap(vp, VIRTIO_PCI_CAP_ISR_CFG, ISR_OFFSET, ISR_SIZE) ||
	    (info->config_size &&
	     !add_vendor_cap(vp, VIRTIO_PCI_CAP_DEVICE_CFG, DEVICE_OFFSET, info->config_size)))
		return -ENOSPC;
	uint8_t cfg = add_vendor_cap(vp, VIRTIO_PCI_CAP_PCI_CFG, 0, 0);
	if (!cfg)
		return -ENOSPC;
	/* The driver picks the window: bar, offset, length and the data behind them. */
	vp->pci.wmask[cfg + CAP(bar)] = 0xff;
	memset(&vp->pci.wmask[cfg + CAP(offset)], 0xff,
	       sizeof(struct virtio_pci_cfg_cap) - CAP(offset));
	return msix_init(&vp->msix, &vp->pci, chip, info->num_queues + 1, 0, MSIX_TABLE_OFFSET,
			 MSIX_PBA_OFFSET);
}

void virtio_pci_destroy(struct virtio_pci *vp)
{
	for (unsigned i = 0; i < vp->info.num_queues; i++) {
		ioeventfd_deassign(&vp->queue[i].ioev);
		if (vp->queue[i].notify_fd > 0)
			close(vp->queue[i].notify_fd);
	}
	msix_destroy(&vp->msix);
	pthread_mutex_destroy(&vp->lock);
}
