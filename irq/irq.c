#include "irq/irq.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "services/log.h"
#include "services/util.h"

#define IRQ_LOG_BUDGET 4        /* guest-caused delivery failures logged per VM */
#define NO_GSI UINT32_MAX       /* a delivery that names no GSI (KVM_SIGNAL_MSI of an MSI source) */

/* What an irqfd write carries; static so that SQEs may point at it until they complete. */
static const uint64_t irqfd_one = 1;

static const char *const path_names[] = {
	[IRQ_PATH_IRQFD] = "irqfd", [IRQ_PATH_MSI] = "msi", [IRQ_PATH_LINE] = "line",
};

int irq_path_parse(const char *name, enum irq_path *path)
{
	for (unsigned i = 0; i < sizeof(path_names) / sizeof(path_names[0]); i++) {
		if (!strcmp(name, path_names[i])) {
			*path = (enum irq_path)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *irq_path_name(enum irq_path path)
{
	return path_names[path];
}

/* The KVM call each path delivers with, for messages. */
static const char *const path_calls[] = {
	[IRQ_PATH_IRQFD] = "irqfd write", [IRQ_PATH_MSI] = "KVM_SIGNAL_MSI",
	[IRQ_PATH_LINE] = "KVM_IRQ_LINE",
};

/* ISA IRQ 0 is wired to IOAPIC pin 2 (see irq_routing_init); every other GSI to its own pin. */
static unsigned gsi_to_pin(uint32_t gsi)
{
	return gsi == 0 ? 2 : gsi;
}

/* --- the KVM backend ------------------------------------------------------ */

static int kvm_signal_msi(struct irq_chip *chip, const struct msi_msg *msi)
{
	struct kvm_msi m = {
		.address_lo = (uint32_t)msi->address, .address_hi = (uint32_t)(msi->address >> 32),
		.data = msi->data,
	};
	/* 0 means the guest's LAPIC refused it (masked, no such destination): its business. */
	return ioctl(chip->vm_fd, KVM_SIGNAL_MSI, &m) < 0 ? -errno : 0;
}

static int kvm_irq_line(struct irq_chip *chip, uint32_t gsi, bool level)
{
	struct kvm_irq_level irq = { .irq = gsi, .level = level };
	return ioctl(chip->vm_fd, KVM_IRQ_LINE, &irq) ? -errno : 0;
}

static int kvm_irqfd_signal(struct irq_chip *chip, int fd, struct loop *via)
{
	if (via) {
		/* Goes out with whatever else this wake-up submits; ring_write_done judges it. */
		struct io_uring_sqe *sqe = loop_sqe(via, &chip->ring_write_op);
		io_uring_prep_write(sqe, fd, &irqfd_one, sizeof(irqfd_one), 0);
		return 0;
	}
	return write(fd, &irqfd_one, sizeof(irqfd_one)) == sizeof(irqfd_one) ? 0 : -errno;
}

static int kvm_irqfd(struct irq_chip *chip, int fd, uint32_t gsi, int resamplefd, bool assign)
{
	struct kvm_irqfd req = { .fd = (uint32_t)fd, .gsi = gsi };

	if (!assign)
		req.flags = KVM_IRQFD_FLAG_DEASSIGN;
	else if (resamplefd >= 0) {
		req.flags = KVM_IRQFD_FLAG_RESAMPLE;
		req.resamplefd = (uint32_t)resamplefd;
	}
	return ioctl(chip->vm_fd, KVM_IRQFD, &req) ? -errno : 0;
}

static int kvm_set_routing(struct irq_chip *chip, const struct kvm_irq_routing *table)
{
	return ioctl(chip->vm_fd, KVM_SET_GSI_ROUTING, table) ? -errno : 0;
}

/*
 * The 8259s as firmware leaves them: initialized (vectors 0x08 and 0x70) and masked
 * but for the cascade. Every local APIC's LINT0 takes ExtINT (vcpu.c), so a PIC
 * still in its reset state, vector base 0, would turn the first ISA interrupt into
 * exception 0-7 in a guest that never programs it: Linux under hardware-reduced
 * ACPI, for one.
 */
static int pic_firmware_state(int vm_fd)
{
	for (uint32_t id = KVM_IRQCHIP_PIC_MASTER; id <= KVM_IRQCHIP_PIC_SLAVE; id++) {
		struct kvm_irqchip chip = { .chip_id = id };
		if (ioctl(vm_fd, KVM_GET_IRQCHIP, &chip))
			return -errno;
		struct kvm_pic_state *pic = &chip.chip.pic;
		pic->irq_base = id == KVM_IRQCHIP_PIC_MASTER ? 0x08 : 0x70;
		pic->imr = id == KVM_IRQCHIP_PIC_MASTER ? 0xfb : 0xff;
		pic->init_state = 0;
		pic->init4 = 1;
		if (ioctl(vm_fd, KVM_SET_IRQCHIP, &chip))
			return -errno;
	}
	return 0;
}

static int kvm_create(struct irq_chip *chip, struct error *err)
{
	int vm_fd = chip->vm_fd;

	if (chip->mode == IRQCHIP_KERNEL) {
		if (ioctl(vm_fd, KVM_CREATE_IRQCHIP, 0))
			return error_sys(err, errno, "cannot create the in-kernel irqchip");
		int r = pic_firmware_state(vm_fd);
		if (r)
			return error_sys(err, -r, "cannot set up the in-kernel 8259s");
		struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
		if (ioctl(vm_fd, KVM_CREATE_PIT2, &pit))
			return error_sys(err, errno, "cannot create the in-kernel PIT");
		return 0;
	}
	if (ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SPLIT_IRQCHIP) <= 0)
		return error_set(err, ENOTSUP, "KVM on this host lacks KVM_CAP_SPLIT_IRQCHIP "
				 "(needed for --irqchip=split)");
	struct kvm_enable_cap cap = { .cap = KVM_CAP_SPLIT_IRQCHIP, .args = { IOAPIC_PINS } };
	if (ioctl(vm_fd, KVM_ENABLE_CAP, &cap))
		return error_sys(err, errno, "cannot enable the split irqchip");
	return 0;
}

static const struct irq_ops kvm_ops = {
	.create = kvm_create,
	.set_routing = kvm_set_routing,
	.irqfd = kvm_irqfd,
	.signal_msi = kvm_signal_msi,
	.irq_line = kvm_irq_line,
	.irqfd_signal = kvm_irqfd_signal,
};

/* --- the chip -------------------------------------------------------------- */

static const struct irq_ops *ops_of(const struct irq_chip *chip)
{
	return chip->ops ? chip->ops : &kvm_ops;
}

static int signal_msi(struct irq_chip *chip, const struct msi_msg *msi)
{
	return ops_of(chip)->signal_msi(chip, msi);
}

static int irq_line(struct irq_chip *chip, uint32_t gsi, bool level)
{
	return ops_of(chip)->irq_line(chip, gsi, level);
}

static int irqfd_attach(struct irq_chip *chip, int fd, uint32_t gsi, int resamplefd, bool assign)
{
	return ops_of(chip)->irqfd(chip, fd, gsi, resamplefd, assign);
}

static int irqfd_signal(struct irq_chip *chip, int fd, struct loop *via)
{
	return ops_of(chip)->irqfd_signal(chip, fd, via);
}

static int routing_commit(void *ctx, const struct kvm_irq_routing *table)
{
	struct irq_chip *chip = ctx;
	return ops_of(chip)->set_routing(chip, table);
}

/*
 * Whose fault a failed delivery is. KVM derives only these from what the guest
 * wrote into an MSI (an MSI-X entry, an IOAPIC redirection entry): EINVAL for an
 * address it cannot route (KVM_SIGNAL_MSI, KVM_SET_GSI_ROUTING), EPERM (-1 from
 * KVM_SIGNAL_MSI) for a destination no LAPIC matches. Every other errno is the
 * host's: a closed or wrong fd (EBADF, ENOTTY), no irqchip (ENXIO), memory or
 * table space (ENOMEM, EFAULT, ENOSPC), an old kernel (ENOSYS), EIO and anything
 * unforeseen, none of which the guest can choose and all of which would leave it
 * waiting forever for an interrupt that never comes: better to stop and say so.
 */
static bool guest_caused(int err)
{
	return err == -EINVAL || err == -EPERM;
}

/*
 * Every delivery's and route update's result comes here: counted, a guest's
 * doing logged a few times, the host's handed to the owner (machine/vm.c stops
 * the VM). Returns r.
 */
static int delivered(struct irq_chip *chip, int r, const char *how, uint32_t gsi)
{
	if (!r)
		return 0;
	atomic_fetch_add(&chip->delivery_errors, 1);
	char what[64];
	if (gsi == NO_GSI)
		snprintf(what, sizeof(what), "%s", how);
	else
		snprintf(what, sizeof(what), "%s (GSI %u)", how, gsi);
	if (guest_caused(r)) {
		unsigned left = atomic_load(&chip->log_budget);
		while (left && !atomic_compare_exchange_weak(&chip->log_budget, &left, left - 1))
			;
		/* This thread's share of the budget: one line, the last one says so. */
		unsigned one = left ? (left == 1 ? 1 : 2) : 0;
		log_guest_warning(&one, "interrupt not delivered: %s: %s", what, strerror(-r));
	} else if (chip->failed) {
		chip->failed(chip->failed_ctx, r, what);
	}
	return r;
}

/* An irqfd write that went through a loop's ring has completed (one op serves them all). */
static void ring_write_done(struct loop_op *op, int res, unsigned flags)
{
	struct irq_chip *chip = container_of(op, struct irq_chip, ring_write_op);

	(void)flags;
	/* Cancelled: the loop is being torn down with the VM, nothing to deliver to. */
	if (res == -ECANCELED)
		return;
	(void)delivered(chip, res < 0 ? res : res == sizeof(irqfd_one) ? 0 : -EIO,
			"irqfd write through an I/O ring", NO_GSI);
}

/* The source's loop if we are running on it: then writes can go through its ring. */
static struct loop *own_loop(const struct irq_source *src)
{
	return src->loop && loop_on_thread(src->loop) ? src->loop : NULL;
}

/* Split irqchip: our IOAPIC hands over an MSI for one of its pins. */
static void split_deliver(void *ctx, unsigned pin, const struct msi_msg *msi)
{
	struct irq_chip *chip = ctx;

	switch (chip->pin_path[pin]) {
	case IRQ_PATH_IRQFD:
		if (chip->pin_irqfd[pin] < 0) {
			/* Made on first use, so pins nobody raises cost no eventfd. */
			int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
			if (fd >= 0 && irqfd_attach(chip, fd, pin, -1, true)) {
				close(fd);
				fd = -1;
			}
			chip->pin_irqfd[pin] = fd;
		}
		if (chip->pin_irqfd[pin] >= 0) {
			(void)delivered(chip, irqfd_signal(chip, chip->pin_irqfd[pin], NULL),
					"irqfd write", pin);
			break;
		}
		/* No irqfd could be made: an MSI gets there too. */
		__attribute__((fallthrough));
	case IRQ_PATH_MSI:
		(void)delivered(chip, signal_msi(chip, msi), "KVM_SIGNAL_MSI", pin);
		break;
	case IRQ_PATH_LINE:
		/* The pin's GSI is an MSI route. */
		(void)delivered(chip, irq_line(chip, pin, true), "KVM_IRQ_LINE", pin);
		break;
	}
}

static void split_route(void *ctx, unsigned pin, const struct msi_msg *msi, bool masked)
{
	struct irq_chip *chip = ctx;

	(void)masked;   /* KVM keeps the last route; a masked pin is never delivered anyway */
	(void)delivered(chip, irq_routing_set_msi(&chip->routing, pin, msi), "route update", pin);
}

static const struct ioapic_ops split_ioapic_ops = {
	.deliver = split_deliver,
	.route = split_route,
};

static int chip_init(struct irq_chip *chip, int vm_fd, const struct irq_ops *ops, void *ctx,
		     enum irqchip_mode mode, enum irq_path path, struct error *err)
{
	memset(chip, 0, sizeof(*chip));
	chip->vm_fd = vm_fd;
	chip->ops = ops;
	chip->ops_ctx = ctx;
	chip->mode = mode;
	chip->path = path;
	chip->log_budget = IRQ_LOG_BUDGET;
	chip->ring_write_op.complete = ring_write_done;
	for (unsigned i = 0; i < IOAPIC_PINS; i++) {
		chip->pin_irqfd[i] = -1;
		chip->pin_path[i] = path;
	}
	int r = ops->create(chip, err);
	if (r)
		return r;
	if (mode == IRQCHIP_SPLIT)
		ioapic_init(&chip->ioapic, &split_ioapic_ops, chip);
	return irq_routing_init(&chip->routing, routing_commit, chip, mode == IRQCHIP_KERNEL, err);
}

int irq_chip_init(struct irq_chip *chip, int vm_fd, enum irqchip_mode mode, enum irq_path path,
		  struct error *err)
{
	return chip_init(chip, vm_fd, &kvm_ops, NULL, mode, path, err);
}

int irq_chip_init_ops(struct irq_chip *chip, const struct irq_ops *ops, void *ctx,
		      enum irqchip_mode mode, enum irq_path path, struct error *err)
{
	return chip_init(chip, -1, ops, ctx, mode, path, err);
}

void irq_chip_destroy(struct irq_chip *chip)
{
	for (unsigned i = 0; i < IOAPIC_PINS; i++) {
		if (chip->pin_irqfd[i] >= 0) {
			(void)irqfd_attach(chip, chip->pin_irqfd[i], i, -1, false);
			close(chip->pin_irqfd[i]);
			chip->pin_irqfd[i] = -1;
		}
	}
	if (chip->mode == IRQCHIP_SPLIT)
		ioapic_destroy(&chip->ioapic);
	irq_routing_destroy(&chip->routing);
}

enum irq_path irq_chip_pin_path(const struct irq_chip *chip)
{
	if (chip->path == IRQ_PATH_MSI && chip->mode == IRQCHIP_KERNEL)
		return IRQ_PATH_LINE;
	return chip->path;
}

void irq_chip_eoi(struct irq_chip *chip, uint8_t vector)
{
	if (chip->mode == IRQCHIP_SPLIT)
		ioapic_eoi(&chip->ioapic, vector);
}

/* --- sources --------------------------------------------------------------- */

static void resample_arm(struct irq_source *src);

/* The guest EOId a level pin KVM had asserted: KVM lowered it; raise it again if still up. */
static void resample_done(struct loop_op *op, int res, unsigned flags)
{
	struct irq_source *src = container_of(op, struct irq_source, resample_op);

	(void)flags;
	src->resample_armed = false;
	if (res == -ECANCELED || (res < 0 && res != -EINTR && res != -EAGAIN)) {
		if (src->cancelled)
			src->cancelled(src);
		return;
	}
	if (atomic_load(&src->asserted))
		(void)delivered(src->chip, irqfd_signal(src->chip, src->irqfd, src->loop),
				"irqfd re-signal after resample", src->gsi);
	resample_arm(src);
}

static void resample_arm(struct irq_source *src)
{
	struct io_uring_sqe *sqe = loop_sqe(src->loop, &src->resample_op);
	io_uring_prep_read(sqe, src->resamplefd, &src->resample_count, sizeof(src->resample_count), 0);
	src->resample_armed = true;
}

static int source_open_irqfd(struct irq_source *src, int irqfd, bool resample, struct error *err)
{
	src->irqfd = irqfd;
	if (irqfd < 0) {
		/*
		 * Non-blocking, or io_uring cannot write it inline (eventfd has no
		 * write_iter) and hands every write to a worker thread: tens of µs.
		 * Only an overflowing counter could make a write wait.
		 */
		src->irqfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (src->irqfd < 0)
			return error_sys(err, errno, "cannot create an irqfd");
		src->irqfd_owned = true;
	}
	if (resample) {
		src->resamplefd = eventfd(0, EFD_CLOEXEC);
		if (src->resamplefd < 0)
			return error_sys(err, errno, "cannot create a resample eventfd");
	}
	int r = irqfd_attach(src->chip, src->irqfd, src->gsi, src->resamplefd, true);
	if (r)
		return error_sys(err, -r, "cannot attach an irqfd to GSI %u", src->gsi);
	src->irqfd_assigned = true;
	return 0;
}

static void source_reset(struct irq_source *src, struct irq_chip *chip, enum irq_kind kind,
			 enum irq_path path)
{
	memset(src, 0, sizeof(*src));
	src->chip = chip;
	src->kind = kind;
	src->path = path;
	src->irqfd = src->resamplefd = -1;
	src->resample_op.complete = resample_done;
	pthread_mutex_init(&src->level_lock, NULL);
}

/* Gives back the source's fds and route; the lock stays for irq_source_destroy. */
static void source_release(struct irq_source *src)
{
	if (src->irqfd_assigned)
		(void)irqfd_attach(src->chip, src->irqfd, src->gsi, -1, false);
	if (src->irqfd >= 0 && src->irqfd_owned)
		close(src->irqfd);
	if (src->resamplefd >= 0)
		close(src->resamplefd);
	if (src->has_route)
		(void)irq_routing_remove(&src->chip->routing, src->gsi);
	src->irqfd = src->resamplefd = -1;
	src->irqfd_assigned = src->has_route = src->irqfd_owned = false;
}

/* A failed init leaves nothing behind, so a caller that tries again leaks nothing. */
static int source_failed(struct irq_source *src, int r)
{
	source_release(src);
	return r;
}

static int source_init_pin(struct irq_source *src, struct irq_chip *chip, uint32_t gsi,
			   bool level_triggered, enum irq_path path, int irqfd, struct error *err)
{
	if (gsi >= IRQ_IOAPIC_PINS || gsi == 2)
		return error_set(err, EINVAL, "GSI %u is not an IOAPIC pin", gsi);
	/* A split-irqchip pin goes to our IOAPIC, which sends its MSIs this source's way. */
	if (chip->mode == IRQCHIP_SPLIT) {
		if (irqfd >= 0)
			return error_set(err, ENOTSUP, "a split-irqchip pin has no irqfd of its own");
		chip->pin_path[gsi_to_pin(gsi)] = path;
		return 0;
	}
	switch (path) {
	case IRQ_PATH_MSI:
		return error_set(err, ENOTSUP, "an in-kernel IOAPIC pin cannot be raised as an MSI");
	case IRQ_PATH_LINE:
		return 0;
	case IRQ_PATH_IRQFD:
		if (level_triggered && !src->loop)
			return error_set(err, EINVAL, "a level-triggered irqfd needs a loop for resampling");
		return source_open_irqfd(src, irqfd, level_triggered, err);
	}
	return error_set(err, EINVAL, "unknown interrupt path");
}

int irq_source_init_pin(struct irq_source *src, struct irq_chip *chip, uint32_t gsi,
			bool level_triggered, enum irq_path path, int irqfd, struct loop *loop,
			struct error *err)
{
	source_reset(src, chip, IRQ_KIND_PIN, path);
	src->gsi = gsi;
	src->level_triggered = level_triggered;
	src->loop = loop;
	int r = source_init_pin(src, chip, gsi, level_triggered, path, irqfd, err);
	return r ? source_failed(src, r) : 0;
}

int irq_source_init_msi(struct irq_source *src, struct irq_chip *chip, const struct msi_msg *msi,
			enum irq_path path, int irqfd, struct error *err)
{
	source_reset(src, chip, IRQ_KIND_MSI, path);
	src->msi = *msi;
	if (path == IRQ_PATH_MSI)
		return 0;
	int r = irq_routing_add_msi(&chip->routing, msi, &src->gsi);
	if (r)
		return error_sys(err, -r, "cannot add an MSI route");
	src->has_route = true;
	r = path == IRQ_PATH_IRQFD ? source_open_irqfd(src, irqfd, false, err) : 0;
	return r ? source_failed(src, r) : 0;
}

void irq_source_start(struct irq_source *src)
{
	if (src->resamplefd >= 0 && !src->resample_armed)
		resample_arm(src);
}

int irq_source_set_msi(struct irq_source *src, const struct msi_msg *msi)
{
	src->msi = *msi;
	if (!src->has_route)
		return 0;
	return delivered(src->chip, irq_routing_set_msi(&src->chip->routing, src->gsi, msi),
			 "route update", src->gsi);
}

void irq_source_cancel(struct irq_source *src)
{
	if (src->resample_armed) {
		struct io_uring_sqe *sqe = loop_sqe(src->loop, NULL);
		io_uring_prep_cancel(sqe, &src->resample_op, 0);
	}
}

bool irq_source_busy(const struct irq_source *src)
{
	return src->resample_armed;
}

void irq_source_destroy(struct irq_source *src)
{
	source_release(src);
	pthread_mutex_destroy(&src->level_lock);
}

/* The GSI a source's deliveries name: none for an MSI sent as such. */
static uint32_t source_gsi(const struct irq_source *src)
{
	return src->kind == IRQ_KIND_MSI && src->path == IRQ_PATH_MSI ? NO_GSI : src->gsi;
}

/* Hands a new line level to the chip; called with src->level_lock held. */
static int propagate_level(struct irq_source *src, bool level)
{
	struct irq_chip *chip = src->chip;

	if (chip->mode == IRQCHIP_SPLIT && src->kind == IRQ_KIND_PIN) {
		ioapic_set_pin(&chip->ioapic, gsi_to_pin(src->gsi), level);
		return 0;
	}
	switch (src->path) {
	case IRQ_PATH_LINE:
		return irq_line(chip, src->gsi, level);
	case IRQ_PATH_IRQFD:
		/*
		 * An edge irqfd pulses the pin; a level one holds it until the guest's EOI,
		 * when KVM lowers it and resample_done raises it again if we still are.
		 * On the source's I/O thread the write joins that thread's next submission.
		 */
		return level ? irqfd_signal(chip, src->irqfd, own_loop(src)) : 0;
	case IRQ_PATH_MSI:
		return level ? signal_msi(chip, &src->msi) : 0;
	}
	return -EINVAL;
}

int irq_set_level(struct irq_source *src, bool level)
{
	int r = 0;

	/*
	 * Devices raise from their I/O thread and lower from the vCPU thread that
	 * acknowledged them. Were the exchange and the propagation apart, a raise
	 * and a lower could reach the chip in the opposite order and leave it
	 * holding a line the device dropped: an endless level-triggered storm
	 * that starves the guest's lower vectors, its timer among them.
	 */
	pthread_mutex_lock(&src->level_lock);
	if (atomic_exchange(&src->asserted, level) != level) {
		r = propagate_level(src, level);
		/* The chip does not hold what we said: the next call for this level tries again. */
		if (r)
			atomic_store(&src->asserted, !level);
	}
	pthread_mutex_unlock(&src->level_lock);
	return delivered(src->chip, r, path_calls[src->path], source_gsi(src));
}

static int trigger(struct irq_source *src, struct loop *via)
{
	struct irq_chip *chip = src->chip;

	if (src->kind == IRQ_KIND_PIN) {
		if (chip->mode == IRQCHIP_SPLIT) {
			ioapic_set_pin(&chip->ioapic, gsi_to_pin(src->gsi), true);
			ioapic_set_pin(&chip->ioapic, gsi_to_pin(src->gsi), false);
			return 0;
		}
		if (src->path == IRQ_PATH_IRQFD)
			return irqfd_signal(chip, src->irqfd, via ? via : own_loop(src));
		int r = irq_line(chip, src->gsi, true);
		return r ? r : irq_line(chip, src->gsi, false);
	}
	switch (src->path) {
	case IRQ_PATH_IRQFD:
		return irqfd_signal(chip, src->irqfd, via ? via : own_loop(src));
	case IRQ_PATH_MSI:
		return signal_msi(chip, &src->msi);
	case IRQ_PATH_LINE:
		return irq_line(chip, src->gsi, true);   /* an MSI route fires on 1 */
	}
	return -EINVAL;
}

int irq_trigger(struct irq_source *src, struct loop *via)
{
	return delivered(src->chip, trigger(src, via), path_calls[src->path], source_gsi(src));
}
