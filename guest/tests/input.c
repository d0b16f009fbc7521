/* input: the first line typed on the console arrives through the receive interrupt. */
#include "cmdline.h"
#include "cpus.h"
#include "ioapic.h"
#include "layout.h"
#include "printf.h"
#include "serial.h"
#include "test.h"
#include "timer.h"

/* How long the line may take, in seconds: input.timeout=S (tests that look around first). */
#define INPUT_TIMEOUT_S   10
#define INPUT_TIMEOUT_MAX 3600

static char line[128];
static unsigned length;
static bool complete;

/* Takes buffered bytes into line until CR or LF; longer lines are cut. */
static bool line_complete(void)
{
	int c;

	while (!complete && (c = serial_getc()) >= 0) {
		if (c == '\r' || c == '\n')
			complete = true;
		else if (length < sizeof(line) - 1)
			line[length++] = (char)c;
	}
	return complete;
}

static const char *test_input(void)
{
	uint32_t seconds = INPUT_TIMEOUT_S;
	const char *bad = cmdline_get_uint("input.timeout", INPUT_TIMEOUT_MAX, &seconds);

	if (bad)
		return bad;
	length = 0;
	complete = false;
	ioapic_route(AM_COM1_IRQ, VEC_ISA_BASE + AM_COM1_IRQ, cpu_apic_id());
	serial_set_interrupts(UART_IER_RDI);
	serial_drain_rx();  /* bytes that arrived before the interrupt was on */
	bool ok = wait_until(line_complete, (uint64_t)seconds * NS_PER_S);

	serial_set_interrupts(0);
	ioapic_mask(AM_COM1_IRQ);
	if (!ok) {
		printf("input: no line within %u s\n", seconds);
		return "no line in time";
	}
	line[length] = '\0';
	printf("input: %s\n", line);
	return NULL;
}

GUEST_TEST("input", test_input);
