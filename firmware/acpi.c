#include "firmware/acpi.h"

#include <errno.h>
#include <libfdt.h>
#include <string.h>

#include "abi/address_map.h"
#include "devices/reset.h"
#include "firmware/aml.h"
#include "firmware/devicetree.h"

#define OEM_ID        "RINGVM"
#define OEM_TABLE_ID  "RINGVMPC"
#define CREATOR_ID    "RNGV"
#define MAX_CPUS      256

/* The common header of every table but the RSDP (ACPI 6.5, 5.2.6). */
struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));

/* Generic Address Structure. */
struct acpi_gas {
	uint8_t space, bit_width, bit_offset, access_size;
	uint64_t address;
} __attribute__((packed));

struct acpi_fadt {
	struct acpi_header h;
	uint32_t firmware_ctrl, dsdt;
	uint8_t reserved1, preferred_pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable, acpi_disable, s4bios_req, pstate_cnt;
	uint32_t pm1a_evt, pm1b_evt, pm1a_cnt, pm1b_cnt, pm2_cnt, pm_tmr, gpe0, gpe1;
	uint8_t pm1_evt_len, pm1_cnt_len, pm2_cnt_len, pm_tmr_len, gpe0_len, gpe1_len, gpe1_base;
	uint8_t cst_cnt;
	uint16_t p_lvl2_lat, p_lvl3_lat, flush_size, flush_stride;
	uint8_t duty_offset, duty_width, day_alrm, mon_alrm, century;
	uint16_t iapc_boot_arch;
	uint8_t reserved2;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_firmware_ctrl, x_dsdt;
	struct acpi_gas x_pm1a_evt, x_pm1b_evt, x_pm1a_cnt, x_pm1b_cnt, x_pm2_cnt, x_pm_tmr, x_gpe0,
		x_gpe1, sleep_control, sleep_status;
	uint64_t hypervisor_id;
} __attribute__((packed));

_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT is 276 bytes (ACPI 6.x)");

#define FADT_WBINVD            (1u << 0)
#define FADT_RESET_REG_SUP     (1u << 10)
#define FADT_HW_REDUCED_ACPI   (1u << 20)
#define BOOT_ARCH_8042         (1u << 1)
#define BOOT_ARCH_VGA_ABSENT   (1u << 2)
#define BOOT_ARCH_NO_CMOS_RTC  (1u << 5)
#define GAS_SYSTEM_IO          1
#define GAS_ACCESS_BYTE        1

uint8_t acpi_checksum(const void *data, size_t len)
{
	uint8_t sum = 0;
	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + ((const uint8_t *)data)[i]);
	return (uint8_t)-sum;
}

/* Where the next table goes, inside [AM_ACPI_BASE, AM_ACPI_BASE + AM_ACPI_SIZE). */
struct acpi_writer {
	uint8_t *base;              /* host address of AM_ACPI_BASE */
	uint64_t next;              /* guest address */
};

static uint64_t acpi_place(struct acpi_writer *w, const void *table, size_t len)
{
	uint64_t at = (w->next + 15) & ~15ULL;
	if (at + len > AM_ACPI_BASE + AM_ACPI_SIZE)
		return 0;
	memcpy(w->base + (at - AM_ACPI_BASE), table, len);
	w->next = at + len;
	return at;
}

static void header_fill(struct acpi_header *h, const char sig[4], uint32_t len, uint8_t rev)
{
	memcpy(h->signature, sig, 4);
	h->length = len;
	h->revision = rev;
	memcpy(h->oem_id, OEM_ID, 6);
	memcpy(h->oem_table_id, OEM_TABLE_ID, 8);
	h->oem_revision = 1;
	memcpy(h->creator_id, CREATOR_ID, 4);
	h->creator_revision = 1;
}

/* Fills the header, checksums and places a table of len bytes starting with its header. */
static uint64_t acpi_table(struct acpi_writer *w, void *table, const char sig[4], uint32_t len,
			   uint8_t rev)
{
	struct acpi_header *h = table;
	header_fill(h, sig, len, rev);
	h->checksum = 0;
	h->checksum = acpi_checksum(table, len);
	return acpi_place(w, table, len);
}

/* IO(Decode16, port, port, 1, len): a fixed range of ports. */
static size_t io_descriptor(uint8_t *out, uint16_t port, uint8_t len)
{
	const uint8_t d[] = { 0x47, 0x01, (uint8_t)port, (uint8_t)(port >> 8), (uint8_t)port,
			      (uint8_t)(port >> 8), 0x01, len };
	memcpy(out, d, sizeof(d));
	return sizeof(d);
}

/* A Word Address Space descriptor: len values from min of type (1 I/O, 2 bus numbers). */
static size_t word_descriptor(uint8_t *out, uint8_t type, uint8_t type_flags, uint16_t min,
			      uint32_t len)
{
	uint16_t max = (uint16_t)(min + len - 1);
	const uint8_t d[] = { 0x88, 0x0d, 0x00, type, 0x0c, type_flags, 0, 0,
			      (uint8_t)min, (uint8_t)(min >> 8), (uint8_t)max, (uint8_t)(max >> 8),
			      0, 0, (uint8_t)len, (uint8_t)(len >> 8) };
	memcpy(out, d, sizeof(d));
	return sizeof(d);
}

/* The PCI host bridge's resources, as ACPI resource descriptors. */
static size_t pci_crs(uint8_t *out, const struct fdt_pci_host *host)
{
	size_t n = 0;

	n += word_descriptor(out + n, 0x02, 0x00, (uint16_t)host->bus_first,
			     host->bus_last - host->bus_first + 1);
	/* The configuration ports themselves: not in the tree, which has ECAM only. */
	n += io_descriptor(out + n, AM_PORT_PCI_CONF1, AM_PCI_CONF1_PORTS);
	/* Where I/O BARs go; 0x03 (_RNG): both ISA and non-ISA ports pass. */
	n += word_descriptor(out + n, 0x01, 0x03, (uint16_t)host->io_base, (uint32_t)host->io_size);
	/* DWord memory window: the 32-bit BARs. */
	uint8_t mem[26] = { 0x87, 0x17, 0x00, 0x00, 0x0c, 0x01 };
	uint32_t min = (uint32_t)host->mem_base, max = (uint32_t)(host->mem_base + host->mem_size - 1);
	uint32_t len = (uint32_t)host->mem_size;
	memcpy(&mem[10], &min, 4);
	memcpy(&mem[14], &max, 4);
	memcpy(&mem[22], &len, 4);
	memcpy(out + n, mem, sizeof(mem));
	n += sizeof(mem);
	out[n++] = 0x79;                    /* end tag, checksum 0: "treat as summed" */
	out[n++] = 0x00;
	return n;
}

/*
 * The serial port's resources: its ports and its ISA IRQ. Without a PNP0501
 * device Linux under hardware-reduced ACPI (no legacy IRQs pre-mapped) gives the
 * port no working interrupt, and the console's tty never transmits.
 */
static size_t serial_crs(uint8_t *out, uint16_t port, uint8_t len, unsigned irq)
{
	size_t n = io_descriptor(out, port, len);
	const uint8_t tail[] = {
		0x22, (uint8_t)(1u << irq), (uint8_t)((1u << irq) >> 8),   /* IRQNoFlags(){irq} */
		0x79, 0x00,
	};
	memcpy(out + n, tail, sizeof(tail));
	return n + sizeof(tail);
}

/* The serial port node's I/O ports and IRQ; 0 or -ENOENT. */
static int fdt_serial(const void *fdt, uint16_t *port, uint8_t *len, unsigned *irq)
{
	int size, node = fdt_node_offset_by_compatible(fdt, -1, FDT_COMPAT_SERIAL);
	const fdt32_t *intr = node < 0 ? NULL : fdt_getprop(fdt, node, "interrupts", &size);
	uint16_t ports;

	if (!intr || fdt32_to_cpu(intr[0]) > 15 || fdt_isa_ports(fdt, FDT_COMPAT_SERIAL, port, &ports))
		return -ENOENT;
	*len = (uint8_t)ports;
	*irq = fdt32_to_cpu(intr[0]);
	return 0;
}

/* The keyboard controller's data and command ports and its IRQ; 0 or -ENOENT. */
static int fdt_i8042(const void *fdt, uint16_t *data, uint16_t *command, unsigned *irq)
{
	int size, isize, node = fdt_node_offset_by_compatible(fdt, -1, FDT_COMPAT_I8042);
	const fdt32_t *reg = node < 0 ? NULL : fdt_getprop(fdt, node, "reg", &size);
	const fdt32_t *intr = node < 0 ? NULL : fdt_getprop(fdt, node, "interrupts", &isize);

	if (!reg || size < 24 || fdt32_to_cpu(reg[0]) != 1 || fdt32_to_cpu(reg[3]) != 1 ||
	    !intr || isize < 4 || fdt32_to_cpu(intr[0]) > 15)
		return -ENOENT;
	*data = (uint16_t)fdt32_to_cpu(reg[1]);
	*command = (uint16_t)fdt32_to_cpu(reg[4]);
	*irq = fdt32_to_cpu(intr[0]);
	return 0;
}

/*
 * A PNP0303 keyboard controller: with no such device Linux's i8042 driver believes
 * a hardware-reduced machine has none, and the host could not press Ctrl+Alt+Del.
 */
static size_t i8042_crs(uint8_t *out, uint16_t data, uint16_t command, unsigned irq)
{
	size_t n = io_descriptor(out, data, 1);
	n += io_descriptor(out + n, command, 1);
	const uint8_t tail[] = {
		0x22, (uint8_t)(1u << irq), (uint8_t)((1u << irq) >> 8),   /* IRQNoFlags(){irq} */
		0x79, 0x00,
	};
	memcpy(out + n, tail, sizeof(tail));
	return n + sizeof(tail);
}

/*
 * A virtio-mmio transport's resources: its window and its level-triggered, active-high
 * pin (an extended interrupt descriptor: GSIs past 15 need one), as QEMU's microvm.
 */
static size_t virtio_mmio_crs(uint8_t *out, const struct fdt_virtio_mmio *v)
{
	uint32_t base = (uint32_t)v->base, size = (uint32_t)v->size;
	uint8_t d[] = {
		0x86, 0x09, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0,   /* Memory32Fixed(ReadWrite) */
		0x89, 0x06, 0x00, 0x01, 0x01, 0, 0, 0, 0,           /* Interrupt(Consumer, Level, High) */
		0x79, 0x00,
	};
	memcpy(&d[4], &base, 4);
	memcpy(&d[8], &size, 4);
	memcpy(&d[17], &v->irq, 4);
	memcpy(out, d, sizeof(d));
	return sizeof(d);
}

/* One LNRO0005 device per virtio-mmio transport (Linux's virtio_mmio binds to it). */
static void dsdt_virtio_mmio(struct aml *a, const void *fdt)
{
	struct fdt_virtio_mmio v[AM_VIRTIO_MMIO_SLOTS];
	int n = fdt_virtio_mmio(fdt, v, AM_VIRTIO_MMIO_SLOTS);
	uint8_t crs[32];

	for (int i = 0; i < n; i++) {
		static const char hex[] = "0123456789ABCDEF";
		const char name[4] = { 'V', 'R', hex[(i >> 4) & 0xf], hex[i & 0xf] };
		size_t dev = a->len;
		aml_name_string(a, "_HID", "LNRO0005");
		aml_name_int(a, "_UID", (uint64_t)i);
		aml_name_buffer(a, "_CRS", crs, virtio_mmio_crs(crs, &v[i]));
		aml_wrap_device(a, dev, name);
	}
}

static uint64_t build_dsdt(struct acpi_writer *w, const void *fdt, struct error *err)
{
	struct aml aml;
	uint8_t table[sizeof(struct acpi_header) + AML_MAX];
	struct aml *a = &aml;
	struct fdt_pci_host host;
	uint8_t crs[128];

	memset(a, 0, sizeof(*a));
	if (fdt_pci_host(fdt, &host)) {
		error_set(err, ENOENT, "the device tree has no PCI host bridge with windows");
		return 0;
	}
	uint16_t port;
	uint8_t port_len;
	unsigned irq;
	if (fdt_serial(fdt, &port, &port_len, &irq)) {
		error_set(err, ENOENT, "the device tree has no serial port with an ISA IRQ");
		return 0;
	}

	size_t sb = a->len;
	size_t dev = a->len;
	aml_name_int(a, "_HID", aml_eisa_id("PNP0501"));
	aml_name_int(a, "_UID", 0);
	aml_name_buffer(a, "_CRS", crs, serial_crs(crs, port, port_len, irq));
	aml_wrap_device(a, dev, "COM1");
	uint16_t kbd_data, kbd_command;
	unsigned kbd_irq;
	if (!fdt_i8042(fdt, &kbd_data, &kbd_command, &kbd_irq)) {
		dev = a->len;
		aml_name_int(a, "_HID", aml_eisa_id("PNP0303"));
		aml_name_buffer(a, "_CRS", crs, i8042_crs(crs, kbd_data, kbd_command, kbd_irq));
		aml_wrap_device(a, dev, "PS2K");
	}
	dev = a->len;
	aml_name_int(a, "_HID", aml_eisa_id("PNP0A08"));
	aml_name_int(a, "_CID", aml_eisa_id("PNP0A03"));
	aml_name_int(a, "_SEG", 0);
	aml_name_int(a, "_BBN", 0);
	aml_name_int(a, "_UID", 0);
	aml_name_buffer(a, "_CRS", crs, pci_crs(crs, &host));
	aml_wrap_device(a, dev, "PCI0");
	dsdt_virtio_mmio(a, fdt);
	aml_wrap_scope(a, sb, "\\_SB_");
	const uint64_t s5[] = { ACPI_S5_TYPE, ACPI_S5_TYPE, 0, 0 };
	aml_name_package(a, "_S5_", s5, 4);
	if (a->overflow) {
		error_set(err, ENOSPC, "the DSDT outgrew its buffer");
		return 0;
	}
	memcpy(table + sizeof(struct acpi_header), a->data, a->len);
	return acpi_table(w, table, "DSDT", (uint32_t)(sizeof(struct acpi_header) + a->len), 2);
}

static uint64_t build_fadt(struct acpi_writer *w, uint64_t dsdt, uint16_t sleep_port,
			   uint16_t reset_port, bool i8042)
{
	struct acpi_fadt f = { 0 };

	f.dsdt = (uint32_t)dsdt;
	f.x_dsdt = dsdt;
	f.flags = FADT_WBINVD | FADT_RESET_REG_SUP | FADT_HW_REDUCED_ACPI;
	f.iapc_boot_arch = BOOT_ARCH_VGA_ABSENT | BOOT_ARCH_NO_CMOS_RTC | (i8042 ? BOOT_ARCH_8042 : 0);
	f.reset_reg = (struct acpi_gas){ GAS_SYSTEM_IO, 8, 0, GAS_ACCESS_BYTE, reset_port };
	f.reset_value = RESET_CONTROL_RST | RESET_CONTROL_SYS;
	f.sleep_control = (struct acpi_gas){ GAS_SYSTEM_IO, 8, 0, GAS_ACCESS_BYTE, sleep_port };
	f.sleep_status = (struct acpi_gas){ GAS_SYSTEM_IO, 8, 0, GAS_ACCESS_BYTE, sleep_port + 1u };
	memcpy(&f.hypervisor_id, "RINGVM\0\0", 8);
	f.minor_version = 0;
	return acpi_table(w, &f, "FACP", sizeof(f), 6);
}

static uint64_t build_madt(struct acpi_writer *w, const void *fdt, int split, struct error *err)
{
	uint8_t t[44 + 8 * MAX_CPUS + 12 + 10 + 6];
	uint32_t ids[MAX_CPUS];
	int n = fdt_cpus(fdt, ids, MAX_CPUS);
	uint64_t ioapic, lapic, size;
	uint32_t lapic32, flags = split ? 0 : 1;   /* PCAT_COMPAT: 8259s present */
	size_t at = 44;

	if (n <= 0 || fdt_mmio(fdt, FDT_COMPAT_IOAPIC, &ioapic, &size) ||
	    fdt_mmio(fdt, FDT_COMPAT_LAPIC, &lapic, &size)) {
		error_set(err, ENOENT, "the device tree lacks CPUs or an APIC");
		return 0;
	}
	memset(t, 0, sizeof(t));
	lapic32 = (uint32_t)lapic;
	memcpy(&t[36], &lapic32, 4);
	memcpy(&t[40], &flags, 4);
	for (int i = 0; i < n; i++, at += 8) {
		uint32_t enabled = 1;
		t[at] = 0;                          /* processor local APIC */
		t[at + 1] = 8;
		t[at + 2] = (uint8_t)i;             /* ACPI processor UID */
		t[at + 3] = (uint8_t)ids[i];
		memcpy(&t[at + 4], &enabled, 4);
	}
	uint32_t addr = (uint32_t)ioapic, gsi_base = 0;
	t[at] = 1;                                  /* IOAPIC */
	t[at + 1] = 12;
	t[at + 2] = (uint8_t)n;                     /* an ID after the CPUs' */
	memcpy(&t[at + 4], &addr, 4);
	memcpy(&t[at + 8], &gsi_base, 4);
	at += 12;
	uint32_t gsi = 2;
	t[at] = 2;                                  /* ISA IRQ 0 is GSI 2 */
	t[at + 1] = 10;
	t[at + 2] = 0;
	t[at + 3] = 0;
	memcpy(&t[at + 4], &gsi, 4);
	at += 10;
	t[at] = 4;                                  /* NMI on every CPU's LINT1 */
	t[at + 1] = 6;
	t[at + 2] = 0xff;
	t[at + 5] = 1;
	at += 6;
	return acpi_table(w, t, "APIC", (uint32_t)at, 5);
}

static uint64_t build_mcfg(struct acpi_writer *w, const void *fdt)
{
	uint8_t t[44 + 16] = { 0 };
	struct fdt_pci_host host;

	if (fdt_pci_host(fdt, &host))
		return 0;
	memcpy(&t[44], &host.ecam, 8);
	t[44 + 10] = (uint8_t)host.bus_first;
	t[44 + 11] = (uint8_t)host.bus_last;
	return acpi_table(w, t, "MCFG", sizeof(t), 1);
}

int acpi_build(const void *fdt, struct guest_memory *mem, int split_irqchip, struct error *err)
{
	struct acpi_writer w = { .base = gpa_to_hva(mem, AM_ACPI_BASE, AM_ACPI_SIZE), .next = AM_ACPI_BASE + 64 };
	uint16_t sleep_port, reset_port, len;

	if (!w.base)
		return error_set(err, ENOSPC, "no guest RAM at 0x%llx for the ACPI tables",
				 (unsigned long long)AM_ACPI_BASE);
	if (fdt_isa_ports(fdt, FDT_COMPAT_SLEEP, &sleep_port, &len) ||
	    fdt_isa_ports(fdt, FDT_COMPAT_RESET, &reset_port, &len))
		return error_set(err, ENOENT, "the device tree has no ACPI sleep or reset register");
	memset(w.base, 0, AM_ACPI_SIZE);
	uint64_t dsdt = build_dsdt(&w, fdt, err);
	uint64_t fadt = dsdt ? build_fadt(&w, dsdt, sleep_port, reset_port,
					  fdt_node_offset_by_compatible(fdt, -1, FDT_COMPAT_I8042) >= 0) : 0;
	uint64_t madt = fadt ? build_madt(&w, fdt, split_irqchip, err) : 0;
	uint64_t mcfg = madt ? build_mcfg(&w, fdt) : 0;
	if (!mcfg)
		return err->code ? -err->code : error_set(err, ENOSPC, "the ACPI tables do not fit");

	uint8_t xsdt[36 + 3 * 8];
	uint64_t entries[3] = { fadt, madt, mcfg };
	memcpy(&xsdt[36], entries, sizeof(entries));
	uint64_t xsdt_at = acpi_table(&w, xsdt, "XSDT", sizeof(xsdt), 1);

	/* The RSDP: revision 2, checksum over the first 20 bytes, extended over all 36. */
	uint8_t rsdp[36] = "RSD PTR ";
	memcpy(&rsdp[9], OEM_ID, 6);
	rsdp[15] = 2;
	uint32_t length = sizeof(rsdp);
	memcpy(&rsdp[20], &length, 4);
	memcpy(&rsdp[24], &xsdt_at, 8);
	rsdp[8] = acpi_checksum(rsdp, 20);
	rsdp[32] = acpi_checksum(rsdp, 36);
	memcpy(w.base, rsdp, sizeof(rsdp));
	return xsdt_at ? 0 : error_set(err, ENOSPC, "the ACPI tables do not fit");
}
