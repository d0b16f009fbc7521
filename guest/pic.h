/* Legacy 8259 PICs: unused, so silenced. */
#ifndef RINGVM_GUEST_PIC_H
#define RINGVM_GUEST_PIC_H

/* Masks every 8259 input; harmless where the VMM has no PIC. */
void pic_mask_all(void);

#endif
