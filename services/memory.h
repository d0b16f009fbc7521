/* Guest RAM: one anonymous mapping laid out like a PC's around the 32-bit hole (abi/address_map.h). */
#ifndef RINGVM_MEMORY_H
#define RINGVM_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "abi/address_map.h"
#include "services/error.h"

#define MEM_MAX_REGIONS    2

struct mem_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *host;              /* where the region is mapped in ringvm */
};

struct guest_memory {
	uint8_t *host;              /* mapping of all RAM, 2 MiB aligned; NULL when none */
	uint64_t size;              /* bytes of RAM */
	unsigned nr_regions;
	struct mem_region regions[MEM_MAX_REGIONS];
};

enum e820_type { E820_RAM = 1, E820_RESERVED = 2 };

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

/* Splits size bytes of RAM around the MMIO hole; returns the number of regions. */
unsigned memory_layout(uint64_t size, struct mem_region regions[MEM_MAX_REGIONS]);

/* Describes size bytes of guest RAM without mapping any: enough to check addresses against. */
void guest_memory_layout(struct guest_memory *mem, uint64_t size);

/* Refuses a guest RAM size beyond the host's RAM. */
int memory_check_host(uint64_t size, struct error *err);

/* Maps size bytes of zeroed RAM, huge pages advised (refused beyond the host's RAM). */
int guest_memory_create(struct guest_memory *mem, uint64_t size, struct error *err);

/* Unmaps guest RAM. */
void guest_memory_destroy(struct guest_memory *mem);

/* Host address of [gpa, gpa+len) if it lies wholly in one RAM region, else NULL. */
void *gpa_to_hva(const struct guest_memory *mem, uint64_t gpa, uint64_t len);

/* Fills the guest's physical memory map; returns the entry count (at most max). */
unsigned memory_e820(const struct guest_memory *mem, struct e820_entry *out, unsigned max);

#endif
