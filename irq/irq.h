/*
 * Interrupts: the VM's interrupt controller set-up and the sources devices raise,
 * without knowing the path. Paths: irqfd (an eventfd KVM listens to; from an I/O
 * thread the write goes through its ring), KVM_SIGNAL_MSI, KVM_IRQ_LINE. Irqchips:
 * kernel (PIC, IOAPIC and LAPICs in KVM) or split (LAPICs in KVM, IOAPIC here).
 */
#ifndef RINGVM_IRQ_H
#define RINGVM_IRQ_H

#include <stdatomic.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "irq/ioapic.h"
#include "services/error.h"
#include "irq/irq_routing.h"
#include "services/loop.h"

enum irqchip_mode { IRQCHIP_KERNEL, IRQCHIP_SPLIT };
enum irq_path { IRQ_PATH_IRQFD, IRQ_PATH_MSI, IRQ_PATH_LINE };

struct irq_chip;

/*
 * What the interrupt layer asks of KVM, each 0 or -errno: KVM's ioctls by default,
 * a recorder in unit tests (which find their state in chip->ops_ctx).
 */
struct irq_ops {
	/* The irqchip of chip->mode, with the PIT in the kernel mode. */
	int (*create)(struct irq_chip *chip, struct error *err);
	int (*set_routing)(struct irq_chip *chip, const struct kvm_irq_routing *table);
	/* Attaches (assign) or detaches fd to gsi; resamplefd >= 0: level, with resampling. */
	int (*irqfd)(struct irq_chip *chip, int fd, uint32_t gsi, int resamplefd, bool assign);
	int (*signal_msi)(struct irq_chip *chip, const struct msi_msg *msi);
	int (*irq_line)(struct irq_chip *chip, uint32_t gsi, bool level);
	/* Adds 1 to an irqfd; via (may be NULL): the loop whose next submission carries it. */
	int (*irqfd_signal)(struct irq_chip *chip, int fd, struct loop *via);
};

struct irq_chip {
	int vm_fd;
	const struct irq_ops *ops;          /* NULL: KVM's (chips built by hand in unit tests) */
	void *ops_ctx;
	enum irqchip_mode mode;
	enum irq_path path;                 /* the default for devices (--irq) */
	struct irq_routing routing;
	struct ioapic ioapic;               /* split only */
	enum irq_path pin_path[IOAPIC_PINS];  /* split: how each pin's MSIs are sent */
	int pin_irqfd[IOAPIC_PINS];         /* split + irqfd: each pin's eventfd, on its MSI route */
	_Atomic uint64_t delivery_errors;   /* deliveries and route updates KVM refused */
	_Atomic unsigned log_budget;        /* lines left for the guest-caused ones */
	/* Set by the owner: a delivery failed through the host's fault (what: which, err: -errno). */
	void (*failed)(void *ctx, int err, const char *what);
	void *failed_ctx;
	struct loop_op ring_write_op;       /* irqfd writes through a loop's ring complete here */
};

enum irq_kind { IRQ_KIND_PIN, IRQ_KIND_MSI };

struct irq_source {
	struct irq_chip *chip;
	enum irq_kind kind;
	enum irq_path path;
	bool level_triggered;               /* pins */
	uint32_t gsi;                       /* a pin's GSI, or the MSI route (irqfd, line) */
	bool has_route;                     /* gsi was allocated for this source */
	struct msi_msg msi;
	int irqfd, resamplefd;              /* irqfd path; resample for level pins */
	bool irqfd_owned;                   /* irqfd was created here (not handed in) */
	bool irqfd_assigned;
	_Atomic bool asserted;              /* the device's line */
	pthread_mutex_t level_lock;         /* a level change and its propagation, together */
	struct loop *loop;                  /* reads resample notifications */
	struct loop_op resample_op;
	uint64_t resample_count;
	bool resample_armed;
	void (*cancelled)(struct irq_source *src);   /* the resample read ended after a cancel */
};

/* Creates the irqchip (and PIT in the kernel mode) and the routing table. */
int irq_chip_init(struct irq_chip *chip, int vm_fd, enum irqchip_mode mode, enum irq_path path,
		  struct error *err);

/* The same through ops instead of KVM (ctx for them): what unit tests record. */
int irq_chip_init_ops(struct irq_chip *chip, const struct irq_ops *ops, void *ctx,
		      enum irqchip_mode mode, enum irq_path path, struct error *err);

/* Releases what irq_chip_init made. */
void irq_chip_destroy(struct irq_chip *chip);

/* The path pins take by default: MSI injection has no meaning for a kernel IOAPIC pin. */
enum irq_path irq_chip_pin_path(const struct irq_chip *chip);

/* How many interrupt deliveries and route updates have failed so far. */
static inline uint64_t irq_chip_delivery_errors(struct irq_chip *chip)
{
	return atomic_load(&chip->delivery_errors);
}

/* KVM_EXIT_IOAPIC_EOI (split irqchip): the guest EOId a level-triggered vector. */
void irq_chip_eoi(struct irq_chip *chip, uint8_t vector);

/*
 * A pin source on ISA IRQ/GSI gsi; level pins over irqfd read resample events on loop.
 * For the irqfd path, irqfd is the eventfd to use (-1: make one).
 */
int irq_source_init_pin(struct irq_source *src, struct irq_chip *chip, uint32_t gsi,
			bool level_triggered, enum irq_path path, int irqfd, struct loop *loop,
			struct error *err);

/* An MSI source; for the irqfd path, irqfd is the eventfd to use (-1: make one). */
int irq_source_init_msi(struct irq_source *src, struct irq_chip *chip, const struct msi_msg *msi,
			enum irq_path path, int irqfd, struct error *err);

/* On src's loop thread: starts reading resample events (level pins over irqfd). */
void irq_source_start(struct irq_source *src);

/* Points an MSI source at a new address/data (MSI-X table writes). */
int irq_source_set_msi(struct irq_source *src, const struct msi_msg *msi);

/* Cancels the resample read (loop thread); the source is freed after its completion. */
void irq_source_cancel(struct irq_source *src);

/* True while the resample read is in flight (loop thread). */
bool irq_source_busy(const struct irq_source *src);

/* Releases fds and routes; call once nothing is in flight (irq_source_busy false). */
void irq_source_destroy(struct irq_source *src);

/* Drives a pin to level; only changes reach KVM. Returns 0 or -errno. */
int irq_set_level(struct irq_source *src, bool level);

/* Raises one edge interrupt (MSI, or a pulse on an edge pin); via: the caller's loop, or NULL. */
int irq_trigger(struct irq_source *src, struct loop *via);

/* For an irqfd source: the eventfd KVM listens to (-1 otherwise). */
static inline int irq_source_eventfd(const struct irq_source *src)
{
	return src->irqfd;
}

/* Parses "irqfd", "msi", "line"; -EINVAL otherwise. */
int irq_path_parse(const char *name, enum irq_path *path);

/* The name of a path. */
const char *irq_path_name(enum irq_path path);

#endif
