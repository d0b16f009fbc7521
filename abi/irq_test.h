/*
 * The irq-test device's registers, as testdev/irq_test.c implements them and the
 * built-in guest drives them (guest/README.md: "The irq-test device"). All are
 * 32-bit I/O ports at AM_PORT_IRQ_TEST + offset. Freestanding, for C and assembly.
 */
#ifndef RINGVM_ABI_IRQ_TEST_H
#define RINGVM_ABI_IRQ_TEST_H

#include "abi/address_map.h"

#define IRQ_TEST_CHANNELS      2

/* Register offsets. */
#define IRQ_TEST_DOORBELL0     0x00    /* + 4 * channel; write: one interrupt, value ignored */
#define IRQ_TEST_CONFIG        0x08    /* write: CONFIG; read: its STATUS */
#define IRQ_TEST_ACK           0x0c    /* write: the channel whose level line to lower */
#define IRQ_TEST_RAISED0       0x10    /* + 4 * channel; read: raises since CONFIG */
#define IRQ_TEST_INFO          0x18
#define IRQ_TEST_PENDING       0x1c    /* bit N: channel N's level line is up */
#define IRQ_TEST_REG(offset)   (AM_PORT_IRQ_TEST + (offset))

/* CONFIG fields: channel in bits 0-1, then these. */
#define IRQ_TEST_CHANNEL_MASK  0x3
#define IRQ_TEST_PATH_SHIFT    2       /* 3 bits */
#define IRQ_TEST_PATH_MASK     0x7
#define IRQ_TEST_SOURCE_SHIFT  5       /* 2 bits */
#define IRQ_TEST_SOURCE_MASK   0x3
#define IRQ_TEST_VECTOR_SHIFT  8       /* 8 bits: MSI sources */
#define IRQ_TEST_PIN_SHIFT     16      /* 5 bits: pin sources */
#define IRQ_TEST_PIN_MASK      0x1f
#define IRQ_TEST_DEST_SHIFT    24      /* 8 bits: APIC ID, MSI sources */

/* Paths: how the host raises the interrupt a doorbell asks for. */
#define IRQ_TEST_PATH_LIMIT    0
#define IRQ_TEST_PATH_LINKED   1
#define IRQ_TEST_PATH_IRQFD    2
#define IRQ_TEST_PATH_MSI      3
#define IRQ_TEST_PATH_LINE     4
#define IRQ_TEST_PATH_LOCAL    5
#define IRQ_TEST_PATH_EXTERNAL 6
#define IRQ_TEST_PATHS         7

/* Sources: what kind of interrupt arrives. */
#define IRQ_TEST_SOURCE_MSI    0
#define IRQ_TEST_SOURCE_EDGE   1       /* IOAPIC pin, edge */
#define IRQ_TEST_SOURCE_LEVEL  2       /* IOAPIC pin, level, active high */
#define IRQ_TEST_SOURCES       3

/* STATUS of the last CONFIG. */
#define IRQ_TEST_OK            0
#define IRQ_TEST_BAD_CHANNEL   1
#define IRQ_TEST_UNSUPPORTED   2
#define IRQ_TEST_HOST_ERROR    3

/* INFO bits. */
#define IRQ_TEST_INFO_SPLIT    0x1     /* split irqchip */
#define IRQ_TEST_INFO_PATH_SHIFT 8     /* 3 bits: the VM's default path */
#define IRQ_TEST_INFO_EXTERNAL 0x10000 /* an external servicer was given */

#define IRQ_TEST_NOT_OBSERVABLE 0xffffffff  /* RAISED on a path that cannot count */
#define IRQ_TEST_FIRST_PIN     20      /* IOAPIC pins free for the device */
#define IRQ_TEST_LAST_PIN      23

#endif
