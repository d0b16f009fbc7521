/*
 * irqlat: the guest side of bench/irqlat. For each path asked for, the TSC
 * is read just before ringing channel 0's doorbell and again on entry to the
 * interrupt handler (isr.S); the differences go into a log-linear histogram
 * printed in the format README's "irqlat output" gives.
 */
#include <stdbool.h>
#include <stdint.h>

#include "cmdline.h"
#include "cpu.h"
#include "histogram.h"
#include "irqdev.h"
#include "layout.h"
#include "printf.h"
#include "test.h"
#include "timer.h"

#define DEFAULT_PATHS   "limit,linked,irqfd,msi,line,local"
#define DEFAULT_SAMPLES 100000
#define DEFAULT_WARMUP  1000
#define MAX_SAMPLES     1000000000     /* warmup + samples fits in 32 bits */
#define STALL_NS        (1 * NS_PER_S)

enum wait_mode { WAIT_HLT, WAIT_SPIN };

static const char *const wait_modes[] = { "hlt", "spin" };

static struct histogram hist;   /* 7.5 KiB: static, not on the stack */
static char reason[200];

/*
 * Rings channel 0 total times, recording the round trips after the first
 * warmup into hist; returns the doorbells rung, fewer than total if an
 * interrupt did not arrive. Interrupts stay unmasked (but to check before
 * halting), so the handler runs the moment the interrupt is injected, even
 * on the path (local) that injects it on return from the doorbell's exit.
 * Forced inline so that each wait mode gets a loop of its own.
 */
static inline __attribute__((always_inline)) uint32_t
measure(uint32_t total, uint32_t warmup, enum wait_mode mode)
{
	uint32_t i, progress = 0;   /* i when the stall timeout last started */

	timeout_start(STALL_NS);
	irq_enable();
	for (i = 0; i < total; i++) {
		uint32_t want = i + 1;
		uint64_t start = rdtsc();

		irqdev_ring(0);
		while (irqdev_count[0] != want) {
			if (timeout_expired()) {
				if (i == progress)
					goto stalled;
				progress = i;
				timeout_start(STALL_NS);
			}
			if (mode == WAIT_SPIN) {
				cpu_relax();
				continue;
			}
			irq_disable();
			if (irqdev_count[0] != want)
				irq_enable_and_halt();
			else
				irq_enable();
		}
		if (i >= warmup)
			histogram_add(&hist, irqdev_tsc - start);
	}
	irq_disable();
	timeout_stop();
	return total;
stalled:
	irq_disable();
	timeout_stop();
	return i + 1;
}

static void print_histogram(const char *path_name, const char *source_name)
{
	histogram_print_buckets(&hist, "irqlat");
	if (irqdev_spurious[0])
		printf("irqlat spurious %s %s %u\n", path_name, source_name, irqdev_spurious[0]);
	printf("irqlat end %s %s min %lu max %lu\n", path_name, source_name, hist.min, hist.max);
}

static const char *run_source(enum irqdev_path path, enum irqdev_source source,
			      uint32_t warmup, uint32_t samples, enum wait_mode mode)
{
	const char *path_name = irqdev_path_names[path];
	const char *source_name = irqdev_source_names[source];
	uint8_t vector = source == IRQDEV_SRC_LEVEL ? VEC_IRQDEV_TSC_LEVEL : VEC_IRQDEV_TSC;
	uint32_t total = warmup + samples, rung;
	const char *diff;

	irqdev_count[0] = irqdev_spurious[0] = 0;  /* first: whatever configuring raises counts */
	uint32_t status = irqdev_config(0, path, source, vector);

	if (status == IRQDEV_UNSUPPORTED) {
		printf("irqlat skip %s %s (%s)\n", path_name, source_name,
		       irqdev_status_text(status));
		return NULL;
	}
	if (status != IRQDEV_OK) {
		irqdev_unroute(0);
		snprintf(reason, sizeof(reason), "%s %s: CONFIG status %u (%s)", path_name,
			 source_name, status, irqdev_status_text(status));
		return reason;
	}
	printf("irqlat begin %s %s samples %u warmup %u\n", path_name, source_name, samples,
	       warmup);
	histogram_clear(&hist);
	rung = mode == WAIT_SPIN ? measure(total, warmup, WAIT_SPIN) :
				   measure(total, warmup, WAIT_HLT);
	if (rung == total)
		irqdev_settle();
	diff = irqdev_check(0, rung);
	irqdev_unroute(0);
	if (diff || rung < total) {
		snprintf(reason, sizeof(reason), "%s %s: %s: %s", path_name, source_name,
			 rung < total ? "no progress for 1 s" : "after the last sample",
			 diff ? diff : "stalled, then every interrupt arrived");
		return reason;
	}
	print_histogram(path_name, source_name);
	return NULL;
}

/* MSI on every path; the IOAPIC pins too on line, the path made for them. */
static const char *run_path(enum irqdev_path path, uint32_t warmup, uint32_t samples,
			    enum wait_mode mode)
{
	const char *err = run_source(path, IRQDEV_SRC_MSI, warmup, samples, mode);

	if (!err && path == IRQDEV_LINE)
		err = run_source(path, IRQDEV_SRC_EDGE, warmup, samples, mode);
	if (!err && path == IRQDEV_LINE)
		err = run_source(path, IRQDEV_SRC_LEVEL, warmup, samples, mode);
	return err;
}

static const char *test_irqlat(void)
{
	const char *list = cmdline_get("irqlat.paths");
	uint32_t warmup = DEFAULT_WARMUP, samples = DEFAULT_SAMPLES;
	unsigned mode = WAIT_HLT;
	uint8_t paths[IRQDEV_MAX_PATHS];
	unsigned nr_paths;
	const char *err;

	if ((err = irqdev_parse_paths("irqlat.paths", list ? list : DEFAULT_PATHS, paths,
				      &nr_paths)) ||
	    (err = cmdline_get_uint("irqlat.samples", MAX_SAMPLES, &samples)) ||
	    (err = cmdline_get_uint("irqlat.warmup", MAX_SAMPLES, &warmup)) ||
	    (err = cmdline_get_choice("irqlat.wait", wait_modes, 2, &mode)))
		return err;
	if (samples == 0)
		return "irqlat.samples= must be at least 1";
	if ((err = irqdev_probe()))
		return err;
	printf("irqlat tsc_khz %u\n", timer_tsc_khz());
	for (unsigned i = 0; i < nr_paths; i++)
		if ((err = run_path(paths[i], warmup, samples, mode)))
			return err;
	return NULL;
}

GUEST_TEST("irqlat", test_irqlat);
