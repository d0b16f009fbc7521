#include "devices/virtio_pci.h"

#include <errno.h>
#include <linux/virtio_pci.h>
#include <assert.h>
#include <stddef.h>
#include <string.h>

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

/* Offsets from the kernel's structs: the device and any driver read the same definition. */
#define CC(field)          offsetof(struct virtio_pci_common_cfg, field)
#define CC_END             sizeof(struct virtio_pci_common_cfg)
/* In a vendor capability: virtio_pci_cap, and the notify and PCI_CFG ones that extend it. */
#define CAP(field)         offsetof(struct virtio_pci_cap, field)
#define CFG_CAP_DATA       offsetof(struct virtio_pci_cfg_cap, pci_cfg_data)

static_assert(VIRTIO_ISR_QUEUE == VIRTIO_PCI_ISR_QUEUE && VIRTIO_ISR_CONFIG == VIRTIO_PCI_ISR_CONFIG,
	      "the device's interrupt status is the ISR");

/* --- interrupts: MSI-X vectors ----------------------------------------------- */

static void pci_notify_queue(void *t, unsigned q, struct loop *via)
{
	struct virtio_pci *vp = t;
	uint16_t vector = atomic_load(&vp->queue_vector[q]);

	/* MSI-X only: without it the ISR bit is all a polling driver gets. */
	if (vector != VIRTIO_MSI_NO_VECTOR && msix_enabled(&vp->msix))
		(void)msix_notify(&vp->msix, vector, via);
}

static void pci_notify_config(void *t)
{
	struct virtio_pci *vp = t;
	uint16_t vector = atomic_load(&vp->config_vector);

	if (vector != VIRTIO_MSI_NO_VECTOR && msix_enabled(&vp->msix))
		(void)msix_notify(&vp->msix, vector, NULL);
}

static void pci_reset(void *t)
{
	struct virtio_pci *vp = t;

	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		atomic_store(&vp->queue_vector[i], VIRTIO_MSI_NO_VECTOR);
	atomic_store(&vp->config_vector, VIRTIO_MSI_NO_VECTOR);
}

static const struct virtio_transport_ops pci_transport_ops = {
	.notify_queue = pci_notify_queue,
	.notify_config = pci_notify_config,
	.reset = pci_reset,
};

/* --- the vCPUs' side: the common configuration ----------------------------- */

static uint16_t checked_vector(const struct virtio_pci *vp, uint16_t v)
{
	return v < vp->msix.nr ? v : VIRTIO_MSI_NO_VECTOR;
}

/* A common-configuration field: its offset, width, and whether 8-byte fields split. */
static uint64_t common_read(struct virtio_pci *vp, uint32_t off, uint32_t len)
{
	struct virtio_dev *dev = vp->dev;
	struct virtio_queue *q = virtio_dev_selected(dev);

	switch (off) {
	case CC(device_feature_select): return dev->device_feature_select;
	case CC(device_feature): return virtio_dev_device_features(dev, dev->device_feature_select);
	case CC(guest_feature_select): return dev->driver_feature_select;
	case CC(guest_feature): return virtio_dev_driver_features(dev, dev->driver_feature_select);
	case CC(msix_config): return vp->config_vector;
	case CC(num_queues): return dev->info.num_queues;
	case CC(device_status): return dev->status;
	case CC(config_generation): return (uint8_t)dev->config_generation;
	case CC(queue_select): return dev->queue_select;
	case CC(queue_size): return q ? q->size : 0;
	case CC(queue_msix_vector): return q ? vp->queue_vector[q->index] : VIRTIO_MSI_NO_VECTOR;
	case CC(queue_enable): return q ? q->enable : 0;
	case CC(queue_notify_off): return q ? dev->queue_select : 0;
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
	struct virtio_dev *dev = vp->dev;
	struct virtio_queue *q = virtio_dev_selected(dev);
	bool queue_writable = q && virtio_dev_queue_writable(dev);

	switch (off) {
	case CC(device_feature_select): dev->device_feature_select = (uint32_t)v; break;
	case CC(guest_feature_select): dev->driver_feature_select = (uint32_t)v; break;
	case CC(guest_feature):
		virtio_dev_set_driver_features(dev, dev->driver_feature_select, (uint32_t)v);
		break;
	case CC(msix_config): vp->config_vector = checked_vector(vp, (uint16_t)v); break;
	case CC(device_status): virtio_dev_write_status(dev, (uint8_t)v); break;
	case CC(queue_select): dev->queue_select = (uint16_t)v; break;
	case CC(queue_size): if (queue_writable) q->size = (uint16_t)v; break;
	case CC(queue_msix_vector):
		if (q)
			vp->queue_vector[q->index] = checked_vector(vp, (uint16_t)v);
		break;
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
	pthread_mutex_lock(&vp->dev->lock);
	if (is_write) {
		memcpy(&v, data, len);
		common_write(vp, off, len, v);
	} else {
		v = common_read(vp, off, len);
		if (wide)
			v |= common_read(vp, off + 4, 4) << 32;
		memcpy(data, &v, len);
	}
	pthread_mutex_unlock(&vp->dev->lock);
}

static void notify_access(struct virtio_pci *vp, uint32_t off, uint32_t len, bool is_write)
{
	unsigned q = off / NOTIFY_MULTIPLIER;

	/* Doorbells KVM did not take (another width, or no ioeventfd): the slow way. */
	(void)len;
	if (is_write)
		virtio_dev_kick(vp->dev, q);
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
			data[0] = off == ISR_OFFSET ? atomic_exchange(&vp->dev->isr, 0) : 0;  /* read clears */
		}
	} else if (off >= DEVICE_OFFSET && off < DEVICE_OFFSET + DEVICE_MAX) {
		virtio_dev_config_access(vp->dev, off - DEVICE_OFFSET, data, len, is_write);
	} else if (off >= NOTIFY_OFFSET && off < NOTIFY_OFFSET + NOTIFY_MULTIPLIER * vp->dev->info.num_queues) {
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
	virtio_dev_doorbells_off(vp->dev);
	for (unsigned i = 0; mapped && i < vp->dev->info.num_queues; i++)
		(void)virtio_dev_doorbell(vp->dev, i, addr + NOTIFY_OFFSET + NOTIFY_MULTIPLIER * i, 2,
					  false, 0);
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

int virtio_pci_init(struct virtio_pci *vp, struct virtio_dev *dev, struct irq_chip *chip)
{
	const struct virtio_device_info *info = &dev->info;

	if (info->config_size > DEVICE_MAX)
		return -EINVAL;
	memset(vp, 0, sizeof(*vp));
	vp->dev = dev;
	pthread_mutex_lock(&dev->lock);
	pci_reset(vp);
	virtio_dev_attach(dev, &pci_transport_ops, vp);
	pthread_mutex_unlock(&dev->lock);
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
	if (!vp->dev)
		return;
	pthread_mutex_lock(&vp->dev->lock);
	virtio_dev_attach(vp->dev, NULL, NULL);
	pthread_mutex_unlock(&vp->dev->lock);
	virtio_dev_doorbells_off(vp->dev);
	msix_destroy(&vp->msix);
}
