/* input: the first line typed on the console arrives through the receive interrupt. */
#include "cpus.h"
#include "ioapic.h"
#include "layout.h"
#include "printf.h"
#include "serial.h"
#include "test.h"
#include "timer.h"

#define INPUT_TIMEOUT_NS (10 * NS_PER_S)

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
	length = 0;
	complete = false;
	ioapic_route(AM_COM1_IRQ, VEC_ISA_BASE + AM_COM1_IRQ, cpu_apic_id());
	serial_set_interrupts(UART_IER_RDI);
	serial_drain_rx();  /* bytes that arrived before the interrupt was on */
	bool ok = wait_until(line_complete, INPUT_TIMEOUT_NS);

	serial_set_interrupts(0);
	ioapic_mask(AM_COM1_IRQ);
	if (!ok)
		return "no line within 10 s";
	line[length] = '\0';
	printf("input: %s\n", line);
	return NULL;
}

GUEST_TEST("input", test_input);
