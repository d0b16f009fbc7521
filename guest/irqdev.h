/*
 * The irq-test device (ringvm only): two channels, each raising one interrupt
 * per doorbell, by a host path and a source the guest configures. The
 * handlers that count the interrupts are isr.S's; this header is also
 * included there, for the registers (abi/irq_test.h, shared with the VMM).
 */
#ifndef RINGVM_GUEST_IRQDEV_H
#define RINGVM_GUEST_IRQDEV_H

#include "abi/irq_test.h"

#define IRQDEV_PIN0           IRQ_TEST_FIRST_PIN    /* channel 0's IOAPIC pin; channel 1 the next */

#ifndef __ASSEMBLER__

#include <stdint.h>

#include "cpu.h"

#define IRQDEV_CHANNELS       IRQ_TEST_CHANNELS
#define IRQDEV_NOT_OBSERVABLE IRQ_TEST_NOT_OBSERVABLE

enum irqdev_path {
	IRQDEV_LIMIT = IRQ_TEST_PATH_LIMIT, IRQDEV_LINKED = IRQ_TEST_PATH_LINKED,
	IRQDEV_IRQFD = IRQ_TEST_PATH_IRQFD, IRQDEV_MSI = IRQ_TEST_PATH_MSI,
	IRQDEV_LINE = IRQ_TEST_PATH_LINE, IRQDEV_LOCAL = IRQ_TEST_PATH_LOCAL,
	IRQDEV_EXTERNAL = IRQ_TEST_PATH_EXTERNAL, IRQDEV_NR_PATHS = IRQ_TEST_PATHS
};

enum irqdev_source {
	IRQDEV_SRC_MSI = IRQ_TEST_SOURCE_MSI, IRQDEV_SRC_EDGE = IRQ_TEST_SOURCE_EDGE,
	IRQDEV_SRC_LEVEL = IRQ_TEST_SOURCE_LEVEL, IRQDEV_NR_SOURCES = IRQ_TEST_SOURCES
};

enum irqdev_status {
	IRQDEV_OK = IRQ_TEST_OK, IRQDEV_BAD_CHANNEL = IRQ_TEST_BAD_CHANNEL,
	IRQDEV_UNSUPPORTED = IRQ_TEST_UNSUPPORTED, IRQDEV_HOST_ERROR = IRQ_TEST_HOST_ERROR
};

/* Interrupts isr.S's handlers took per channel; tests zero them before each run. */
extern volatile uint32_t irqdev_count[IRQDEV_CHANNELS];

/* Level interrupts isr.S's handlers took while their line was down, per channel. */
extern volatile uint32_t irqdev_spurious[IRQDEV_CHANNELS];

/* The TSC as the VEC_IRQDEV_TSC handlers entered, for the last interrupt counted. */
extern volatile uint64_t irqdev_tsc;

/* Names as the command line and the report spell them, indexed by enum. */
extern const char *const irqdev_path_names[IRQDEV_NR_PATHS];
extern const char *const irqdev_source_names[IRQDEV_NR_SOURCES];

/* NULL when the device answers, else why it cannot be used. */
const char *irqdev_probe(void);

/*
 * Has channel raise vector on this CPU by path from source; returns STATUS.
 * A pin source's IOAPIC pin is routed (unmasked) once the device accepted.
 */
uint32_t irqdev_config(unsigned channel, enum irqdev_path path, enum irqdev_source source,
		       uint8_t vector);

/* Masks the channel's IOAPIC pin, so nothing it raises later arrives. */
void irqdev_unroute(unsigned channel);

/* Takes interrupts for a while (20 ms), so that late or doubled ones show in the counts. */
void irqdev_settle(void);

/*
 * NULL when channel's handler counted rung interrupts and the host raised as
 * many (or cannot tell), else the counts and what they suggest.
 */
const char *irqdev_check(unsigned channel, uint32_t rung);

/* What a STATUS other than IRQDEV_OK means, for a failure message. */
const char *irqdev_status_text(uint32_t status);

#define IRQDEV_MAX_PATHS 16     /* in one list */

/* Reads list, comma-separated path names, into paths; NULL or what was wrong with key=list. */
const char *irqdev_parse_paths(const char *key, const char *list, uint8_t *paths,
			       unsigned *count);

/* Requests one interrupt on channel; the value written is ignored. */
static inline void irqdev_ring(unsigned channel)
{
	outl((uint16_t)IRQ_TEST_REG(IRQ_TEST_DOORBELL0 + 4 * channel), 0);
}

/* Interrupts the host raised on channel since its CONFIG, or IRQDEV_NOT_OBSERVABLE. */
static inline uint32_t irqdev_raised(unsigned channel)
{
	return inl((uint16_t)IRQ_TEST_REG(IRQ_TEST_RAISED0 + 4 * channel));
}

#endif
#endif
