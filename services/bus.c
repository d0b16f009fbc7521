#include "services/bus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void bus_init(struct bus *bus, const char *name)
{
	*bus = (struct bus){ .name = name };
	pthread_rwlock_init(&bus->lock, NULL);
}

void bus_destroy(struct bus *bus)
{
	free(bus->regions);
	bus->regions = NULL;
	bus->count = bus->capacity = 0;
	pthread_rwlock_destroy(&bus->lock);
}

/* Index of the first region whose last address is >= addr (binary search). */
static size_t bus_lower_bound(const struct bus *bus, uint64_t addr)
{
	size_t lo = 0, hi = bus->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (bus->regions[mid].last < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int bus_register(struct bus *bus, uint64_t base, uint64_t len, bus_access_fn access,
		 void *opaque, const char *name)
{
	if (!len || !access || base + (len - 1) < base)
		return -EINVAL;
	uint64_t last = base + (len - 1);
	int r = 0;

	pthread_rwlock_wrlock(&bus->lock);
	size_t i = bus_lower_bound(bus, base);
	if (i < bus->count && bus->regions[i].base <= last) {
		r = -EEXIST;
		goto out;
	}
	if (bus->count == bus->capacity) {
		size_t cap = bus->capacity ? bus->capacity * 2 : 16;
		struct bus_region *grown = realloc(bus->regions, cap * sizeof(*grown));
		if (!grown) {
			r = -ENOMEM;
			goto out;
		}
		bus->regions = grown;
		bus->capacity = cap;
	}
	memmove(&bus->regions[i + 1], &bus->regions[i], (bus->count - i) * sizeof(bus->regions[0]));
	bus->regions[i] = (struct bus_region){
		.base = base, .last = last, .access = access, .opaque = opaque, .name = name,
	};
	bus->count++;
out:
	pthread_rwlock_unlock(&bus->lock);
	return r;
}

int bus_unregister(struct bus *bus, uint64_t base)
{
	int r = -ENOENT;

	pthread_rwlock_wrlock(&bus->lock);
	size_t i = bus_lower_bound(bus, base);
	if (i < bus->count && bus->regions[i].base == base) {
		memmove(&bus->regions[i], &bus->regions[i + 1],
			(bus->count - i - 1) * sizeof(bus->regions[0]));
		bus->count--;
		r = 0;
	}
	pthread_rwlock_unlock(&bus->lock);
	return r;
}

bool bus_find(struct bus *bus, uint64_t addr, struct bus_region *out)
{
	bool found = false;

	pthread_rwlock_rdlock(&bus->lock);
	size_t i = bus_lower_bound(bus, addr);
	if (i < bus->count && bus->regions[i].base <= addr) {
		*out = bus->regions[i];
		found = true;
	}
	pthread_rwlock_unlock(&bus->lock);
	return found;
}

bool bus_dispatch(struct bus *bus, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	struct bus_region region;

	if (!len || addr + (len - 1) < addr || !bus_find(bus, addr, &region))
		return false;
	/* An access straddling the region's end belongs to no device. */
	if (addr + (len - 1) > region.last)
		return false;
	/*
	 * The handler runs without the lock so that it may itself remap regions
	 * (a BAR write); devices live as long as the VM, so the copy stays valid.
	 */
	region.access(region.opaque, addr - region.base, data, len, is_write);
	return true;
}

bool bus_dword_begin(uint64_t offset, uint8_t *data, uint32_t len, bool is_write, uint32_t *value)
{
	*value = 0;
	if (len != 4 || (offset & 3)) {
		if (!is_write)
			memset(data, 0xff, len);
		return false;
	}
	if (is_write)
		memcpy(value, data, 4);
	return true;
}

void bus_dword_end(uint8_t *data, bool is_write, uint32_t value)
{
	if (!is_write)
		memcpy(data, &value, 4);
}
