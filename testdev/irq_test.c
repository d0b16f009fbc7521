#include "testdev/irq_test.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "irq/ioeventfd.h"
#include "services/bus.h"
#include "services/util.h"

/* One CONFIG's resources. Built on a vCPU thread, then owned by the channel's loop. */
struct irq_test_binding {
	struct irq_test_channel *channel;
	unsigned path;
	bool level;
	struct irq_source src;
	int doorbell_fd;            /* what the doorbell signals; -1 on the local path */
	bool doorbell_owned;
	struct ioeventfd ioev;
	struct loop_op read_op, write_op;
	uint64_t rings;
	unsigned in_flight;         /* our operations on the loop */
	bool retired;
	struct loop_work arm_work, retire_work;
	struct irq_test_binding *next;
};

static const uint64_t irqfd_one = 1;

static void binding_free(struct irq_test_binding *b)
{
	struct irq_test *dev = b->channel->dev;

	irq_source_destroy(&b->src);
	if (b->doorbell_owned)
		close(b->doorbell_fd);
	pthread_mutex_lock(&dev->lock);
	for (struct irq_test_binding **p = &dev->bindings; *p; p = &(*p)->next) {
		if (*p == b) {
			*p = b->next;
			break;
		}
	}
	pthread_mutex_unlock(&dev->lock);
	free(b);
}

/* Loop thread: free a retired binding once nothing of it is in flight. */
static void binding_maybe_free(struct irq_test_binding *b)
{
	if (b->retired && !b->in_flight && !irq_source_busy(&b->src))
		binding_free(b);
}

static void binding_arm(struct irq_test_binding *b)
{
	struct loop *loop = b->channel->loop;

	if (b->retired)
		return;
	if (b->path == IRQ_TEST_PATH_LINKED) {
		/* The kernel completes the read when the doorbell rings, then runs the write. */
		struct io_uring_sqe *sqe = loop_sqe(loop, &b->read_op);
		io_uring_prep_read(sqe, b->doorbell_fd, &b->rings, sizeof(b->rings), 0);
		sqe->flags |= IOSQE_IO_LINK;
		sqe = loop_sqe(loop, &b->write_op);
		io_uring_prep_write(sqe, irq_source_eventfd(&b->src), &irqfd_one, sizeof(irqfd_one), 0);
		b->in_flight += 2;
	} else if (b->path == IRQ_TEST_PATH_IRQFD || b->path == IRQ_TEST_PATH_MSI ||
		   b->path == IRQ_TEST_PATH_LINE) {
		struct io_uring_sqe *sqe = loop_sqe(loop, &b->read_op);
		io_uring_prep_read(sqe, b->doorbell_fd, &b->rings, sizeof(b->rings), 0);
		b->in_flight++;
	}
}

static void binding_raise(struct irq_test_binding *b, struct loop *via)
{
	if (b->level)
		(void)irq_set_level(&b->src, true);
	else
		(void)irq_trigger(&b->src, via);
	atomic_fetch_add(&b->channel->raised, 1);
}

static void binding_read_done(struct loop_op *op, int res, unsigned flags)
{
	struct irq_test_binding *b = container_of(op, struct irq_test_binding, read_op);

	(void)flags;
	b->in_flight--;
	/* Linked: the write's completion counts the raise and re-arms the pair. */
	if (b->path != IRQ_TEST_PATH_LINKED) {
		if (res == (int)sizeof(b->rings) && !b->retired) {
			/* One interrupt per ring: a guest that rings twice gets two, and RAISED says so. */
			for (uint64_t i = 0; i < b->rings; i++)
				binding_raise(b, b->channel->loop);
		}
		if (res == (int)sizeof(b->rings) || res == -EINTR || res == -EAGAIN)
			binding_arm(b);
	}
	binding_maybe_free(b);
}

static void binding_write_done(struct loop_op *op, int res, unsigned flags)
{
	struct irq_test_binding *b = container_of(op, struct irq_test_binding, write_op);

	(void)flags;
	b->in_flight--;
	if (res == (int)sizeof(irqfd_one))
		atomic_fetch_add(&b->channel->raised, 1);
	if (!b->in_flight && res != -ECANCELED)
		binding_arm(b);
	binding_maybe_free(b);
}

static void binding_arm_work(struct loop_work *work)
{
	struct irq_test_binding *b = container_of(work, struct irq_test_binding, arm_work);

	irq_source_start(&b->src);
	binding_arm(b);
}

static void binding_retire_work(struct loop_work *work)
{
	struct irq_test_binding *b = container_of(work, struct irq_test_binding, retire_work);
	struct loop *loop = b->channel->loop;

	b->retired = true;
	if (b->in_flight) {
		struct io_uring_sqe *sqe = loop_sqe(loop, NULL);
		io_uring_prep_cancel(sqe, &b->read_op, 0);
		if (b->path == IRQ_TEST_PATH_LINKED) {
			sqe = loop_sqe(loop, NULL);
			io_uring_prep_cancel(sqe, &b->write_op, 0);
		}
	}
	irq_source_cancel(&b->src);
	binding_maybe_free(b);
}

static void binding_source_cancelled(struct irq_source *src)
{
	binding_maybe_free(container_of(src, struct irq_test_binding, src));
}

/* The status a CONFIG value earns before anything is built. */
static uint32_t config_check(const struct irq_test *dev, unsigned path, unsigned source,
			     unsigned vector, unsigned pin)
{
	bool split = dev->chip->mode == IRQCHIP_SPLIT;
	bool pin_source = source != IRQ_TEST_SOURCE_MSI;
	bool kernel_only = path == IRQ_TEST_PATH_LIMIT || path == IRQ_TEST_PATH_LINKED ||
			   path == IRQ_TEST_PATH_EXTERNAL;

	if (path >= IRQ_TEST_PATHS || source >= IRQ_TEST_SOURCES)
		return IRQ_TEST_UNSUPPORTED;
	if (pin_source && (pin < IRQ_TEST_FIRST_PIN || pin > IRQ_TEST_LAST_PIN))
		return IRQ_TEST_UNSUPPORTED;
	if (!pin_source && vector < 32)
		return IRQ_TEST_UNSUPPORTED;
	if (path == IRQ_TEST_PATH_MSI && pin_source && !split)
		return IRQ_TEST_UNSUPPORTED;
	if (kernel_only && (source == IRQ_TEST_SOURCE_LEVEL || (pin_source && split)))
		return IRQ_TEST_UNSUPPORTED;
	if (path == IRQ_TEST_PATH_EXTERNAL &&
	    (dev->external_doorbell_fd < 0 || dev->external_irq_fd < 0))
		return IRQ_TEST_UNSUPPORTED;
	return IRQ_TEST_OK;
}

static enum irq_path source_path(const struct irq_test *dev, unsigned path, bool pin_source)
{
	switch (path) {
	case IRQ_TEST_PATH_MSI:
		return IRQ_PATH_MSI;
	case IRQ_TEST_PATH_LINE:
		return IRQ_PATH_LINE;
	case IRQ_TEST_PATH_LOCAL:
		return pin_source ? irq_chip_pin_path(dev->chip) : dev->chip->path;
	default:
		return IRQ_PATH_IRQFD;    /* limit, linked, irqfd, external */
	}
}

static struct irq_test_binding *binding_build(struct irq_test *dev, uint32_t config,
					      uint32_t *status)
{
	unsigned channel = config & IRQ_TEST_CHANNEL_MASK;
	unsigned path = (config >> IRQ_TEST_PATH_SHIFT) & IRQ_TEST_PATH_MASK;
	unsigned source = (config >> IRQ_TEST_SOURCE_SHIFT) & IRQ_TEST_SOURCE_MASK;
	unsigned vector = (uint8_t)(config >> IRQ_TEST_VECTOR_SHIFT);
	unsigned pin = (config >> IRQ_TEST_PIN_SHIFT) & IRQ_TEST_PIN_MASK;
	unsigned dest = (uint8_t)(config >> IRQ_TEST_DEST_SHIFT);
	struct error err = { 0 };

	*status = config_check(dev, path, source, vector, pin);
	if (*status)
		return NULL;
	struct irq_test_binding *b = calloc(1, sizeof(*b));
	if (!b) {
		*status = IRQ_TEST_HOST_ERROR;
		return NULL;
	}
	b->channel = &dev->channel[channel];
	b->path = path;
	b->level = source == IRQ_TEST_SOURCE_LEVEL;
	b->doorbell_fd = -1;
	b->read_op.complete = binding_read_done;
	b->write_op.complete = binding_write_done;
	b->arm_work.run = binding_arm_work;
	b->retire_work.run = binding_retire_work;

	int irqfd = path == IRQ_TEST_PATH_EXTERNAL ? dev->external_irq_fd : -1;
	enum irq_path how = source_path(dev, path, source != IRQ_TEST_SOURCE_MSI);
	int r;
	if (source == IRQ_TEST_SOURCE_MSI) {
		struct msi_msg msi = { .address = AM_MSI_BASE | ((uint64_t)dest << 12), .data = vector };
		r = irq_source_init_msi(&b->src, dev->chip, &msi, how, irqfd, &err);
	} else {
		r = irq_source_init_pin(&b->src, dev->chip, pin, b->level, how, irqfd,
					b->channel->loop, &err);
	}
	b->src.cancelled = binding_source_cancelled;
	if (!r) {
		if (path == IRQ_TEST_PATH_LIMIT) {
			b->doorbell_fd = irq_source_eventfd(&b->src);     /* KVM alone, both ways */
		} else if (path == IRQ_TEST_PATH_EXTERNAL) {
			b->doorbell_fd = dev->external_doorbell_fd;
		} else if (path != IRQ_TEST_PATH_LOCAL) {
			b->doorbell_fd = eventfd(0, EFD_CLOEXEC);
			b->doorbell_owned = b->doorbell_fd >= 0;
			r = b->doorbell_fd < 0 ? -errno : 0;
		}
	}
	if (r) {
		irq_source_destroy(&b->src);
		free(b);
		*status = r == -ENOTSUP ? IRQ_TEST_UNSUPPORTED : IRQ_TEST_HOST_ERROR;
		return NULL;
	}
	return b;
}

static int binding_connect(struct irq_test_binding *b)
{
	if (b->doorbell_fd < 0)
		return 0;
	struct irq_test_channel *ch = b->channel;
	return ioeventfd_assign(&b->ioev, ch->dev->vm_fd, b->doorbell_fd,
				IRQ_TEST_REG(IRQ_TEST_DOORBELL0 + 4 * ch->index), 4, true);
}

/* CONFIG, with the device locked: swap the channel over to a new binding. */
static void irq_test_configure(struct irq_test *dev, uint32_t config)
{
	unsigned channel = config & IRQ_TEST_CHANNEL_MASK;

	if (channel >= IRQ_TEST_CHANNELS) {
		dev->status = IRQ_TEST_BAD_CHANNEL;
		return;
	}
	struct irq_test_channel *ch = &dev->channel[channel];
	struct irq_test_binding *b = binding_build(dev, config, &dev->status);
	if (!b)
		return;
	/* The doorbell address can have one ioeventfd at a time: the old one goes first. */
	struct irq_test_binding *old = ch->current;
	if (old)
		ioeventfd_deassign(&old->ioev);
	if (binding_connect(b)) {
		if (old)
			binding_connect(old);
		irq_source_destroy(&b->src);
		if (b->doorbell_owned)
			close(b->doorbell_fd);
		free(b);
		dev->status = IRQ_TEST_HOST_ERROR;
		return;
	}
	b->next = dev->bindings;
	dev->bindings = b;
	ch->current = b;
	bool observable = b->path != IRQ_TEST_PATH_LIMIT && b->path != IRQ_TEST_PATH_EXTERNAL;
	atomic_store(&ch->raised, observable ? 0 : IRQ_TEST_NOT_OBSERVABLE);
	if (old)
		loop_post(ch->loop, &old->retire_work);
	loop_post(ch->loop, &b->arm_work);
	dev->status = IRQ_TEST_OK;
}

/* A doorbell that reached us: the local path (or a ring of a width no eventfd matches). */
static void irq_test_ring_local(struct irq_test *dev, unsigned channel)
{
	struct irq_test_binding *b = dev->channel[channel].current;

	if (b && b->path == IRQ_TEST_PATH_LOCAL)
		binding_raise(b, NULL);
}

static uint32_t irq_test_info(const struct irq_test *dev)
{
	static const uint32_t path_code[] = {
		[IRQ_PATH_IRQFD] = IRQ_TEST_PATH_IRQFD, [IRQ_PATH_MSI] = IRQ_TEST_PATH_MSI,
		[IRQ_PATH_LINE] = IRQ_TEST_PATH_LINE,
	};
	uint32_t info = path_code[dev->chip->path] << IRQ_TEST_INFO_PATH_SHIFT;

	if (dev->chip->mode == IRQCHIP_SPLIT)
		info |= IRQ_TEST_INFO_SPLIT;
	if (dev->external_doorbell_fd >= 0 && dev->external_irq_fd >= 0)
		info |= IRQ_TEST_INFO_EXTERNAL;
	return info;
}

void irq_test_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct irq_test *dev = opaque;
	uint32_t value;

	if (!bus_dword_begin(offset, data, len, is_write, &value))
		return;
	pthread_mutex_lock(&dev->lock);
	switch (offset) {
	case IRQ_TEST_DOORBELL0:
	case IRQ_TEST_DOORBELL0 + 4:
		if (is_write)
			irq_test_ring_local(dev, (unsigned)offset / 4);
		else
			value = 0;
		break;
	case IRQ_TEST_CONFIG:
		if (is_write)
			irq_test_configure(dev, value);
		else
			value = dev->status;
		break;
	case IRQ_TEST_ACK:
		if (is_write && value < IRQ_TEST_CHANNELS) {
			struct irq_test_binding *b = dev->channel[value].current;
			if (b && b->level)
				(void)irq_set_level(&b->src, false);
		}
		break;
	case IRQ_TEST_RAISED0:
	case IRQ_TEST_RAISED0 + 4:
		value = atomic_load(&dev->channel[(offset - IRQ_TEST_RAISED0) / 4].raised);
		break;
	case IRQ_TEST_INFO:
		value = irq_test_info(dev);
		break;
	case IRQ_TEST_PENDING:
		/* Level lines may interrupt spuriously (resampling, EOI races): handlers ask here. */
		for (unsigned i = 0; i < IRQ_TEST_CHANNELS; i++) {
			struct irq_test_binding *b = dev->channel[i].current;
			if (b && b->level && atomic_load(&b->src.asserted))
				value |= 1u << i;
		}
		break;
	default:
		value = 0xffffffff;
		break;
	}
	pthread_mutex_unlock(&dev->lock);
	bus_dword_end(data, is_write, value);
}

void irq_test_init(struct irq_test *dev, struct irq_chip *chip, int vm_fd,
		   struct loop *loops[IRQ_TEST_CHANNELS], int external_doorbell_fd,
		   int external_irq_fd)
{
	memset(dev, 0, sizeof(*dev));
	pthread_mutex_init(&dev->lock, NULL);
	dev->chip = chip;
	dev->vm_fd = vm_fd;
	dev->external_doorbell_fd = external_doorbell_fd;
	dev->external_irq_fd = external_irq_fd;
	for (unsigned i = 0; i < IRQ_TEST_CHANNELS; i++)
		dev->channel[i] = (struct irq_test_channel){ .dev = dev, .index = i, .loop = loops[i] };
}

void irq_test_destroy(struct irq_test *dev)
{
	while (dev->bindings) {
		struct irq_test_binding *b = dev->bindings;
		dev->bindings = b->next;
		ioeventfd_deassign(&b->ioev);
		irq_source_destroy(&b->src);
		if (b->doorbell_owned)
			close(b->doorbell_fd);
		free(b);
	}
	pthread_mutex_destroy(&dev->lock);
}
