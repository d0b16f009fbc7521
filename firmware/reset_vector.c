#include "firmware/reset_vector.h"

#include <errno.h>
#include <string.h>

/* 16-bit code: the jump Linux makes lands in real mode with CS base 0xf0000. */
static const uint8_t reset_stub[] = {
	0xb0, 0x06,             /* mov al, RST_CPU | SYS_RST */
	0xba, 0xf9, 0x0c,       /* mov dx, 0xcf9 */
	0xee,                   /* out dx, al */
	0xf4,                   /* 1: hlt */
	0xeb, 0xfd,             /* jmp 1b */
};

int reset_vector_install(struct guest_memory *mem, struct error *err)
{
	uint8_t *at = gpa_to_hva(mem, RESET_VECTOR_ADDR, 16);

	if (!at)
		return error_set(err, ENOSPC, "guest RAM does not reach the reset vector at 0x%x",
				 RESET_VECTOR_ADDR);
	memset(at, 0xf4, 16);   /* hlt: whatever follows the stub stops, never runs on */
	memcpy(at, reset_stub, sizeof(reset_stub));
	return 0;
}
