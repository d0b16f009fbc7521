/* Application processors: started with INIT-SIPI-SIPI, each reports in once and halts. */
#ifndef RINGVM_GUEST_SMP_H
#define RINGVM_GUEST_SMP_H

/* Sends INIT-SIPI-SIPI to every AP cpus.c lists (only the first call does); NULL or why not. */
const char *smp_start_aps(void);

/* APs that have reported in, including unexpected ones. */
unsigned smp_aps_online(void);

/* How many times the CPU with logical index reported in. */
unsigned smp_reports(unsigned index);

/* APs whose APIC ID is not one cpus.c lists (or is the BSP's). */
unsigned smp_unexpected(void);

/* C entry of an AP in long mode, on its own stack (entry.S). */
_Noreturn void ap_main(void);

#endif
