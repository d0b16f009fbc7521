#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "abi/address_map.h"
#include "devices/msix.h"
#include "devices/pci.h"

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

/* MSI-X: masking and pending bits, without KVM (injection fails quietly). */
Test(pci, msix_masking_and_pending)
{
	struct irq_chip chip = { .vm_fd = -1, .path = IRQ_PATH_MSI };
	struct msix m;
	cr_assert_eq(msix_init(&m, &dev, &chip, 4, 0, 0x1000, 0x2000), 0);
	cr_assert_eq(pci_bus_plug(&pci, &dev), 0);
	cr_assert_eq(dev.config[m.cap + PCI_CAP_LIST_ID], PCI_CAP_ID_MSIX);
	uint16_t ctrl_at = m.cap + PCI_MSIX_FLAGS;
	cr_assert_eq(pci_get16(&dev, ctrl_at) & PCI_MSIX_FLAGS_QSIZE, 3, "table size - 1");
	cr_assert_eq(pci_get32(&dev, m.cap + PCI_MSIX_TABLE), 0x1000, "table in BAR 0");
	cr_assert_eq(pci_get32(&dev, m.cap + PCI_MSIX_PBA), 0x2000, "PBA in BAR 0");
	uint64_t pba = 0;
	msix_notify(&m, 2, NULL);
	msix_pba_access(&m, 0, (uint8_t *)&pba, 8, false);
	cr_assert_eq(pba, 1u << 2, "disabled: pending");
	conf1_write(1, ctrl_at, PCI_MSIX_FLAGS_ENABLE, 2);   /* entries still masked */
	msix_config_written(&m, ctrl_at, 2);
	msix_pba_access(&m, 0, (uint8_t *)&pba, 8, false);
	cr_assert_eq(pba, 1u << 2, "still masked per vector");
	uint32_t addr = 0xfee00000, data = 0x41, ctrl = 0;  /* unmasked */
	uint64_t e2 = 2 * PCI_MSIX_ENTRY_SIZE;
	msix_table_access(&m, e2 + PCI_MSIX_ENTRY_LOWER_ADDR, (uint8_t *)&addr, 4, true);
	msix_table_access(&m, e2 + PCI_MSIX_ENTRY_DATA, (uint8_t *)&data, 4, true);
	msix_table_access(&m, e2 + PCI_MSIX_ENTRY_VECTOR_CTRL, (uint8_t *)&ctrl, 4, true);
	msix_pba_access(&m, 0, (uint8_t *)&pba, 8, false);
	cr_assert_eq(pba, 0, "delivered on unmask");
	uint32_t back = 0;
	msix_table_access(&m, e2 + PCI_MSIX_ENTRY_DATA, (uint8_t *)&back, 4, false);
	cr_assert_eq(back, 0x41);
	conf1_write(1, ctrl_at, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL, 2);
	msix_config_written(&m, ctrl_at, 2);
	msix_notify(&m, 2, NULL);
	msix_pba_access(&m, 0, (uint8_t *)&pba, 8, false);
	cr_assert_eq(pba, 1u << 2, "function masked: pending");
	msix_table_access(&m, 64 * PCI_MSIX_ENTRY_SIZE, (uint8_t *)&back, 4, true);  /* past the end */
	cr_assert_eq(msix_notify(&m, 9, NULL), -EINVAL, "no such vector");
	msix_destroy(&m);
}
