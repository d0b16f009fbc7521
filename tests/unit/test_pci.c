#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <dirent.h>
#include <errno.h>
#include <string.h>

#include "abi/address_map.h"
#include "devices/msix.h"
#include "devices/pci.h"
#include "irq_recorder.h"

static struct bus pio, mmio;
static struct pci_bus pci;
static struct pci_device dev;
static int bar_hits;
static uint8_t cf9_value;

static void bar_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	(void)opaque, (void)offset, (void)is_write;
	bar_hits++;
	if (!is_write)
		memset(data, 0x5a, len);
}

static void cf9(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	(void)opaque, (void)offset, (void)len;
	if (is_write)
		cf9_value = data[0];
	else
		data[0] = cf9_value;
}

static void setup(void)
{
	bus_init(&pio, "pio");
	bus_init(&mmio, "mmio");
	pci_bus_init(&pci, &pio, &mmio, cf9, NULL);
	pci_device_init(&dev, "test", 0x1234, 0x5678, PCI_CLASS_CODE_ETHERNET, 3, 0x1af4, 0x1100);
	pci_device_add_bar(&dev, 0, 0x4000, false, false, bar_access, NULL);
	pci_device_add_bar(&dev, 2, 0x100000, false, true, bar_access, NULL);
	pci_device_add_bar(&dev, 4, 0x20, true, false, bar_access, NULL);
	bar_hits = 0;
}

static void teardown(void)
{
	pci_bus_destroy(&pci);
	bus_destroy(&pio);
	bus_destroy(&mmio);
}

TestSuite(pci, .init = setup, .fini = teardown);

static uint32_t conf1_read(unsigned slot, uint32_t reg, uint32_t len)
{
	uint32_t addr = 0x80000000u | slot << 11 | (reg & 0xfc), v = 0;
	pci_conf1_access(&pci, 0, (uint8_t *)&addr, 4, true);
	pci_conf1_access(&pci, 4 + (reg & 3), (uint8_t *)&v, len, false);
	return v;
}

static void conf1_write(unsigned slot, uint32_t reg, uint32_t v, uint32_t len)
{
	uint32_t addr = 0x80000000u | slot << 11 | (reg & 0xfc);
	pci_conf1_access(&pci, 0, (uint8_t *)&addr, 4, true);
	pci_conf1_access(&pci, 4 + (reg & 3), (uint8_t *)&v, len, true);
}

static uint32_t ecam_read(unsigned slot, uint32_t reg)
{
	uint32_t v = 0;
	pci_ecam_access(&pci, (uint64_t)slot << 15 | reg, (uint8_t *)&v, 4, false);
	return v;
}

Test(pci, host_bridge_and_empty_slots)
{
	cr_assert_eq(conf1_read(0, PCI_VENDOR_ID, 4), 0x00081b36, "host bridge at slot 0");
	cr_assert_eq(conf1_read(0, PCI_CLASS_REVISION, 4) >> 8, PCI_CLASS_CODE_HOST_BRIDGE,
		     "class: host bridge");
	cr_assert_eq(conf1_read(5, 0, 4), 0xffffffff, "nothing at slot 5");
	cr_assert_eq(ecam_read(5, 0), 0xffffffff);
	uint32_t v = 0;
	pci_ecam_access(&pci, 1ULL << 20, (uint8_t *)&v, 4, false);
	cr_assert_eq(v, 0xffffffff, "no bus 1");
}

Test(pci, plug_assigns_bars_and_maps_them)
{
	cr_assert_eq(pci_bus_plug(&pci, &dev), 0);
	cr_assert_eq(dev.slot, 1);
	cr_assert_eq(ecam_read(1, 0), 0x56781234, "ECAM and conf1 agree");
	cr_assert_eq(conf1_read(1, 0, 4), 0x56781234);
	uint32_t bar0 = ecam_read(1, PCI_BASE_ADDRESS_0), bar2 = ecam_read(1, PCI_BASE_ADDRESS_2),
		 bar4 = ecam_read(1, PCI_BASE_ADDRESS_4);
	cr_assert_eq(bar0 & ~PCI_BASE_ADDRESS_MEM_MASK, 0, "32-bit memory");
	cr_assert_eq(bar2 & PCI_BASE_ADDRESS_MEM_TYPE_MASK, PCI_BASE_ADDRESS_MEM_TYPE_64, "64-bit memory");
	cr_assert_eq(bar4 & ~PCI_BASE_ADDRESS_IO_MASK, PCI_BASE_ADDRESS_SPACE_IO, "I/O");
	cr_assert_eq((bar0 & PCI_BASE_ADDRESS_MEM_MASK) % 0x4000, 0, "naturally aligned");
	cr_assert_eq((bar2 & PCI_BASE_ADDRESS_MEM_MASK) % 0x100000, 0);
	cr_assert_geq(bar0 & PCI_BASE_ADDRESS_MEM_MASK, AM_PCI_MMIO32_BASE);
	uint8_t b[4];
	cr_assert(bus_dispatch(&mmio, (bar0 & PCI_BASE_ADDRESS_MEM_MASK) + 0x3ffc, b, 4, false));
	cr_assert(bus_dispatch(&pio, (bar4 & PCI_BASE_ADDRESS_IO_MASK) + 4, b, 1, true));
	cr_assert_eq(bar_hits, 2);
}

Test(pci, bar_sizing_probe)
{
	cr_assert_eq(pci_bus_plug(&pci, &dev), 0);
	conf1_write(1, PCI_COMMAND, 0, 2);               /* decoding off, as drivers size */
	conf1_write(1, PCI_BASE_ADDRESS_0, 0xffffffff, 4);
	cr_assert_eq(conf1_read(1, PCI_BASE_ADDRESS_0, 4), 0xffffc000, "16 KiB");
	conf1_write(1, PCI_BASE_ADDRESS_2, 0xffffffff, 4);
	conf1_write(1, PCI_BASE_ADDRESS_3, 0xffffffff, 4);
	cr_assert_eq(conf1_read(1, PCI_BASE_ADDRESS_2, 4), 0xfff00000 | PCI_BASE_ADDRESS_MEM_TYPE_64,
		     "1 MiB, 64-bit");
	cr_assert_eq(conf1_read(1, PCI_BASE_ADDRESS_3, 4), 0xffffffff);
	conf1_write(1, PCI_BASE_ADDRESS_4, 0xffffffff, 4);
	cr_assert_eq(conf1_read(1, PCI_BASE_ADDRESS_4, 4), 0xffffffe0 | PCI_BASE_ADDRESS_SPACE_IO,
		     "32 ports");
	uint8_t b[4];
	cr_assert_not(bus_dispatch(&mmio, 0xffffc000, b, 4, false), "a probe pattern is not mapped");
}

Test(pci, moving_a_bar_moves_the_mapping)
{
	cr_assert_eq(pci_bus_plug(&pci, &dev), 0);
	uint32_t old = ecam_read(1, PCI_BASE_ADDRESS_0) & PCI_BASE_ADDRESS_MEM_MASK;
	conf1_write(1, PCI_COMMAND, 0, 2);
	uint8_t b[4];
	cr_assert_not(bus_dispatch(&mmio, old, b, 4, false), "decoding off: gone");
	conf1_write(1, PCI_BASE_ADDRESS_0, 0xd0000000, 4);
	conf1_write(1, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	cr_assert(bus_dispatch(&mmio, 0xd0000000, b, 4, false), "at the new address");
	cr_assert_not(bus_dispatch(&mmio, old, b, 4, false), "not at the old");
}

Test(pci, read_only_fields_and_w1c_status)
{
	cr_assert_eq(pci_bus_plug(&pci, &dev), 0);
	conf1_write(1, PCI_VENDOR_ID, 0xffffffff, 4);
	cr_assert_eq(conf1_read(1, PCI_VENDOR_ID, 4), 0x56781234, "IDs are read-only");
	conf1_write(1, PCI_INTERRUPT_LINE, 0x0b, 1);
	cr_assert_eq(conf1_read(1, PCI_INTERRUPT_LINE, 1), 0x0b, "interrupt line is writable");
	pci_set16(&dev.config[PCI_STATUS], PCI_STATUS_DETECTED_PARITY);   /* a latched error */
	conf1_write(1, PCI_STATUS, PCI_STATUS_DETECTED_PARITY, 2);
	cr_assert_eq(conf1_read(1, PCI_STATUS, 2) & PCI_STATUS_DETECTED_PARITY, 0, "written 1 clears");
}

Test(pci, capability_list)
{
	uint8_t body[8] = { 0 };
	uint8_t a = pci_device_add_cap(&dev, PCI_CAP_ID_VNDR, body, 8);
	uint8_t c = pci_device_add_cap(&dev, PCI_CAP_ID_MSI, body, 6);
	cr_assert_eq(a, PCI_STD_HEADER_SIZEOF, "right after the header");
	cr_assert_eq(c, a + 8, "dword aligned");
	cr_assert_eq(dev.config[PCI_CAPABILITY_LIST], a);
	cr_assert_eq(dev.config[a + PCI_CAP_LIST_ID], PCI_CAP_ID_VNDR);
	cr_assert_eq(dev.config[a + PCI_CAP_LIST_NEXT], c, "chained");
	cr_assert_eq(dev.config[c + PCI_CAP_LIST_NEXT], 0, "ends");
	cr_assert(pci_get16(&dev, PCI_STATUS) & PCI_STATUS_CAP_LIST);
}

Test(pci, cf9_is_the_reset_register_inside_conf1)
{
	uint8_t v = 0x06;
	pci_conf1_access(&pci, 1, &v, 1, true);
	cr_assert_eq(cf9_value, 0x06);
	uint32_t addr = 0x80000800;
	pci_conf1_access(&pci, 0, (uint8_t *)&addr, 4, true);
	cr_assert_eq(cf9_value, 0x06, "a dword at 0xcf8 is CONFIG_ADDRESS, not the reset register");
}

Test(pci, hostile_config_accesses)
{
	cr_assert_eq(pci_bus_plug(&pci, &dev), 0);
	uint8_t b[8];
	pci_config_access(&pci, 1, 0x3, b, 2, false);    /* misaligned */
	cr_assert_eq(b[0], 0xff);
	pci_config_access(&pci, 1, 4095, b, 4, true);    /* past the end */
	pci_config_access(&pci, 40, 0, b, 4, true);      /* no such slot */
	pci_config_access(&pci, 1, 0, b, 8, false);      /* 8 bytes */
	cr_assert_eq(b[0], 0xff);
	cr_assert_eq(conf1_read(1, PCI_VENDOR_ID, 4), 0x56781234);
}

/* --- MSI-X, with a recorder standing in for KVM ---------------------------------- */

static struct irq_chip chip;
static struct irq_recorder *rec;

static void msix_entry_write(struct msix *m, unsigned v, uint32_t addr, uint32_t data, uint32_t ctrl)
{
	uint32_t hi = 0;
	uint64_t e = (uint64_t)v * PCI_MSIX_ENTRY_SIZE;
	msix_table_access(m, e + PCI_MSIX_ENTRY_LOWER_ADDR, (uint8_t *)&addr, 4, true);
	msix_table_access(m, e + PCI_MSIX_ENTRY_UPPER_ADDR, (uint8_t *)&hi, 4, true);
	msix_table_access(m, e + PCI_MSIX_ENTRY_DATA, (uint8_t *)&data, 4, true);
	msix_table_access(m, e + PCI_MSIX_ENTRY_VECTOR_CTRL, (uint8_t *)&ctrl, 4, true);
}

/* Plugs dev with nr vectors on a recorded chip; MSI-X enabled if enable. */
static uint16_t msix_rig(struct msix *m, enum irq_path path, unsigned nr, bool enable)
{
	rec = rec_chip_init(&chip, IRQCHIP_KERNEL, path);
	cr_assert_eq(msix_init(m, &dev, &chip, nr, 0, 0x1000, 0x2000), 0);
	cr_assert_eq(pci_bus_plug(&pci, &dev), 0);
	uint16_t ctrl_at = m->cap + PCI_MSIX_FLAGS;
	if (enable) {
		conf1_write(1, ctrl_at, PCI_MSIX_FLAGS_ENABLE, 2);
		msix_config_written(m, ctrl_at, 2);
	}
	rec_clear(rec);
	return ctrl_at;
}

static void msix_rig_destroy(struct msix *m)
{
	msix_destroy(m);
	rec_chip_destroy(&chip, rec);
}

static uint64_t pba_of(struct msix *m)
{
	uint64_t pba = 0;
	msix_pba_access(m, 0, (uint8_t *)&pba, 8, false);
	return pba;
}

static void assert_delivered(unsigned nth, uint64_t address, uint32_t data)
{
	struct rec_event e = rec_nth(rec, REC_MSI, nth);
	cr_assert_eq(e.msi.address, address, "delivery %u: address %#llx", nth,
		     (unsigned long long)e.msi.address);
	cr_assert_eq(e.msi.data, data, "delivery %u: data %#x", nth, e.msi.data);
}

Test(pci, msix_masking_and_pending)
{
	struct msix m;
	uint16_t ctrl_at = msix_rig(&m, IRQ_PATH_MSI, 4, false);
	cr_assert_eq(pci_get16(&dev, ctrl_at) & PCI_MSIX_FLAGS_QSIZE, 3, "table size - 1");
	msix_notify(&m, 2, NULL);
	cr_assert_eq(pba_of(&m), 1u << 2, "disabled: pending");
	conf1_write(1, ctrl_at, PCI_MSIX_FLAGS_ENABLE, 2);   /* entries still masked */
	msix_config_written(&m, ctrl_at, 2);
	cr_assert_eq(pba_of(&m), 1u << 2, "still masked per vector");
	uint32_t entry[4] = { AM_MSI_BASE, 0, 0x41, 0 };   /* unmasked */
	msix_table_access(&m, 2 * PCI_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_LOWER_ADDR, (uint8_t *)entry, 4, true);
	msix_table_access(&m, 2 * PCI_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_DATA, (uint8_t *)&entry[2], 4, true);
	cr_assert_eq(rec_count(rec, REC_MSI), 0, "nothing reaches KVM while masked");
	msix_table_access(&m, 2 * PCI_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_VECTOR_CTRL, (uint8_t *)&entry[3], 4, true);
	cr_assert_eq(pba_of(&m), 0, "no longer pending");
	cr_assert_eq(rec_count(rec, REC_MSI), 1, "delivered on unmask, once");
	assert_delivered(0, AM_MSI_BASE, 0x41);
	cr_assert_eq(m.delivery_errors, 0);
	uint32_t back = 0;
	msix_table_access(&m, 2 * PCI_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_DATA, (uint8_t *)&back, 4, false);
	cr_assert_eq(back, 0x41);
	conf1_write(1, ctrl_at, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL, 2);
	msix_config_written(&m, ctrl_at, 2);
	msix_notify(&m, 2, NULL);
	cr_assert_eq(pba_of(&m), 1u << 2, "function masked: pending");
	cr_assert_eq(rec_count(rec, REC_MSI), 1);
	conf1_write(1, ctrl_at, PCI_MSIX_FLAGS_ENABLE, 2);   /* function unmask */
	msix_config_written(&m, ctrl_at, 2);
	cr_assert_eq(rec_count(rec, REC_MSI), 2, "delivered on function unmask");
	assert_delivered(1, AM_MSI_BASE, 0x41);
	msix_table_access(&m, 64 * PCI_MSIX_ENTRY_SIZE, (uint8_t *)&back, 4, true);  /* past the end */
	cr_assert_eq(msix_notify(&m, 9, NULL), -EINVAL, "no such vector");
	cr_assert_eq(rec_count(rec, REC_MSI), 2);
	msix_rig_destroy(&m);
}

/* --irq line: each vector has a route; a table rewrite re-points it, in KVM too. */
Test(pci, msix_table_rewrite_repoints_the_route)
{
	struct msix m;
	struct kvm_irq_routing_entry e;
	msix_rig(&m, IRQ_PATH_LINE, 4, true);
	msix_entry_write(&m, 1, AM_MSI_BASE, 0x41, 0);
	cr_assert_eq(msix_notify(&m, 1, NULL), 0);
	struct rec_event line = rec_nth(rec, REC_LINE, 0);
	cr_assert_geq(line.gsi, IRQ_FIRST_MSI_GSI);
	cr_assert_eq(rec_routes(rec, line.gsi, &e), 1);
	cr_assert_eq(e.u.msi.data, 0x41);
	msix_entry_write(&m, 1, (AM_MSI_BASE | 3 << 12), 0x57, 0);
	cr_assert_eq(msix_notify(&m, 1, NULL), 0);
	cr_assert_eq(rec_nth(rec, REC_LINE, 1).gsi, line.gsi, "the same route");
	cr_assert_eq(rec_routes(rec, line.gsi, &e), 1, "replaced, not added");
	cr_assert_eq(e.u.msi.address_lo, (AM_MSI_BASE | 3 << 12));
	cr_assert_eq(e.u.msi.data, 0x57);
	msix_destroy(&m);
	cr_assert_eq(rec_routes(rec, line.gsi, NULL), 0, "given back with the device");
	rec_chip_destroy(&chip, rec);
}

/* --irq irqfd: a vector whose irqfd KVM refuses is tried again later, leaking nothing. */
Test(pci, msix_source_retried_without_leaks)
{
	struct msix m;
	msix_rig(&m, IRQ_PATH_IRQFD, 4, true);
	unsigned fds = open_fds();
	msix_entry_write(&m, 0, AM_MSI_BASE, 0x41, 0);
	rec_fail(rec, REC_IRQFD_ASSIGN, ENOMEM, 3);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(msix_notify(&m, 0, NULL), -ENOMEM);
	cr_assert_eq(m.delivery_errors, 3);
	cr_assert_eq(open_fds(), fds, "no eventfd left behind");
	cr_assert_eq(rec->table_nr, 38, "no route left behind");
	cr_assert_eq(msix_notify(&m, 0, NULL), 0);
	struct rec_event a = rec_nth(rec, REC_IRQFD_ASSIGN, 0);
	cr_assert_eq(a.gsi, IRQ_FIRST_MSI_GSI, "no GSI lost to the failures");
	cr_assert_eq(rec_nth(rec, REC_SIGNAL, 0).fd, a.fd, "delivered through it");
	cr_assert_eq(rec_count(rec, REC_SIGNAL), 1);
	msix_rig_destroy(&m);
	cr_assert_eq(open_fds(), fds, "the working one closed with the device");
}

static void setup_quiet(void)
{
	setup();
	cr_redirect_stderr();
}

/* A delivery KVM refuses is counted and logged a few times, and the device goes on. */
Test(pci, msix_delivery_failures_are_counted_not_fatal, .init = setup_quiet)
{
	struct msix m;
	uint16_t ctrl_at = msix_rig(&m, IRQ_PATH_MSI, 4, true);
	msix_entry_write(&m, 3, AM_MSI_BASE, 0x44, 0);
	rec_fail(rec, REC_MSI, EINVAL, 0);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(msix_notify(&m, 3, NULL), -EINVAL, "the caller learns of it");
	cr_assert_eq(m.delivery_errors, 100);
	conf1_write(1, ctrl_at, 0xc000, 2);              /* masked, pending, then released */
	msix_config_written(&m, ctrl_at, 2);
	msix_notify(&m, 3, NULL);
	conf1_write(1, ctrl_at, PCI_MSIX_FLAGS_ENABLE, 2);
	msix_config_written(&m, ctrl_at, 2);
	cr_assert_eq(m.delivery_errors, 101, "a failed release on unmask counts too");
	rec_fail(rec, REC_MSI, 0, 0);
	cr_assert_eq(msix_notify(&m, 3, NULL), 0);
	cr_assert_eq(rec_count(rec, REC_MSI), 1, "delivered once KVM takes it again");
	assert_delivered(0, AM_MSI_BASE, 0x44);
	cr_assert_eq(m.delivery_errors, 101);

	fflush(stderr);
	FILE *log = cr_get_redirected_stderr();
	char line[512];
	unsigned lines = 0, irq_lines = 0;
	/* The device names its vector; the irq layer, which sees every delivery, the KVM call. */
	while (fgets(line, sizeof(line), log)) {
		if (strstr(line, "interrupt not delivered: KVM_SIGNAL_MSI: ")) {
			irq_lines++;
			continue;
		}
		cr_assert(strstr(line, "MSI-X vector 3: interrupt not delivered"), "%s", line);
		lines++;
	}
	cr_assert_geq(lines, 1, "said at least once");
	cr_assert_leq(lines, 4, "rate-limited: %u lines for 101 failures", lines);
	cr_assert_leq(irq_lines, 4, "the irq layer's too: %u lines", irq_lines);
	cr_assert_eq(rec->failed_calls, 0, "the guest's doing: the VM goes on");
	msix_rig_destroy(&m);
}
