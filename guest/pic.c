#include "pic.h"

#include "cpu.h"

#define PIC_MASTER_DATA 0x21
#define PIC_SLAVE_DATA  0xa1

/*
 * Nobody initialized the PICs, so a PIT tick routed through LINT0 would arrive
 * on whatever vector they hold, possibly one that looks like an exception.
 */
void pic_mask_all(void)
{
	outb(PIC_MASTER_DATA, 0xff);
	outb(PIC_SLAVE_DATA, 0xff);
}
