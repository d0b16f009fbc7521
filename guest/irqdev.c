#include "irqdev.h"

#include <stdbool.h>

#include "cpus.h"
#include "ioapic.h"
#include "printf.h"
#include "timer.h"

#define INFO_ABSENT 0xffffffffu     /* what a port nobody decodes reads as */
#define SETTLE_NS   (20 * NS_PER_MS)

volatile uint32_t irqdev_count[IRQDEV_CHANNELS];
volatile uint32_t irqdev_spurious[IRQDEV_CHANNELS];
volatile uint64_t irqdev_tsc;

const char *const irqdev_path_names[IRQDEV_NR_PATHS] = {
	"limit", "linked", "irqfd", "msi", "line", "local", "external",
};

const char *const irqdev_source_names[IRQDEV_NR_SOURCES] = {
	"msi", "ioapic-edge", "ioapic-level",
};

const char *irqdev_probe(void)
{
	if (inl(IRQ_TEST_REG(IRQ_TEST_INFO)) == INFO_ABSENT)
		return "irq-test device absent (its INFO port reads 0xffffffff)";
	return NULL;
}

uint32_t irqdev_config(unsigned channel, enum irqdev_path path, enum irqdev_source source,
		       uint8_t vector)
{
	uint8_t dest = cpu_apic_id();
	unsigned pin = IRQDEV_PIN0 + channel;
	uint32_t status;

	outl(IRQ_TEST_REG(IRQ_TEST_CONFIG), channel | (uint32_t)path << IRQ_TEST_PATH_SHIFT |
					    (uint32_t)source << IRQ_TEST_SOURCE_SHIFT |
					    (uint32_t)vector << IRQ_TEST_VECTOR_SHIFT |
					    (uint32_t)pin << IRQ_TEST_PIN_SHIFT |
					    (uint32_t)dest << IRQ_TEST_DEST_SHIFT);
	status = inl(IRQ_TEST_REG(IRQ_TEST_CONFIG));
	if (status == IRQDEV_OK && source == IRQDEV_SRC_EDGE)
		ioapic_route(pin, vector, dest);
	else if (status == IRQDEV_OK && source == IRQDEV_SRC_LEVEL)
		ioapic_route_level(pin, vector, dest);
	return status;
}

void irqdev_unroute(unsigned channel)
{
	ioapic_mask(IRQDEV_PIN0 + channel);
}

static bool never(void)
{
	return false;
}

void irqdev_settle(void)
{
	wait_until(never, SETTLE_NS);
}

const char *irqdev_check(unsigned channel, uint32_t rung)
{
	static char reason[100];
	uint32_t got = irqdev_count[channel], raised = irqdev_raised(channel);
	int n;

	if (got == rung && (raised == IRQDEV_NOT_OBSERVABLE || raised == rung))
		return NULL;
	n = snprintf(reason, sizeof(reason), "channel %u: %u interrupts for %u doorbells", channel,
		     got, rung);
	if (raised != IRQDEV_NOT_OBSERVABLE && (unsigned)n < sizeof(reason))
		n += snprintf(reason + n, sizeof(reason) - (unsigned)n, ", host raised %u", raised);
	if ((unsigned)n < sizeof(reason))
		snprintf(reason + n, sizeof(reason) - (unsigned)n, " (%s)",
			 got > rung ? "spurious or doubled" : got < rung ? "lost" :
			 "host count differs");
	return reason;
}

const char *irqdev_status_text(uint32_t status)
{
	switch (status) {
	case IRQDEV_BAD_CHANNEL:
		return "bad channel";
	case IRQDEV_UNSUPPORTED:
		return "unsupported in this configuration";
	case IRQDEV_HOST_ERROR:
		return "host error";
	default:
		return "unknown status";
	}
}

/* The path named by the len characters at name, or -1. */
static int path_by_name(const char *name, unsigned len)
{
	for (int path = 0; path < IRQDEV_NR_PATHS; path++) {
		const char *known = irqdev_path_names[path];
		unsigned i = 0;

		while (i < len && known[i] == name[i])
			i++;
		if (i == len && !known[i])
			return path;
	}
	return -1;
}

const char *irqdev_parse_paths(const char *key, const char *list, uint8_t *paths,
			       unsigned *count)
{
	static char reason[80];

	*count = 0;
	while (*list) {
		const char *name = list;
		unsigned len = 0;

		while (name[len] && name[len] != ',')
			len++;
		list = name[len] ? name + len + 1 : name + len;
		if (len == 0)
			continue;  /* tolerate "a,,b" and a trailing comma */
		int path = path_by_name(name, len);

		if (path < 0 || *count == IRQDEV_MAX_PATHS) {
			snprintf(reason, sizeof(reason), "%s: %s at \"%s\"", key,
				 path < 0 ? "unknown path" : "more than 16 paths", name);
			return reason;
		}
		paths[(*count)++] = (uint8_t)path;
	}
	return NULL;
}
