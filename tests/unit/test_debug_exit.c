#include <criterion/criterion.h>

#include "abi/address_map.h"
#include "devices/debug_exit.h"
#include "services/bus.h"

static int exits, last_status;

static void record_exit(void *ctx, int status)
{
	(void)ctx;
	exits++;
	last_status = status;
}

static struct debug_exit dev = { .on_exit = record_exit };
static struct bus pio;

/* The port placed as vm.c places it, so that the bus decides which widths arrive. */
static void setup(void)
{
	exits = 0;
	last_status = -1;
	bus_init(&pio, "pio");
	cr_assert_eq(bus_register(&pio, AM_PORT_DEBUG_EXIT, AM_DEBUG_EXIT_PORTS, debug_exit_access, &dev,
				  "debug-exit"), 0);
}

static void teardown(void)
{
	bus_destroy(&pio);
}

TestSuite(debug_exit, .init = setup, .fini = teardown);

static bool out(uint16_t port, uint32_t value, uint32_t len)
{
	return bus_dispatch(&pio, port, (uint8_t *)&value, len, true);
}

Test(debug_exit, byte_write_exits_with_it)
{
	cr_assert(out(AM_PORT_DEBUG_EXIT, 0x29, 1));
	cr_expect_eq(exits, 1);
	cr_expect_eq(last_status, 0x29);
}

Test(debug_exit, word_write_exits_with_its_low_byte)
{
	cr_assert(out(AM_PORT_DEBUG_EXIT, 0x5629, 2), "out 0xf4, ax reaches the device");
	cr_expect_eq(exits, 1);
	cr_expect_eq(last_status, 0x29);
}

Test(debug_exit, dword_write_exits_with_its_low_byte)
{
	/* QEMU's isa-debug-exit,iosize=4: test programs end with out 0xf4, eax. */
	cr_assert(out(AM_PORT_DEBUG_EXIT, 0x12345629, 4), "out 0xf4, eax reaches the device");
	cr_expect_eq(exits, 1);
	cr_expect_eq(last_status, 0x29);
}

Test(debug_exit, writes_inside_the_span_but_not_at_the_port_do_nothing)
{
	out(AM_PORT_DEBUG_EXIT + 1, 0x11, 1);
	out(AM_PORT_DEBUG_EXIT + 2, 0x1122, 2);
	cr_expect_eq(exits, 0);
	cr_expect_not(out(AM_PORT_DEBUG_EXIT + 2, 0x11223344, 4), "straddles the end: nobody's");
	cr_expect_eq(exits, 0);
}

Test(debug_exit, reads_return_zero)
{
	uint32_t v = 0xffffffff;
	cr_assert(bus_dispatch(&pio, AM_PORT_DEBUG_EXIT, (uint8_t *)&v, 4, false));
	cr_expect_eq(v, 0);
	cr_expect_eq(exits, 0);
}
