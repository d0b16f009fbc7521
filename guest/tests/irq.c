/*
 * irq: over every host path the VM supports, the irq-test device raises MSI,
 * IOAPIC-edge and IOAPIC-level interrupts from both channels at once (two
 * host threads). Each must arrive exactly once: as many as the guest asked
 * for, as many as the host raised, none without a request outstanding.
 *
 * The loop below runs once per pair of interrupts, so it does as little as
 * it can: isr.S's handlers only count, and lost, doubled or spurious
 * interrupts show when the counts stop matching the doorbells rung (a stall,
 * or a difference once the last round settled), not by a check per interrupt.
 * A level line may interrupt spuriously, as on real hardware: those the
 * handler finds with the line down are counted apart and reported.
 */
#include <stdbool.h>
#include <stdint.h>

#include "cmdline.h"
#include "cpu.h"
#include "irqdev.h"
#include "layout.h"
#include "printf.h"
#include "test.h"
#include "timer.h"

#define DEFAULT_PATHS "limit,linked,irqfd,msi,line,local"  /* external is bench/irqlat's */
#define DEFAULT_COUNT 100000
#define MAX_COUNT     1000000000
#define STALL_NS      (1 * NS_PER_S)    /* no round completed in this long: stuck */

static const uint8_t vectors[IRQDEV_NR_SOURCES][IRQDEV_CHANNELS] = {
	[IRQDEV_SRC_MSI] = { VEC_IRQDEV_EDGE, VEC_IRQDEV_EDGE + 1 },
	[IRQDEV_SRC_EDGE] = { VEC_IRQDEV_EDGE, VEC_IRQDEV_EDGE + 1 },
	[IRQDEV_SRC_LEVEL] = { VEC_IRQDEV_LEVEL, VEC_IRQDEV_LEVEL + 1 },
};

static char reason[200];

/* One PATH SOURCE combination under way. */
struct run {
	const char *path, *source;
	uint32_t rung[IRQDEV_CHANNELS];     /* doorbells so far */
};

/* Explains counts that differ from the doorbells rung; NULL when both channels match. */
static const char *check_counts(const struct run *run, const char *when)
{
	for (unsigned ch = 0; ch < IRQDEV_CHANNELS; ch++) {
		const char *diff = irqdev_check(ch, run->rung[ch]);

		if (diff) {
			snprintf(reason, sizeof(reason), "%s %s: %s: %s", run->path, run->source,
				 when, diff);
			return reason;
		}
	}
	return NULL;
}

/* True while an interrupt asked for has not arrived. */
static inline bool waiting(uint32_t want0, uint32_t want1)
{
	return irqdev_count[0] != want0 || irqdev_count[1] != want1;
}

/*
 * Rings channel 0 (and 1 if both) rounds times, each time halting until
 * every interrupt asked for arrived; NULL or why it stopped. Interrupts stay
 * unmasked but to check before halting, so they are taken as they come.
 * Forced inline so that each caller's loop has no test of both.
 */
static inline __attribute__((always_inline)) const char *
drive(struct run *run, uint32_t rounds, bool both)
{
	uint32_t want0 = run->rung[0], want1 = run->rung[1];
	uint32_t progress = 0;  /* r when the stall timeout last started */
	const char *err = NULL;

	timeout_start(STALL_NS);
	irq_enable();
	for (uint32_t r = 0; r < rounds && !err; r++) {
		irqdev_ring(0);
		want0++;
		if (both) {
			irqdev_ring(1);
			want1++;
		}
		while (waiting(want0, want1)) {
			if (timeout_expired()) {
				if (r == progress) {
					err = "no progress for 1 s";
					break;
				}
				progress = r;
				timeout_start(STALL_NS);
			}
			irq_disable();
			if (waiting(want0, want1))
				irq_enable_and_halt();
			else
				irq_enable();
		}
	}
	irq_disable();
	timeout_stop();
	run->rung[0] = want0;
	run->rung[1] = want1;
	if (err && !(err = check_counts(run, err)))
		err = "stalled, then every interrupt arrived";  /* just as the timeout ran out */
	return err;
}

/* One PATH SOURCE combination: count interrupts split between the channels. */
static const char *run_combination(enum irqdev_path path, enum irqdev_source source,
				   uint32_t count)
{
	struct run run = { irqdev_path_names[path], irqdev_source_names[source], { 0, 0 } };
	const char *err = NULL;

	/* First: whatever configuring raises is counted. */
	irqdev_count[0] = irqdev_count[1] = irqdev_spurious[0] = irqdev_spurious[1] = 0;
	for (unsigned ch = 0; ch < IRQDEV_CHANNELS && !err; ch++) {
		uint32_t status = irqdev_config(ch, path, source, vectors[source][ch]);

		if (status == IRQDEV_UNSUPPORTED) {
			printf("irq %s %s: skipped (%s)\n", run.path, run.source,
			       irqdev_status_text(status));
			goto out;
		}
		if (status != IRQDEV_OK) {
			snprintf(reason, sizeof(reason), "%s %s channel %u: CONFIG status %u (%s)",
				 run.path, run.source, ch, status, irqdev_status_text(status));
			err = reason;
		}
	}
	if (!err)
		err = drive(&run, count / 2, true);
	if (!err && count % 2)
		err = drive(&run, 1, false);
	if (!err) {
		irqdev_settle();
		err = check_counts(&run, "after the last round");
	}
	if (!err && source == IRQDEV_SRC_LEVEL)
		printf("irq %s %s: %u ok, %u spurious\n", run.path, run.source, count,
		       irqdev_spurious[0] + irqdev_spurious[1]);
	else if (!err)
		printf("irq %s %s: %u ok\n", run.path, run.source, count);
out:
	for (unsigned ch = 0; ch < IRQDEV_CHANNELS; ch++)
		irqdev_unroute(ch);
	return err;
}

static const char *test_irq(void)
{
	const char *list = cmdline_get("irq.paths");
	uint32_t count = DEFAULT_COUNT;
	uint8_t paths[IRQDEV_MAX_PATHS];
	unsigned nr_paths;
	const char *err;

	if ((err = irqdev_parse_paths("irq.paths", list ? list : DEFAULT_PATHS, paths,
				      &nr_paths)) ||
	    (err = cmdline_get_uint("irq.count", MAX_COUNT, &count)))
		return err;
	if (count == 0)
		return "irq.count= must be at least 1";
	if ((err = irqdev_probe()))
		return err;
	for (unsigned i = 0; i < nr_paths; i++)
		for (int source = 0; source < IRQDEV_NR_SOURCES; source++)
			if ((err = run_combination(paths[i], source, count)))
				return err;
	return NULL;
}

GUEST_TEST("irq", test_irq);
