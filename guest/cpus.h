/* How many CPUs the VMM gave us and which APIC ID each has, from CPUID. */
#ifndef RINGVM_GUEST_CPUS_H
#define RINGVM_GUEST_CPUS_H

#include <stdint.h>

/* Reads the topology: leaf 0xB's core level, else leaf 1 EBX[23:16]. */
void cpus_detect(void);

/* Logical CPUs in the package (at most MAX_CPUS). */
unsigned cpus_count(void);

/* APIC ID of logical CPU index (0 <= index < cpus_count()). */
uint8_t cpus_apic_id(unsigned index);

/* Logical index of the CPU with apic_id, or -1 if it is not one of cpus_count(). */
int cpus_index_of(uint8_t apic_id);

/* The calling CPU's initial APIC ID (leaf 1 EBX[31:24]). */
uint8_t cpu_apic_id(void);

#endif
