#include "firmware/reset_vector.h"

#include <errno.h>
#include <string.h>

#include "devices/reset.h"

/* 16-bit code: the jump Linux makes lands in real mode with CS base 0xf0000. */
static const uint8_t reset_stub[] = {
	0xb0, RESET_CONTROL_RST | RESET_CONTROL_SYS,            /* mov al, imm8 */
	0xba, (uint8_t)AM_PORT_RESET_CONTROL, AM_PORT_RESET_CONTROL >> 8,  /* mov dx, imm16 */
	0xee,                   /* out dx, al */
	0xf4,                   /* 1: hlt */
	0xeb, 0xfd,             /* jmp 1b */
};

int reset_vector_install(struct guest_memory *mem, struct error *err)
{
	uint8_t *at = gpa_to_hva(mem, RESET_VECTOR_ADDR, 16);

	if (!at)
		return error_set(err, ENOSPC, "guest RAM does not reach the reset vector at 0x%llx",
				 (unsigned long long)RESET_VECTOR_ADDR);
	memset(at, 0xf4, 16);   /* hlt: whatever follows the stub stops, never runs on */
	memcpy(at, reset_stub, sizeof(reset_stub));
	return 0;
}
