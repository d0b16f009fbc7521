/* Constants shared by the assembly entry code and C: selectors, vectors, sizes. */
#ifndef RINGVM_GUEST_LAYOUT_H
#define RINGVM_GUEST_LAYOUT_H

/* GDT selectors (entry.S builds the table in this order). */
#define SEL_CODE32 0x08
#define SEL_CODE64 0x10
#define SEL_DATA   0x18
#define GDT_LIMIT  (4 * 8 - 1)

/* Where the VMM loads the image; isr.S's stubs come first (linker.ld checks). */
#define LOAD_ADDR 0x100000

/* Interrupt vectors; the IDT ends at NR_VECTORS, anything higher raises #GP. */
#define VEC_EXCEPTIONS  32      /* 0..31 are CPU exceptions */
#define VEC_TIMER       0x20    /* LAPIC timer: timeouts */
#define VEC_WAKE        0x21    /* IPI an AP sends the BSP after reporting in */
#define VEC_DEADLINE    0x22    /* LAPIC timer in TSC-deadline mode (tests/tsc_deadline.c) */
#define VEC_SPURIOUS    0x2f    /* low nibble all ones, as old APICs require */
#define VEC_ISA_BASE    0x30    /* ISA IRQ n arrives as VEC_ISA_BASE + n */

/*
 * The irq-test device's vectors (tests/irq.c, tests/irqlat.c). Their gates
 * point straight at isr.S's short handlers, not through interrupt_dispatch:
 * on an emulated host each instruction saved is saved 100 000 times.
 */
#define VEC_IRQDEV_EDGE      0x40   /* + channel: count */
#define VEC_IRQDEV_LEVEL     0x42   /* + channel: count and ACK if the line is up */
#define VEC_IRQDEV_TSC       0x44   /* channel 0: TSC, count */
#define VEC_IRQDEV_TSC_LEVEL 0x45   /* channel 0: TSC, count and ACK if the line is up */
#define VEC_IRQDEV_FIRST     VEC_IRQDEV_EDGE

/*
 * virtio MSI-X vectors, one per queue and one per device for configuration
 * changes, handed out in order and shared round-robin once they run out
 * (a shared vector only wakes more waiters). isr.S's handler for each reads
 * the TSC and counts, for virtiortt and for checks that a queue's own
 * vector fired.
 */
#define VEC_VIRTIO_FIRST     0x46
#define NR_VIRTIO_VECTORS    26
#define NR_VECTORS           (VEC_VIRTIO_FIRST + NR_VIRTIO_VECTORS)     /* 0x60 */

/* CPUs: xAPIC IDs are 8 bits and 0xff is the broadcast ID. */
#define MAX_CPUS          255
#define AP_STACK_SHIFT    12    /* 4 KiB per AP: it only prints one line */
#define BSP_STACK_SIZE    16384

#endif
