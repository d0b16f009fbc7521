/* An address space (port I/O or MMIO) mapping ranges to device callbacks. */
#ifndef RINGVM_BUS_H
#define RINGVM_BUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A device's handler: offset is relative to the region's base; data holds len bytes. */
typedef void (*bus_access_fn)(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
			      bool is_write);

struct bus_region {
	uint64_t base;
	uint64_t last;          /* inclusive, so a region may end at UINT64_MAX */
	bus_access_fn access;
	void *opaque;
	const char *name;
};

struct bus {
	pthread_rwlock_t lock;  /* regions may change while vCPUs run (PCI BARs) */
	struct bus_region *regions;  /* sorted by base, never overlapping */
	size_t count, capacity;
	const char *name;
};

/* Initializes an empty bus. */
void bus_init(struct bus *bus, const char *name);

/* Frees the bus's table; the devices are their owners' to free. */
void bus_destroy(struct bus *bus);

/* Maps [base, base+len) to access; -EINVAL for an empty or wrapping range, -EEXIST on overlap. */
int bus_register(struct bus *bus, uint64_t base, uint64_t len, bus_access_fn access,
		 void *opaque, const char *name);

/* Removes the region that starts at base; -ENOENT if there is none. */
int bus_unregister(struct bus *bus, uint64_t base);

/* Calls the handler of the region holding the whole access; false if none does. */
bool bus_dispatch(struct bus *bus, uint64_t addr, uint8_t *data, uint32_t len, bool is_write);

/* Looks up the region holding addr (copied out); false if none. */
bool bus_find(struct bus *bus, uint64_t addr, struct bus_region *out);

/*
 * Devices whose registers are aligned dwords: true for such an access (*value holds a
 * write's data); any other is ignored, a read returning all ones, and gives false.
 */
bool bus_dword_begin(uint64_t offset, uint8_t *data, uint32_t len, bool is_write, uint32_t *value);

/* Ends a dword access begun above: a read returns value. */
void bus_dword_end(uint8_t *data, bool is_write, uint32_t value);

#endif
