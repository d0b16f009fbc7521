/*
 * virtio-hostile: on every virtio device, chains no driver may write, one at
 * a time, on its request queue (block and entropy: queue 0; net: the
 * transmit queue, 1, since the device takes receive buffers only when a
 * frame arrives). After each the device must set DEVICE_NEEDS_RESET and send
 * a configuration change interrupt (2.1.2); the guest then resets it, sets it
 * up again, and a legitimate request must work. Malformed block requests are
 * reads of sector 0; the legitimate ones write and read back sectors 0-7
 * (blk_pattern.h), so nothing else on the disk may change.
 *
 * Then the sessions themselves are attacked: a reset while requests are in
 * flight, a storm of chains re-published while the device still holds them,
 * and a second reset while the first is pending. After each, a clean
 * re-initialisation must give a device that works. virtio-storm runs such a
 * storm on disk 0 until ringvm is stopped (the host checks it stops in time).
 */
#include <linux/virtio_pci.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blk_pattern.h"
#include "cpu.h"
#include "mem.h"
#include "printf.h"
#include "test.h"
#include "timer.h"
#include "virtio_blk.h"
#include "virtio_net.h"
#include "virtio_rng.h"

#define BAD_ADDR       0x20000000000ull     /* 2 TiB: no RAM, no PCI window of either VMM */
#define DETECT_NS      (1 * NS_PER_S)
#define IRQ_WAIT_NS    (100 * NS_PER_MS)
#define LEGIT_SECTORS  8
#define SMALL          16                   /* bytes per buffer of the over-long chain */
#define STORM_NS       (300 * NS_PER_MS)
#define UNSUPPORTED    0x7777               /* a block request type no device knows */

enum kind { KIND_BLK, KIND_RNG, KIND_NET };

static const char *const kind_names[] = { "blk", "rng", "net" };

enum hostile_case {
	CASE_BAD_ADDRESS, CASE_LOOP, CASE_TOO_LONG, CASE_ZERO_HEADER, CASE_AVAIL_JUMP,
	CASE_READONLY_DATA, CASE_NESTED_INDIRECT, NR_CASES
};

static const char *const case_names[NR_CASES] = {
	"bad-address", "loop", "too-long", "zero-header", "avail-jump", "readonly-data",
	"nested-indirect",
};

/* A device under test. */
struct target {
	enum kind kind;
	unsigned n;
	struct virtio_dev *dev;
	struct blk_dev *blk;
	struct net_dev *net;
	unsigned q;
	uint64_t seed;
};

static struct {
	struct vring_desc table[VIRTQ_MAX_SIZE + 1];
	struct vring_desc table2[2];
	struct virtio_blk_outhdr hdr, hdr2;
	uint8_t status, status2;
	uint8_t data[2 * BLK_SEG_SIZE] __attribute__((aligned(16)));   /* room for too_long()'s overlap */
} m __attribute__((aligned(4096)));

static uint8_t pattern[LEGIT_SECTORS * BLK_SECTOR] __attribute__((aligned(4096)));
static uint8_t readback[LEGIT_SECTORS * BLK_SECTOR] __attribute__((aligned(4096)));
static char reason[120];

/* Resets the device and sets it up as its driver does; NULL or why not. */
static const char *reopen(struct target *t)
{
	const char *err;

	switch (t->kind) {
	case KIND_BLK:
		err = blk_open(t->n, &t->blk);
		t->dev = err ? t->dev : &t->blk->vdev;
		return err;
	case KIND_RNG:
		return rng_open(t->n, &t->dev);
	default:
		err = net_open(t->n, &t->net);
		t->dev = err ? t->dev : &t->net->vdev;
		return err;
	}
}

/* A request the device must serve; NULL or why it did not. */
static const char *legit_request(struct target *t)
{
	static char why[80];
	uint8_t status;

	switch (t->kind) {
	case KIND_BLK:
		if (!t->blk->ro) {
			blk_pattern_fill(pattern, 0, LEGIT_SECTORS, t->seed);
			status = blk_request(t->blk, 0, VIRTIO_BLK_T_OUT, 0, pattern, sizeof(pattern));
			if (status != VIRTIO_BLK_S_OK)
				return blk_status_text(t->blk, status);
		}
		memset(readback, 0, sizeof(readback));
		status = blk_request(t->blk, 0, VIRTIO_BLK_T_IN, 0, readback, sizeof(readback));
		if (status != VIRTIO_BLK_S_OK)
			return blk_status_text(t->blk, status);
		if (!t->blk->ro) {
			uint32_t bad = blk_pattern_check(readback, 0, LEGIT_SECTORS, t->seed);

			if (bad < LEGIT_SECTORS) {
				snprintf(why, sizeof(why), "sector %u read back wrong", bad);
				return why;
			}
		}
		return NULL;
	case KIND_RNG:
		return rng_read(t->dev, m.data, SMALL);
	default: {
		/* An ARP request for 10.0.2.1 from 10.0.2.15: harmless on any network. */
		uint8_t *f = net_tx_frame(t->net);

		memset(f, 0xff, 6);
		memcpy(f + 6, t->net->mac, 6);
		memcpy(f + 12, "\x08\x06\x00\x01\x08\x00\x06\x04\x00\x01", 10);
		memcpy(f + 22, t->net->mac, 6);
		memcpy(f + 28, "\x0a\x00\x02\x0f\0\0\0\0\0\0\x0a\x00\x02\x01", 14);
		memset(f + 42, 0, 18);
		return net_send(t->net, 60);
	}
	}
}

static struct vring_desc desc(uint64_t addr, uint32_t len, uint16_t flags)
{
	return (struct vring_desc){ addr, len, flags, 0 };
}

/*
 * The buffers of a well-formed request, to be bent: blk a read of sector 0
 * (header, data, status), rng one buffer, net header and frame. Returns how
 * many; data (the buffer the device reads or fills) is at *data_index.
 */
static unsigned normal_chain(const struct target *t, struct vring_desc *out, unsigned *data_index)
{
	switch (t->kind) {
	case KIND_BLK:
		m.hdr.type = VIRTIO_BLK_T_IN;
		m.hdr.sector = 0;
		out[0] = desc((uintptr_t)&m.hdr, sizeof(m.hdr), 0);
		out[1] = desc((uintptr_t)m.data, BLK_SECTOR, VRING_DESC_F_WRITE);
		out[2] = desc((uintptr_t)&m.status, 1, VRING_DESC_F_WRITE);
		*data_index = 1;
		return 3;
	case KIND_RNG:
		out[0] = desc((uintptr_t)m.data, SMALL, VRING_DESC_F_WRITE);
		out[1] = desc((uintptr_t)m.data + SMALL, SMALL, VRING_DESC_F_WRITE);
		*data_index = 0;
		return 2;
	default:
		memset(m.data, 0, NET_HDR_SIZE);
		out[0] = desc((uintptr_t)m.data, NET_HDR_SIZE, 0);
		out[1] = desc((uintptr_t)net_tx_frame(t->net), 60, 0);
		*data_index = 1;
		return 2;
	}
}

/* Links n descriptors in order (next = i + 1, NEXT on all but the last). */
static void link(struct vring_desc *d, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		d[i].next = (uint16_t)(i + 1);
		d[i].flags = (uint16_t)((d[i].flags & ~VRING_DESC_F_NEXT) |
					(i + 1 < n ? VRING_DESC_F_NEXT : 0));
	}
}

/* Hands descriptor head over and notifies, whatever the device said about notifications. */
static void publish(struct virtq *vq, uint16_t head)
{
	vq->avail->ring[vq->avail_idx++ & (vq->size - 1)] = head;
	virtq_publish(vq);
	virtq_notify(vq);
}

/*
 * A chain longer than the queue: with indirect descriptors a table of
 * size + 1 (small) buffers; without, every descriptor of the ring in one
 * chain whose last links back to the first.
 */
static void too_long(const struct target *t, struct virtq *vq)
{
	bool indirect = t->dev->features & VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC);
	unsigned n = indirect ? vq->size + 1u : vq->size;
	struct vring_desc *d = indirect ? m.table : vq->desc;
	uint16_t flags = t->kind == KIND_NET ? 0 : VRING_DESC_F_WRITE;

	for (unsigned i = 0; i < n; i++)
		d[i] = desc((uintptr_t)m.data + SMALL * (i % (BLK_SEG_SIZE / SMALL)), SMALL, flags);
	if (t->kind == KIND_BLK) {
		/* Header, data adding up to 8 sectors, status: a well-formed read but for length. */
		d[0] = desc((uintptr_t)&m.hdr, sizeof(m.hdr), 0);
		d[n - 2].len = LEGIT_SECTORS * BLK_SECTOR - SMALL * (n - 3);
		d[n - 1] = desc((uintptr_t)&m.status, 1, VRING_DESC_F_WRITE);
	} else if (t->kind == KIND_NET) {
		d[0].len = NET_HDR_SIZE;
	}
	link(d, n);
	if (indirect) {
		vq->desc[0] = desc((uintptr_t)m.table, n * sizeof(m.table[0]), VRING_DESC_F_INDIRECT);
	} else {
		d[n - 1].flags |= VRING_DESC_F_NEXT;
		d[n - 1].next = 0;
	}
	publish(vq, 0);
}

/* Puts the malformed chain of c on the queue; false when c does not apply to the device. */
static bool inject(const struct target *t, enum hostile_case c, const char **skip)
{
	struct virtq *vq = t->dev->vq[t->q];
	struct vring_desc *d = vq->desc;
	unsigned data, n = normal_chain(t, d, &data);

	switch (c) {
	case CASE_BAD_ADDRESS:
		d[data].addr = BAD_ADDR;
		link(d, n);
		break;
	case CASE_LOOP:
		/* Back to the second buffer if there is a third: no direction changes on the way. */
		link(d, n);
		d[n - 1].flags |= VRING_DESC_F_NEXT;
		d[n - 1].next = n > 2 ? 1 : 0;
		break;
	case CASE_TOO_LONG:
		too_long(t, vq);
		return true;
	case CASE_ZERO_HEADER:
		if (t->kind == KIND_RNG) {
			*skip = "no header";
			return false;
		}
		d[0].len = 0;
		link(d, t->kind == KIND_NET ? 1 : n);   /* net: nothing after it to borrow from */
		break;
	case CASE_AVAIL_JUMP:
		vq->avail_idx = (uint16_t)(vq->avail_idx + vq->size + 1);
		virtq_publish(vq);
		virtq_notify(vq);
		return true;
	case CASE_READONLY_DATA:
		if (t->kind != KIND_BLK) {
			*skip = "block only";
			return false;
		}
		d[data].flags = 0;
		link(d, n);
		break;
	case CASE_NESTED_INDIRECT:
		if (!(t->dev->features & VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC))) {
			*skip = "INDIRECT_DESC not negotiated";
			return false;
		}
		/* The chain's first buffer in the outer table, the rest in a table inside it. */
		m.table[0] = d[0];
		/* Writable like what it points to, so only the nesting is wrong (WRITE is ignored). */
		m.table[1] = desc((uintptr_t)m.table2, (n - 1) * sizeof(m.table2[0]),
				  VRING_DESC_F_INDIRECT | (d[1].flags & VRING_DESC_F_WRITE));
		for (unsigned i = 1; i < n; i++)
			m.table2[i - 1] = d[i];
		link(m.table, 2);
		link(m.table2, n - 1);
		d[0] = desc((uintptr_t)m.table, 2 * sizeof(m.table[0]), VRING_DESC_F_INDIRECT);
		break;
	default:
		return false;
	}
	publish(vq, 0);
	return true;
}

/* --- attacks on the session ------------------------------------------------ */

enum session_case { SESSION_RESET_DURING_IO, SESSION_STORM, SESSION_RESET_TWICE, NR_SESSION_CASES };

static const char *const session_names[NR_SESSION_CASES] = {
	"reset-during-io", "republish-storm", "reset-twice",
};

/*
 * Two well-formed chains, a (head 0) and b: for blk a read of sector 0 and a
 * request of a type no device knows (completed at once); else b is a.
 */
static void storm_chains(const struct target *t, uint16_t *a, uint16_t *b)
{
	struct virtq *vq = t->dev->vq[t->q];
	unsigned data, n = normal_chain(t, vq->desc, &data);

	link(vq->desc, n);
	*a = *b = 0;
	if (t->kind == KIND_BLK) {
		m.hdr2.type = UNSUPPORTED;
		m.hdr2.sector = 0;
		vq->desc[n] = desc((uintptr_t)&m.hdr2, sizeof(m.hdr2), 0);
		vq->desc[n + 1] = desc((uintptr_t)&m.status2, 1, VRING_DESC_F_WRITE);
		link(vq->desc + n, 2);
		vq->desc[n].next = (uint16_t)(n + 1);
		*b = (uint16_t)n;
	}
}

/*
 * Publishes a and b in turn, again and again, whether or not the device still
 * holds them: as many as the device has answered make room for as many more,
 * so the ring is never overrun, but the same chains are in flight many times.
 * For ns, or for ever; stops at DEVICE_NEEDS_RESET. Returns the chains published.
 */
static uint64_t storm(const struct target *t, uint16_t a, uint16_t b, uint64_t ns, bool forever)
{
	struct virtq *vq = t->dev->vq[t->q];
	uint64_t published = 0;

	timeout_start(ns);
	irq_enable();
	while (forever || !timeout_expired()) {
		unsigned n = 0;

		while ((uint16_t)(vq->avail_idx - vq->used->idx) < vq->size) {
			vq->avail->ring[vq->avail_idx & (vq->size - 1)] = vq->avail_idx % 2 ? b : a;
			vq->avail_idx++;
			n++;
		}
		if (n) {
			published += n;
			virtq_publish(vq);
			virtq_notify(vq);
		} else if (virtio_status(t->dev) & VIRTIO_CONFIG_S_NEEDS_RESET) {
			break;
		} else {
			cpu_relax();
		}
	}
	irq_disable();
	timeout_stop();
	return published;
}

/* Writes device_status 0 without waiting for the reset to finish. */
static void start_reset(const struct target *t)
{
	*(volatile uint8_t *)(t->dev->common + offsetof(struct virtio_pci_common_cfg, device_status)) = 0;
}

/* One attack on the session; NULL when the device works again after a clean re-initialisation. */
static const char *run_session_case(struct target *t, enum session_case c)
{
	struct virtq *vq = t->dev->vq[t->q];
	uint16_t a, b;
	const char *err;

	storm_chains(t, &a, &b);
	switch (c) {
	case SESSION_RESET_DURING_IO:
		/* A queue's worth of requests, and the reset right behind them. */
		for (unsigned i = 0; i < vq->size; i++)
			vq->avail->ring[vq->avail_idx++ & (vq->size - 1)] = i % 2 ? b : a;
		virtq_publish(vq);
		virtq_notify(vq);
		virtio_reset(t->dev);
		break;
	case SESSION_STORM: {
		uint64_t n = storm(t, a, b, STORM_NS, false);

		printf("virtio-storm %s %u: %lu chains in %lu ms%s\n", kind_names[t->kind],
		       t->n, (unsigned long)n, (unsigned long)(STORM_NS / NS_PER_MS),
		       virtio_status(t->dev) & VIRTIO_CONFIG_S_NEEDS_RESET ? ", DEVICE_NEEDS_RESET" : "");
		break;
	}
	case SESSION_RESET_TWICE:
		/* The second reset lands while the first still waits for what is in flight. */
		for (unsigned i = 0; i < vq->size; i++)
			vq->avail->ring[vq->avail_idx++ & (vq->size - 1)] = i % 2 ? b : a;
		virtq_publish(vq);
		virtq_notify(vq);
		start_reset(t);
		start_reset(t);
		virtio_reset(t->dev);
		/* Up, and straight down again before any request. */
		if ((err = reopen(t)))
			return err;
		virtio_reset(t->dev);
		break;
	default:
		return NULL;
	}
	if ((err = reopen(t)) || (err = legit_request(t)))
		return err;
	return NULL;
}

static const struct target *watched;

static bool flagged_or_used(void)
{
	return virtq_has_used(watched->dev->vq[watched->q]) ||
	       (virtio_status(watched->dev) & VIRTIO_CONFIG_S_NEEDS_RESET);
}

/*
 * One case on one device: NULL when it passed (or *skip says why it did not
 * apply); *broken when the device did not work again after a reset.
 */
static const char *run_case(struct target *t, enum hostile_case c, const char **skip,
			    bool *broken)
{
	uint8_t vector = t->dev->vector[0];
	uint32_t before = virtio_irqs(vector);
	const char *err;
	uint8_t status;

	if (!inject(t, c, skip))
		return NULL;
	watched = t;
	wait_until(flagged_or_used, DETECT_NS);
	status = virtio_status(t->dev);
	if (!(status & VIRTIO_CONFIG_S_NEEDS_RESET))
		err = virtq_has_used(t->dev->vq[t->q]) ?
		      "no DEVICE_NEEDS_RESET: the device completed the request" :
		      "no DEVICE_NEEDS_RESET in 1 s";
	else if (!virtio_interrupt_seen(vector, before, IRQ_WAIT_NS))
		err = "DEVICE_NEEDS_RESET without a configuration change interrupt";
	else
		err = NULL;
	const char *again = reopen(t);

	if (!again)
		again = legit_request(t);
	*broken = again != NULL;
	if (again && !err) {
		snprintf(reason, sizeof(reason), "after reset: %s", again);
		err = reason;
	}
	return err;
}

/* Every case on one device; the number that failed, or -1 when the device never worked. */
static int test_device(struct target *t)
{
	const char *err;
	int failed = 0;

	if ((err = reopen(t)) || (err = legit_request(t))) {
		snprintf(reason, sizeof(reason), "%s %u: before any case: %s", kind_names[t->kind],
			 t->n, err);
		return -1;
	}
	t->q = t->kind == KIND_NET ? NET_TXQ : 0;
	for (int c = 0; c < NR_CASES; c++) {
		const char *skip = NULL;
		bool broken = false;

		err = run_case(t, c, &skip, &broken);
		if (skip)
			printf("virtio-hostile %s %u %s: skipped (%s)\n", kind_names[t->kind], t->n,
			       case_names[c], skip);
		else if (err)
			printf("virtio-hostile %s %u %s: FAIL (%s)\n", kind_names[t->kind], t->n,
			       case_names[c], err);
		else
			printf("virtio-hostile %s %u %s: ok\n", kind_names[t->kind], t->n,
			       case_names[c]);
		failed += err != NULL;
		if (broken)
			return failed;  /* the device could not be brought back: the rest would say nothing */
	}
	for (int c = 0; c < NR_SESSION_CASES; c++) {
		err = run_session_case(t, c);
		printf("virtio-hostile %s %u %s: %s%s%s\n", kind_names[t->kind], t->n, session_names[c],
		       err ? "FAIL (" : "ok", err ? err : "", err ? ")" : "");
		if (err)
			return failed + 1;
	}
	return failed;
}

static const char *test_virtio_hostile(void)
{
	const unsigned counts[] = { blk_count(), rng_count(), net_count() };
	unsigned devices = 0, failed = 0;
	uint64_t seed;
	const char *err;

	if ((err = blk_pattern_seed(&seed)))
		return err;
	for (int kind = KIND_BLK; kind <= KIND_NET; kind++) {
		for (unsigned n = 0; n < counts[kind]; n++) {
			struct target t = { .kind = kind, .n = n, .seed = seed };
			int result = test_device(&t);

			if (result < 0)
				return reason;
			failed += (unsigned)result;
			devices++;
		}
	}
	if (devices == 0)
		return "no virtio device";
	if (failed) {
		snprintf(reason, sizeof(reason), "%u cases failed", failed);
		return reason;
	}
	return NULL;
}

GUEST_TEST("virtio-hostile", test_virtio_hostile);

/* The re-publish storm on disk 0, until the VMM is stopped: it must still stop in time. */
static const char *test_virtio_storm(void)
{
	struct target t = { .kind = KIND_BLK };
	const char *err;
	uint16_t a, b;

	if ((err = reopen(&t)))
		return err;
	printf("virtio-storm: storming\n");
	for (;;) {
		storm_chains(&t, &a, &b);
		storm(&t, a, b, STORM_NS, true);
		if ((err = reopen(&t)))
			return err;
	}
}

GUEST_TEST("virtio-storm", test_virtio_storm);
