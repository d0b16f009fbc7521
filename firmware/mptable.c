#include "firmware/mptable.h"

#include <errno.h>
#include <string.h>

#include "abi/address_map.h"
#include "firmware/acpi.h"
#include "firmware/devicetree.h"

#define MP_SPEC_REV        4            /* 1.4 */
#define MP_MAX_CPUS        256
#define MP_ISA_IRQS        16
#define LAPIC_VERSION      0x14         /* what KVM's LAPIC reports */
#define IOAPIC_VERSION     0x11
#define BUS_ISA            0
#define CPU_SIGNATURE      (6 << 8)     /* family 6: a signature Linux only prints */
#define CPU_FEATURES       0x201        /* CPUID.1:EDX's FPU and APIC */

enum { MP_PROCESSOR, MP_BUS, MP_IOAPIC, MP_IO_INTERRUPT, MP_LOCAL_INTERRUPT };
enum { MP_INT, MP_NMI, MP_SMI, MP_EXTINT };

/* An interrupt entry's flags: polarity (bits 0-1) and trigger mode (bits 2-3). */
#define MP_IRQ_CONFORMS    0x0
#define MP_IRQ_LEVEL_HIGH  (0x1 | 0xc)

struct mp_floating {
	char signature[4];                  /* "_MP_" */
	uint32_t config;
	uint8_t length;                     /* in 16-byte units */
	uint8_t spec_rev;
	uint8_t checksum;
	uint8_t feature[5];                 /* feature[0] 0: a configuration table follows */
} __attribute__((packed));

struct mp_config {
	char signature[4];                  /* "PCMP" */
	uint16_t length;
	uint8_t spec_rev;
	uint8_t checksum;
	char oem[8];
	char product[12];
	uint32_t oem_table;
	uint16_t oem_size;
	uint16_t entries;
	uint32_t lapic;
	uint16_t ext_length;
	uint8_t ext_checksum;
	uint8_t reserved;
} __attribute__((packed));

struct mp_processor {
	uint8_t type, apic_id, apic_version, flags;     /* flags: 1 enabled, 2 the BSP */
	uint32_t signature, features;
	uint32_t reserved[2];
} __attribute__((packed));

struct mp_bus {
	uint8_t type, id;
	char name[6];
} __attribute__((packed));

struct mp_ioapic {
	uint8_t type, id, version, flags;               /* flags: 1 enabled */
	uint32_t addr;
} __attribute__((packed));

struct mp_interrupt {
	uint8_t type, kind;
	uint16_t flags;
	uint8_t bus, bus_irq, dest, dest_pin;           /* dest 0xff: every local APIC */
} __attribute__((packed));

_Static_assert(sizeof(struct mp_floating) == 16 && sizeof(struct mp_config) == 44 &&
	       sizeof(struct mp_processor) == 20 && sizeof(struct mp_bus) == 8 &&
	       sizeof(struct mp_ioapic) == 8 && sizeof(struct mp_interrupt) == 8,
	       "MP specification 1.4 sizes");

struct mp_writer {
	uint8_t *base;
	size_t at, size;
	uint16_t entries;
};

static int put(struct mp_writer *w, const void *entry, size_t len)
{
	if (w->at + len > w->size)
		return -ENOSPC;
	memcpy(w->base + w->at, entry, len);
	w->at += len;
	w->entries++;
	return 0;
}

static int put_io_interrupt(struct mp_writer *w, uint8_t ioapic, unsigned bus_irq, unsigned pin,
			    uint16_t flags)
{
	struct mp_interrupt e = { MP_IO_INTERRUPT, MP_INT, flags, BUS_ISA, (uint8_t)bus_irq, ioapic,
				  (uint8_t)pin };
	return put(w, &e, sizeof(e));
}

/* Is pin one of the tree's virtio-mmio lines? */
static bool virtio_pin(const struct fdt_virtio_mmio *v, int n, unsigned pin)
{
	for (int i = 0; i < n; i++)
		if (v[i].irq == pin)
			return true;
	return false;
}

static int build(const void *fdt, struct mp_writer *w, uint32_t table)
{
	uint32_t ids[MP_MAX_CPUS];
	int cpus = fdt_cpus(fdt, ids, MP_MAX_CPUS);
	struct fdt_virtio_mmio v[AM_VIRTIO_MMIO_SLOTS];
	int nv = fdt_virtio_mmio(fdt, v, AM_VIRTIO_MMIO_SLOTS);
	uint64_t ioapic, lapic, size;
	int r;

	if (cpus <= 0 || fdt_mmio(fdt, FDT_COMPAT_IOAPIC, &ioapic, &size) ||
	    fdt_mmio(fdt, FDT_COMPAT_LAPIC, &lapic, &size))
		return -ENOENT;
	w->at = sizeof(struct mp_floating) + sizeof(struct mp_config);
	for (int i = 0; i < cpus; i++) {
		struct mp_processor p = { MP_PROCESSOR, (uint8_t)ids[i], LAPIC_VERSION,
					  (uint8_t)(1 | (i == 0 ? 2 : 0)), CPU_SIGNATURE, CPU_FEATURES,
					  { 0, 0 } };
		if ((r = put(w, &p, sizeof(p))))
			return r;
	}
	struct mp_bus isa = { MP_BUS, BUS_ISA, { 'I', 'S', 'A', ' ', ' ', ' ' } };
	uint8_t ioapic_id = (uint8_t)cpus;      /* after the CPUs', as the MADT has it */
	struct mp_ioapic io = { MP_IOAPIC, ioapic_id, IOAPIC_VERSION, 1, (uint32_t)ioapic };
	if ((r = put(w, &isa, sizeof(isa))) || (r = put(w, &io, sizeof(io))))
		return r;
	/* ISA IRQs as the MADT maps them: 0 on pin 2, the others on their own pins. */
	for (unsigned irq = 0; irq < MP_ISA_IRQS; irq++) {
		if (irq == 2 || virtio_pin(v, nv, irq))
			continue;
		if ((r = put_io_interrupt(w, ioapic_id, irq, irq ? irq : 2, MP_IRQ_CONFORMS)))
			return r;
	}
	for (int i = 0; i < nv; i++)
		if ((r = put_io_interrupt(w, ioapic_id, v[i].irq, v[i].irq, MP_IRQ_LEVEL_HIGH)))
			return r;
	struct mp_interrupt extint = { MP_LOCAL_INTERRUPT, MP_EXTINT, 0, BUS_ISA, 0, 0xff, 0 };
	struct mp_interrupt nmi = { MP_LOCAL_INTERRUPT, MP_NMI, 0, BUS_ISA, 0, 0xff, 1 };
	if ((r = put(w, &extint, sizeof(extint))) || (r = put(w, &nmi, sizeof(nmi))))
		return r;

	struct mp_config c = {
		.signature = { 'P', 'C', 'M', 'P' }, .spec_rev = MP_SPEC_REV,
		.oem = { 'R', 'I', 'N', 'G', 'V', 'M', ' ', ' ' },
		.product = { 'R', 'I', 'N', 'G', 'V', 'M', ' ', ' ', ' ', ' ', ' ', ' ' },
		.entries = w->entries, .lapic = (uint32_t)lapic,
		.length = (uint16_t)(w->at - sizeof(struct mp_floating)),
	};
	memcpy(w->base + sizeof(struct mp_floating), &c, sizeof(c));
	w->base[sizeof(struct mp_floating) + offsetof(struct mp_config, checksum)] =
		acpi_checksum(w->base + sizeof(struct mp_floating), c.length);

	struct mp_floating f = { .signature = { '_', 'M', 'P', '_' }, .config = table,
				 .length = 1, .spec_rev = MP_SPEC_REV };
	f.checksum = acpi_checksum(&f, sizeof(f));
	memcpy(w->base, &f, sizeof(f));
	return 0;
}

int mptable_build(const void *fdt, struct guest_memory *mem, struct error *err)
{
	struct mp_writer w = { .base = gpa_to_hva(mem, AM_MPTABLE_BASE, AM_MPTABLE_SIZE),
			       .size = AM_MPTABLE_SIZE };

	if (!w.base)
		return error_set(err, ENOSPC, "no guest RAM at 0x%llx for the MP tables",
				 (unsigned long long)AM_MPTABLE_BASE);
	memset(w.base, 0, AM_MPTABLE_SIZE);
	/* The configuration table right after the 16-byte floating pointer. */
	int r = build(fdt, &w, (uint32_t)(AM_MPTABLE_BASE + sizeof(struct mp_floating)));
	if (r == -ENOENT)
		return error_set(err, ENOENT, "the device tree lacks CPUs or an APIC for the MP tables");
	return r ? error_sys(err, -r, "the MP tables do not fit in 0x%llx bytes",
			     (unsigned long long)AM_MPTABLE_SIZE) : 0;
}
