#include "irq/ioapic.h"

#include <string.h>

#include "abi/address_map.h"
#include "services/bus.h"

#define IOAPIC_REG_SELECT   0x00
#define IOAPIC_REG_WINDOW   0x10
#define IOAPIC_REG_EOI      0x40     /* version 0x20 and later */
#define IOAPIC_ID           0x00
#define IOAPIC_VERSION      0x01
#define IOAPIC_ARB          0x02
#define IOAPIC_REDIR_BASE   0x10
#define IOAPIC_VERSION_VALUE (((IOAPIC_PINS - 1) << 16) | 0x20)

#define REDIR_VECTOR        0xffULL
#define REDIR_DELIVERY      (7ULL << 8)
#define REDIR_DEST_LOGICAL  (1ULL << 11)
#define REDIR_STATUS        (1ULL << 12)
#define REDIR_POLARITY      (1ULL << 13)
#define REDIR_REMOTE_IRR    (1ULL << 14)
#define REDIR_LEVEL         (1ULL << 15)
#define REDIR_MASKED        (1ULL << 16)
#define REDIR_READ_ONLY     (REDIR_STATUS | REDIR_REMOTE_IRR)
#define REDIR_DEST_SHIFT    56

struct msi_msg ioapic_entry_msi(uint64_t entry)
{
	uint64_t dest = entry >> REDIR_DEST_SHIFT;
	struct msi_msg msi = {
		.address = AM_MSI_BASE | (dest << 12) | ((entry & REDIR_DEST_LOGICAL) ? 1ULL << 2 : 0),
		.data = (uint32_t)(entry & (REDIR_VECTOR | REDIR_DELIVERY)),
	};
	/* An MSI marked level-triggered is what tells KVM to report this vector's EOIs. */
	if (entry & REDIR_LEVEL)
		msi.data |= (1u << 15) | (1u << 14);
	return msi;
}

static bool pin_is_level(const struct ioapic *io, unsigned pin)
{
	return io->redir[pin] & REDIR_LEVEL;
}

static void ioapic_fire(struct ioapic *io, unsigned pin)
{
	uint64_t e = io->redir[pin];

	if (e & REDIR_MASKED)
		return;
	if (e & REDIR_LEVEL) {
		if (e & REDIR_REMOTE_IRR)
			return;          /* the guest has not EOId the last one yet */
		io->redir[pin] |= REDIR_REMOTE_IRR;
	}
	struct msi_msg msi = ioapic_entry_msi(e);
	io->ops->deliver(io->ctx, pin, &msi);
}

static void ioapic_write_redir(struct ioapic *io, unsigned pin, bool high, uint32_t value)
{
	uint64_t old = io->redir[pin], e = old;

	if (high)
		e = (e & 0xffffffffULL) | ((uint64_t)value << 32);
	else
		e = (e & ~0xffffffffULL) | value;
	e = (e & ~REDIR_READ_ONLY) | (old & REDIR_READ_ONLY);
	/* Switching to edge drops a stale remote IRR, as real IOAPICs do. */
	if (!(e & REDIR_LEVEL))
		e &= ~REDIR_REMOTE_IRR;
	io->redir[pin] = e;
	if (e == old)
		return;
	struct msi_msg msi = ioapic_entry_msi(e);
	io->ops->route(io->ctx, pin, &msi, e & REDIR_MASKED);
	/* Unmasking a level pin that is still asserted delivers it now. */
	if ((old & REDIR_MASKED) && !(e & REDIR_MASKED) && (e & REDIR_LEVEL) &&
	    (io->asserted & (1u << pin)))
		ioapic_fire(io, pin);
}

static uint32_t ioapic_read_reg(struct ioapic *io, uint32_t reg)
{
	switch (reg) {
	case IOAPIC_ID:
		return io->id;
	case IOAPIC_VERSION:
		return IOAPIC_VERSION_VALUE;
	case IOAPIC_ARB:
		return io->id;
	}
	if (reg >= IOAPIC_REDIR_BASE && reg < IOAPIC_REDIR_BASE + 2 * IOAPIC_PINS) {
		uint64_t e = io->redir[(reg - IOAPIC_REDIR_BASE) / 2];
		return (reg & 1) ? (uint32_t)(e >> 32) : (uint32_t)e;
	}
	return 0xffffffff;
}

static void ioapic_write_reg(struct ioapic *io, uint32_t reg, uint32_t value)
{
	if (reg == IOAPIC_ID) {
		io->id = value & 0x0f000000;
		return;
	}
	if (reg >= IOAPIC_REDIR_BASE && reg < IOAPIC_REDIR_BASE + 2 * IOAPIC_PINS)
		ioapic_write_redir(io, (reg - IOAPIC_REDIR_BASE) / 2, reg & 1, value);
}

static void ioapic_eoi_locked(struct ioapic *io, uint8_t vector)
{
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++) {
		uint64_t e = io->redir[pin];
		if (!(e & REDIR_LEVEL) || (e & REDIR_VECTOR) != vector || !(e & REDIR_REMOTE_IRR))
			continue;
		io->redir[pin] &= ~REDIR_REMOTE_IRR;
		if (io->asserted & (1u << pin))
			ioapic_fire(io, pin);
	}
}

void ioapic_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct ioapic *io = opaque;
	uint32_t value;

	/* Registers are 32 bits wide at 16-byte strides. */
	if (!bus_dword_begin(offset, data, len, is_write, &value))
		return;
	pthread_mutex_lock(&io->lock);
	switch (offset) {
	case IOAPIC_REG_SELECT:
		if (is_write)
			io->ioregsel = value & 0xff;
		else
			value = io->ioregsel;
		break;
	case IOAPIC_REG_WINDOW:
		if (is_write)
			ioapic_write_reg(io, io->ioregsel, value);
		else
			value = ioapic_read_reg(io, io->ioregsel);
		break;
	case IOAPIC_REG_EOI:
		if (is_write)
			ioapic_eoi_locked(io, (uint8_t)value);
		break;
	default:
		value = 0xffffffff;
		break;
	}
	pthread_mutex_unlock(&io->lock);
	bus_dword_end(data, is_write, value);
}

void ioapic_set_pin(struct ioapic *io, unsigned pin, bool level)
{
	if (pin >= IOAPIC_PINS)
		return;
	pthread_mutex_lock(&io->lock);
	uint32_t bit = 1u << pin;
	bool was = io->asserted & bit;
	io->asserted = level ? io->asserted | bit : io->asserted & ~bit;
	/* Edge pins fire on the rising edge; level pins whenever asserted and not in service. */
	if (level && (!was || pin_is_level(io, pin)))
		ioapic_fire(io, pin);
	pthread_mutex_unlock(&io->lock);
}

void ioapic_eoi(struct ioapic *io, uint8_t vector)
{
	pthread_mutex_lock(&io->lock);
	ioapic_eoi_locked(io, vector);
	pthread_mutex_unlock(&io->lock);
}

void ioapic_init(struct ioapic *io, const struct ioapic_ops *ops, void *ctx)
{
	memset(io, 0, sizeof(*io));
	pthread_mutex_init(&io->lock, NULL);
	io->ops = ops;
	io->ctx = ctx;
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++)
		io->redir[pin] = REDIR_MASKED;
}

void ioapic_destroy(struct ioapic *io)
{
	pthread_mutex_destroy(&io->lock);
}
