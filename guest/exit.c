#include "exit.h"

#include <stdint.h>

#include "abi/address_map.h"
#include "cpu.h"
#include "serial.h"

_Noreturn void guest_exit(int status)
{
	serial_flush();  /* the VMM may stop before a buffered byte leaves */
	outb(AM_PORT_DEBUG_EXIT, (uint8_t)status);
	cpu_park();
}
