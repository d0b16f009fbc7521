#include "devices/virtio_dev.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "services/log.h"
#include "services/util.h"

#define LOG_BUDGET         16

uint64_t virtio_dev_offered(const struct virtio_dev *dev)
{
	return dev->info.features | VIRTIO_BIT(VIRTIO_F_VERSION_1) |
	       VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC) | VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX);
}

/* --- the I/O thread's side ------------------------------------------------ */

static void queue_arm_notify(struct virtio_queue *q)
{
	if (q->notify_armed)
		return;
	struct io_uring_sqe *sqe = loop_sqe(q->loop, &q->notify_op);
	io_uring_prep_read(sqe, q->notify_fd, &q->notify_count, sizeof(q->notify_count), 0);
	q->notify_armed = true;
}

static bool queue_live(const struct virtio_dev *dev, const struct virtio_queue *q)
{
	return dev->active && q->enable && !q->vq.broken;
}

static void queue_notified(struct loop_op *op, int res, unsigned flags)
{
	struct virtio_queue *q = container_of(op, struct virtio_queue, notify_op);
	struct virtio_dev *dev = q->dev;

	(void)flags;
	q->notify_armed = false;
	/* A cancelled read may outlive the session it belonged to; a new one re-arms. */
	if (!dev->active || loop_closing(q->loop) || (res < 0 && res != -ECANCELED && res != -EINTR))
		return;
	if (res > 0)
		VIRTIO_COUNT(dev->counters.doorbells, q->notify_count);
	if (res > 0 && queue_live(dev, q))
		dev->ops->queue_notify(dev->impl, q->index, &q->vq);
	queue_arm_notify(q);
}

static void queue_kicked(struct loop_work *work)
{
	struct virtio_queue *q = container_of(work, struct virtio_queue, kick);

	if (queue_live(q->dev, q))
		q->dev->ops->queue_notify(q->dev->impl, q->index, &q->vq);
}

/* Queue thread: DRIVER_OK reached this queue. */
static void queue_activated(struct loop_work *work)
{
	struct virtio_queue *q = container_of(work, struct virtio_queue, activate_work);
	struct virtio_dev *dev = q->dev;

	if (!dev->active || !q->enable)
		return;
	queue_arm_notify(q);
	/* Whatever the driver queued before DRIVER_OK, or before its first doorbell. */
	if (queue_live(dev, q))
		dev->ops->queue_notify(dev->impl, q->index, &q->vq);
}

/* The last queue's thread (or init): the old session is gone from every queue; as new. */
static void finish_reset(struct virtio_dev *dev)
{
	pthread_mutex_lock(&dev->lock);
	for (unsigned i = 0; i < dev->info.num_queues; i++) {
		struct virtio_queue *q = &dev->queue[i];
		q->size = VIRTQ_MAX_SIZE;
		q->enable = 0;
		q->desc = q->driver = q->device = 0;
		memset(&q->vq, 0, sizeof(q->vq));
	}
	dev->device_feature_select = dev->driver_feature_select = 0;
	dev->driver_features = 0;
	dev->queue_select = 0;
	atomic_store(&dev->isr, 0);
	if (dev->tops)
		dev->tops->reset(dev->transport);
	dev->status = 0;
	/* The queues are gone: only a new DRIVER_OK may make the device active again. */
	dev->active = false;
	dev->resetting = false;
	pthread_mutex_unlock(&dev->lock);
}

/*
 * Queue thread: this queue's part of a reset. Only the thread that runs a queue may
 * cancel its doorbell read (a cancel searches its own ring) or touch its requests, so
 * each queue resets on its own thread, and whichever finishes last resets the device.
 */
static void queue_reset_work(struct loop_work *work)
{
	struct virtio_queue *q = container_of(work, struct virtio_queue, reset_work);
	struct virtio_dev *dev = q->dev;

	if (q->notify_armed) {
		struct io_uring_sqe *sqe = loop_sqe(q->loop, NULL);
		io_uring_prep_cancel(sqe, &q->notify_op, 0);
	}
	if (dev->ops->reset(dev->impl, q->index))
		virtio_reset_done(dev, q->index);
}

void virtio_reset_done(struct virtio_dev *dev, unsigned q)
{
	(void)q;
	if (atomic_fetch_sub(&dev->resets_left, 1) == 1)
		finish_reset(dev);
}

void virtio_queue_again(struct virtio_dev *dev, unsigned q)
{
	/* Through the mailbox, as a trapped doorbell: the loop sees its other work first. */
	loop_post(dev->queue[q].loop, &dev->queue[q].kick);
}

void virtio_notify_used(struct virtio_dev *dev, unsigned q, struct loop *via)
{
	struct virtio_queue *queue = &dev->queue[q];

	/*
	 * A completion of the old session can be followed, in the same batch, by the
	 * reset that zeroed this queue: whatever it used is the old driver's business.
	 */
	if (!queue_live(dev, queue) || !virtq_should_interrupt(&queue->vq))
		return;
	atomic_fetch_or(&dev->isr, VIRTIO_ISR_QUEUE);
	VIRTIO_COUNT(dev->counters.interrupts_queue, 1);
	if (dev->tops)
		dev->tops->notify_queue(dev->transport, q, via);
}

static void notify_config(struct virtio_dev *dev)
{
	atomic_fetch_or(&dev->isr, VIRTIO_ISR_CONFIG);
	VIRTIO_COUNT(dev->counters.interrupts_config, 1);
	if (dev->tops)
		dev->tops->notify_config(dev->transport);
}

void virtio_needs_reset(struct virtio_dev *dev, const struct virtq *vq)
{
	pthread_mutex_lock(&dev->lock);
	bool first = !(dev->status & VIRTIO_CONFIG_S_NEEDS_RESET);
	dev->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	if (first) {
		VIRTIO_COUNT(dev->counters.broken_queues, 1);
		log_guest_warning(&dev->log_budget, "%s: %s; the device needs a reset", dev->info.name,
				  vq && vq->error[0] ? vq->error : "the driver broke the protocol");
	}
	pthread_mutex_unlock(&dev->lock);
	/* virtio 1.2 2.1.2: NEEDS_RESET comes with a configuration change notification. */
	if (first)
		notify_config(dev);
}

void virtio_config_changed(struct virtio_dev *dev)
{
	/* A driver reading the configuration across the change sees a new generation (2.5.1). */
	atomic_fetch_add(&dev->config_generation, 1);
	pthread_mutex_lock(&dev->lock);
	bool running = dev->status & VIRTIO_CONFIG_S_DRIVER_OK;
	pthread_mutex_unlock(&dev->lock);
	/* Before DRIVER_OK the driver reads the configuration anyway. */
	if (running)
		notify_config(dev);
}

/* --- the vCPUs' side: status and features ----------------------------------- */

struct virtio_queue *virtio_dev_selected(struct virtio_dev *dev)
{
	return dev->queue_select < dev->info.num_queues ? &dev->queue[dev->queue_select] : NULL;
}

uint32_t virtio_dev_device_features(const struct virtio_dev *dev, uint32_t sel)
{
	return sel < 2 ? (uint32_t)(virtio_dev_offered(dev) >> (32 * sel)) : 0;
}

uint32_t virtio_dev_driver_features(const struct virtio_dev *dev, uint32_t sel)
{
	return sel < 2 ? (uint32_t)(dev->driver_features >> (32 * sel)) : 0;
}

void virtio_dev_set_driver_features(struct virtio_dev *dev, uint32_t sel, uint32_t v)
{
	if (sel >= 2 || (dev->status & VIRTIO_CONFIG_S_FEATURES_OK))
		return;
	unsigned shift = 32 * sel;
	dev->driver_features = (dev->driver_features & ~(0xffffffffULL << shift)) | ((uint64_t)v << shift);
}

bool virtio_dev_queue_writable(const struct virtio_dev *dev)
{
	/* Queue layout is the driver's to set up before DRIVER_OK, and fixed after. */
	return !(dev->status & VIRTIO_CONFIG_S_DRIVER_OK) && !dev->resetting;
}

/* With the lock held: DRIVER_OK. */
static void activate(struct virtio_dev *dev)
{
	uint64_t f = dev->driver_features;

	for (unsigned i = 0; i < dev->info.num_queues; i++) {
		struct virtio_queue *q = &dev->queue[i];
		if (!q->enable)
			continue;
		if (virtq_init(&q->vq, dev->mem, q->size, q->desc, q->driver, q->device,
			       f & VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX),
			       f & VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC))) {
			dev->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
			VIRTIO_COUNT(dev->counters.broken_queues, 1);
			log_guest_warning(&dev->log_budget, "%s: queue %u: %s; the device needs a reset",
					  dev->info.name, i, q->vq.error);
			return;
		}
	}
	if (dev->ops->activate(dev->impl, f)) {
		dev->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
		return;
	}
	dev->active = true;
	for (unsigned i = 0; i < dev->info.num_queues; i++)
		if (dev->queue[i].enable)
			loop_post(dev->queue[i].loop, &dev->queue[i].activate_work);
}

void virtio_dev_write_status(struct virtio_dev *dev, uint8_t value)
{
	uint8_t old = dev->status;

	if (!value) {
		/*
		 * A pending reset absorbs further ones: a second reset_work would run
		 * after the first finished and the driver may have set up a new session.
		 */
		if (dev->resetting || (!old && !dev->active))
			return;
		dev->active = false;
		dev->resetting = true;
		VIRTIO_COUNT(dev->counters.resets, 1);
		atomic_store(&dev->resets_left, dev->info.num_queues);
		for (unsigned i = 0; i < dev->info.num_queues; i++)
			loop_post(dev->queue[i].loop, &dev->queue[i].reset_work);
		return;
	}
	/* Bits are only ever added, and never while a reset is under way. */
	if (dev->resetting || (value & old) != old)
		return;
	value &= ~VIRTIO_CONFIG_S_NEEDS_RESET;
	value |= old & VIRTIO_CONFIG_S_NEEDS_RESET;
	if ((value & VIRTIO_CONFIG_S_FEATURES_OK) && !(old & VIRTIO_CONFIG_S_FEATURES_OK)) {
		uint64_t f = dev->driver_features;
		if ((f & ~virtio_dev_offered(dev)) || !(f & VIRTIO_BIT(VIRTIO_F_VERSION_1)))
			value &= ~VIRTIO_CONFIG_S_FEATURES_OK;  /* refused: the driver sees it clear */
	}
	dev->status = value;
	if ((value & VIRTIO_CONFIG_S_DRIVER_OK) && !(old & VIRTIO_CONFIG_S_DRIVER_OK) && !dev->active) {
		if (!(value & VIRTIO_CONFIG_S_FEATURES_OK) || (value & VIRTIO_CONFIG_S_NEEDS_RESET))
			dev->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
		else
			activate(dev);
	}
}

void virtio_dev_kick(struct virtio_dev *dev, unsigned q)
{
	if (q < dev->info.num_queues) {
		VIRTIO_COUNT(dev->counters.doorbells, 1);
		loop_post(dev->queue[q].loop, &dev->queue[q].kick);
	}
}

int virtio_dev_doorbell(struct virtio_dev *dev, unsigned q, uint64_t addr, uint32_t len,
			bool match, uint64_t data)
{
	struct virtio_queue *queue = &dev->queue[q];

	ioeventfd_deassign(&queue->ioev);
	/* Without KVM's doorbell, writes trap and still work. */
	int r = ioeventfd_assign_match(&queue->ioev, dev->vm_fd, queue->notify_fd, addr, len, false,
				       match, data);
	if (r)
		queue->ioev.assigned = false;
	return r;
}

void virtio_dev_doorbells_off(struct virtio_dev *dev)
{
	for (unsigned i = 0; i < dev->info.num_queues; i++)
		ioeventfd_deassign(&dev->queue[i].ioev);
}

void virtio_dev_config_access(struct virtio_dev *dev, uint32_t offset, uint8_t *data, uint32_t len,
			      bool is_write)
{
	if (offset + (uint64_t)len > dev->info.config_size || len > 8) {
		if (!is_write)
			memset(data, 0, len);
	} else if (is_write) {
		dev->ops->config_write(dev->impl, offset, data, len);
	} else {
		dev->ops->config_read(dev->impl, offset, data, len);
	}
}

void virtio_counters_snapshot(void *out, const void *counters, size_t size)
{
	const uint64_t *in = counters;
	uint64_t *to = out;

	for (size_t i = 0; i < size / sizeof(uint64_t); i++)
		to[i] = __atomic_load_n(&in[i], __ATOMIC_RELAXED);
}

void virtio_dev_counters(const struct virtio_dev *dev, struct virtio_dev_counters *out)
{
	virtio_counters_snapshot(out, &dev->counters, sizeof(*out));
}

void virtio_dev_attach(struct virtio_dev *dev, const struct virtio_transport_ops *ops, void *t)
{
	dev->tops = ops;
	dev->transport = t;
}

int virtio_dev_init(struct virtio_dev *dev, const struct virtio_device_info *info,
		    const struct virtio_device_ops *ops, void *impl, struct guest_memory *mem,
		    struct loop *const *loops, unsigned nr_loops, int vm_fd)
{
	if (!info->num_queues || info->num_queues > VIRTIO_MAX_QUEUES ||
	    info->config_size > VIRTIO_CONFIG_MAX || !nr_loops)
		return -EINVAL;
	memset(dev, 0, sizeof(*dev));
	dev->info = *info;
	dev->ops = ops;
	dev->impl = impl;
	dev->mem = mem;
	dev->vm_fd = vm_fd;
	dev->log_budget = LOG_BUDGET;
	pthread_mutex_init(&dev->lock, NULL);
	for (unsigned i = 0; i < info->num_queues; i++) {
		struct virtio_queue *q = &dev->queue[i];
		q->index = i;
		q->dev = dev;
		q->notify_op.complete = queue_notified;
		q->kick.run = queue_kicked;
		q->activate_work.run = queue_activated;
		q->reset_work.run = queue_reset_work;
		q->loop = loops[i % nr_loops];
		q->notify_fd = eventfd(0, EFD_CLOEXEC);
		if (q->notify_fd < 0)
			return -errno;
	}
	finish_reset(dev);
	return 0;
}

void virtio_dev_destroy(struct virtio_dev *dev)
{
	for (unsigned i = 0; i < dev->info.num_queues; i++) {
		ioeventfd_deassign(&dev->queue[i].ioev);
		if (dev->queue[i].notify_fd > 0)
			close(dev->queue[i].notify_fd);
	}
	pthread_mutex_destroy(&dev->lock);
}
