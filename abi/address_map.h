/*
 * The machine's address map: every guest-physical window, fixed placement and
 * I/O port of a ringvm PC. The VMM builds its buses and its device tree (and
 * through that e820 and ACPI) from it; the built-in guest finds its devices by
 * it. Its layout follows QEMU's microvm where both have a window, so that the
 * built-in guest runs on either. Freestanding macros, for C and assembly.
 */
#ifndef RINGVM_ABI_ADDRESS_MAP_H
#define RINGVM_ABI_ADDRESS_MAP_H

#ifdef __ASSEMBLER__
#define AM_ULL(x) x
#else
#define AM_ULL(x) x##ULL
#endif

/*
 * Low memory: boot data ringvm writes (kernels may not load over it), with one
 * page left free inside for the built-in guest's AP start code (SIPI needs a
 * page below 1 MiB), then the legacy hole, RAM-backed but never usable RAM.
 */
#define AM_BOOT_DATA_START  AM_ULL(0x500)       /* first byte after the BIOS data area */
#define AM_BOOT_GDT         AM_BOOT_DATA_START
#define AM_BOOT_START_INFO  AM_ULL(0x6000)      /* PVH start info, or the Multiboot information */
#define AM_BOOT_ZERO_PAGE   AM_ULL(0x7000)      /* Linux's boot_params */
#define AM_AP_TRAMPOLINE    AM_ULL(0x8000)      /* one page, the built-in guest's */
#define AM_BOOT_PAGE_TABLES AM_ULL(0x9000)      /* PML4, PDPT, 4 PDs: to 0xefff */
#define AM_BOOT_CMDLINE     AM_ULL(0x20000)
#define AM_BOOT_DATA_END    AM_ULL(0x30000)
#define AM_LEGACY_START     AM_ULL(0xa0000)     /* VGA and option ROM space ... */
#define AM_ACPI_BASE        AM_ULL(0xe0000)     /* ... holding the ACPI tables, RSDP first */
#define AM_ACPI_SIZE        AM_ULL(0x10000)
#define AM_MPTABLE_BASE     AM_ULL(0xf1000)     /* Intel MP tables: in the BIOS area Linux scans */
#define AM_MPTABLE_SIZE     AM_ULL(0x2000)
#define AM_RESET_VECTOR     AM_ULL(0xffff0)     /* f000:fff0 */
#define AM_LEGACY_END       AM_ULL(0x100000)

/* The 32-bit hole: RAM stops below it and resumes at 4 GiB. */
#define AM_LOW_RAM_END      AM_ULL(0xc0000000)
#define AM_MMIO32_START     AM_LOW_RAM_END
#define AM_PCI_MMIO32_BASE  AM_MMIO32_START     /* where 32-bit BARs go */
#define AM_PCI_MMIO32_SIZE  AM_ULL(0x20000000)
#define AM_ECAM_BASE        AM_ULL(0xe0000000)
#define AM_ECAM_BUSES       1                   /* bus 0 only: 1 MiB, not microvm's 256 */
#define AM_ECAM_SIZE        (AM_ECAM_BUSES * AM_ULL(0x100000))
/*
 * virtio-mmio transports (--transport mmio): slot i's registers at BASE + i * STRIDE,
 * its interrupt on IOAPIC pin FIRST_IRQ + i, level-triggered (microvm's window; pins
 * 5 to 19, below the irq-test device's and clear of COM1's).
 */
#define AM_VIRTIO_MMIO_BASE      AM_ULL(0xfeb00000)
#define AM_VIRTIO_MMIO_STRIDE    AM_ULL(0x200)
#define AM_VIRTIO_MMIO_SLOTS     15
#define AM_VIRTIO_MMIO_FIRST_IRQ 5
#define AM_IOAPIC_BASE      AM_ULL(0xfec00000)
#define AM_IOAPIC_SIZE      AM_ULL(0x1000)
#define AM_LAPIC_BASE       AM_ULL(0xfee00000)
#define AM_LAPIC_SIZE       AM_ULL(0x1000)
#define AM_MSI_BASE         AM_LAPIC_BASE       /* MSI writes land in the LAPIC's window */
#define AM_KVM_IDENTITY_MAP AM_ULL(0xfffbc000)  /* one page: KVM's real-mode identity map */
#define AM_KVM_TSS          AM_ULL(0xfffbd000)  /* three pages KVM needs for real mode on VMX */
#define AM_KVM_TSS_SIZE     AM_ULL(0x3000)
#define AM_SYSTEM_START     AM_IOAPIC_BASE      /* from here to 4 GiB: reserved in e820 */
#define AM_HIGH_RAM_START   AM_ULL(0x100000000)

/* I/O ports. */
#define AM_PORT_I8042_DATA    0x60
#define AM_PORT_I8042_COMMAND 0x64
#define AM_I8042_IRQ          1                 /* the keyboard's ISA IRQ, and IOAPIC pin */
#define AM_PORT_DEBUG_EXIT    0xf4              /* where QEMU's isa-debug-exit usually is */
#define AM_DEBUG_EXIT_PORTS   4                 /* a 4-byte out (QEMU's iosize=4) spans them */
#define AM_PORT_COM1          0x3f8
#define AM_COM1_PORTS         8
#define AM_COM1_IRQ           4                 /* ISA IRQ, and IOAPIC pin */
#define AM_PORT_IRQ_TEST      0x510             /* registers: abi/irq_test.h */
#define AM_IRQ_TEST_PORTS     0x20
#define AM_PORT_ACPI_SLEEP    0x600             /* sleep control (write), status at +1 (read) */
#define AM_ACPI_SLEEP_PORTS   2
#define AM_PORT_PCI_CONF1     0xcf8             /* CONFIG_ADDRESS (dword), CONFIG_DATA at +4 */
#define AM_PCI_CONF1_PORTS    8
#define AM_PORT_RESET_CONTROL 0xcf9             /* a byte access inside the CONF1 ports */
#define AM_PCI_IO_BASE        0xc000            /* where I/O BARs go, to the top of port space */
#define AM_PCI_IO_SIZE        0x4000

#endif
