/*
 * A struct irq_ops that records what the interrupt layer asks of KVM instead of
 * asking it, for unit tests without /dev/kvm: each call becomes an event, the
 * routing table KVM would hold is kept, and any kind of call can be made to fail
 * with a chosen errno; the chip's failed callback (a host-caused delivery failure)
 * is recorded too.
 */
#ifndef RINGVM_TEST_IRQ_RECORDER_H
#define RINGVM_TEST_IRQ_RECORDER_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "irq/irq.h"

enum rec_kind { REC_CREATE, REC_ROUTING, REC_IRQFD_ASSIGN, REC_IRQFD_DEASSIGN, REC_MSI, REC_LINE,
		REC_SIGNAL, REC_KINDS };

struct rec_event {
	enum rec_kind kind;
	uint32_t gsi;
	bool level;
	int fd, resamplefd;
	struct msi_msg msi;
	struct loop *via;
	unsigned routes;            /* REC_ROUTING: the table's size */
};

#define REC_MAX_EVENTS 512

struct irq_recorder {
	pthread_mutex_t lock;       /* calls may come from several threads */
	struct rec_event ev[REC_MAX_EVENTS];
	unsigned n;
	int fail[REC_KINDS];        /* -errno that calls of a kind return, 0: they succeed */
	unsigned fail_times[REC_KINDS];   /* how many more calls fail (0 with fail set: all) */
	struct kvm_irq_routing_entry table[2 * IRQ_ROUTING_MAX_GSI];   /* what KVM would hold */
	unsigned table_nr;
	int assigned;               /* irqfds attached and not yet detached */
	/* Runs inside each call before it is recorded, lock not held (tests that race). */
	void (*hook)(struct irq_recorder *rec, enum rec_kind kind);
	unsigned failed_calls;      /* the chip's failed callback: how often, and the last */
	int failed_err;
	char failed_what[64];
};

static void rec_failed(void *ctx, int err, const char *what)
{
	struct irq_recorder *rec = ctx;

	pthread_mutex_lock(&rec->lock);
	rec->failed_calls++;
	rec->failed_err = err;
	snprintf(rec->failed_what, sizeof(rec->failed_what), "%s", what);
	pthread_mutex_unlock(&rec->lock);
}

static int rec_add(struct irq_chip *chip, struct rec_event e)
{
	struct irq_recorder *rec = chip->ops_ctx;

	if (rec->hook)
		rec->hook(rec, e.kind);
	pthread_mutex_lock(&rec->lock);
	int r = rec->fail[e.kind];
	if (r && rec->fail_times[e.kind] && !--rec->fail_times[e.kind])
		rec->fail[e.kind] = 0;
	if (!r) {
		cr_assert_lt(rec->n, REC_MAX_EVENTS, "too many events for the recorder");
		rec->ev[rec->n++] = e;
		rec->assigned += (e.kind == REC_IRQFD_ASSIGN) - (e.kind == REC_IRQFD_DEASSIGN);
	}
	pthread_mutex_unlock(&rec->lock);
	return r;
}

static int rec_create(struct irq_chip *chip, struct error *err)
{
	int r = rec_add(chip, (struct rec_event){ .kind = REC_CREATE });
	return r ? error_set(err, -r, "recorder: no irqchip") : 0;
}

static int rec_set_routing(struct irq_chip *chip, const struct kvm_irq_routing *table)
{
	struct irq_recorder *rec = chip->ops_ctx;
	int r = rec_add(chip, (struct rec_event){ .kind = REC_ROUTING, .routes = table->nr });

	if (!r) {
		/* KVM replaces its table only when the call succeeds. */
		pthread_mutex_lock(&rec->lock);
		memcpy(rec->table, table->entries, table->nr * sizeof(table->entries[0]));
		rec->table_nr = table->nr;
		pthread_mutex_unlock(&rec->lock);
	}
	return r;
}

static int rec_irqfd(struct irq_chip *chip, int fd, uint32_t gsi, int resamplefd, bool assign)
{
	return rec_add(chip, (struct rec_event){ .kind = assign ? REC_IRQFD_ASSIGN : REC_IRQFD_DEASSIGN,
						 .fd = fd, .gsi = gsi, .resamplefd = resamplefd });
}

static int rec_signal_msi(struct irq_chip *chip, const struct msi_msg *msi)
{
	return rec_add(chip, (struct rec_event){ .kind = REC_MSI, .msi = *msi });
}

static int rec_irq_line(struct irq_chip *chip, uint32_t gsi, bool level)
{
	return rec_add(chip, (struct rec_event){ .kind = REC_LINE, .gsi = gsi, .level = level });
}

static int rec_irqfd_signal(struct irq_chip *chip, int fd, struct loop *via)
{
	return rec_add(chip, (struct rec_event){ .kind = REC_SIGNAL, .fd = fd, .via = via });
}

static const struct irq_ops rec_ops = {
	.create = rec_create,
	.set_routing = rec_set_routing,
	.irqfd = rec_irqfd,
	.signal_msi = rec_signal_msi,
	.irq_line = rec_irq_line,
	.irqfd_signal = rec_irqfd_signal,
};

/* A chip whose KVM calls go to a fresh recorder (freed by rec_chip_destroy). */
static inline struct irq_recorder *rec_chip_init(struct irq_chip *chip, enum irqchip_mode mode,
						 enum irq_path path)
{
	struct irq_recorder *rec = calloc(1, sizeof(*rec));
	struct error err = { 0 };

	cr_assert_not_null(rec);
	pthread_mutex_init(&rec->lock, NULL);
	cr_assert_eq(irq_chip_init_ops(chip, &rec_ops, rec, mode, path, &err), 0, "%s", err.msg);
	/* As machine/vm.c does: host-caused delivery failures go to the owner. */
	chip->failed = rec_failed;
	chip->failed_ctx = rec;
	return rec;
}

static inline void rec_free(struct irq_recorder *rec)
{
	pthread_mutex_destroy(&rec->lock);
	free(rec);
}

static inline void rec_chip_destroy(struct irq_chip *chip, struct irq_recorder *rec)
{
	irq_chip_destroy(chip);
	rec_free(rec);
}

/* Forgets the events so far (the routing table KVM holds stays). */
static inline void rec_clear(struct irq_recorder *rec)
{
	pthread_mutex_lock(&rec->lock);
	rec->n = 0;
	pthread_mutex_unlock(&rec->lock);
}

static inline unsigned rec_count(struct irq_recorder *rec, enum rec_kind kind)
{
	unsigned n = 0;

	pthread_mutex_lock(&rec->lock);
	for (unsigned i = 0; i < rec->n; i++)
		n += rec->ev[i].kind == kind;
	pthread_mutex_unlock(&rec->lock);
	return n;
}

/* The i-th event of a kind (it must exist). */
static inline struct rec_event rec_nth(struct irq_recorder *rec, enum rec_kind kind, unsigned i)
{
	pthread_mutex_lock(&rec->lock);
	for (unsigned k = 0; k < rec->n; k++) {
		if (rec->ev[k].kind == kind && !i--) {
			struct rec_event e = rec->ev[k];
			pthread_mutex_unlock(&rec->lock);
			return e;
		}
	}
	pthread_mutex_unlock(&rec->lock);
	cr_assert_fail("no such event (kind %d)", kind);
	return (struct rec_event){ 0 };
}

/* The routes KVM holds for gsi, and the last of them in *out. */
static inline unsigned rec_routes(struct irq_recorder *rec, uint32_t gsi,
				  struct kvm_irq_routing_entry *out)
{
	unsigned n = 0;

	pthread_mutex_lock(&rec->lock);
	for (unsigned i = 0; i < rec->table_nr; i++) {
		if (rec->table[i].gsi == gsi) {
			n++;
			if (out)
				*out = rec->table[i];
		}
	}
	pthread_mutex_unlock(&rec->lock);
	return n;
}

/* How many calls of kind fail with -errnum from now on (0: every one). */
static inline void rec_fail(struct irq_recorder *rec, enum rec_kind kind, int errnum, unsigned times)
{
	pthread_mutex_lock(&rec->lock);
	rec->fail[kind] = -errnum;
	rec->fail_times[kind] = times;
	pthread_mutex_unlock(&rec->lock);
}

/* Open fds of this process: what a leaked eventfd shows up in. */
static inline unsigned open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned n = 0;

	cr_assert_not_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static inline bool fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

#endif
