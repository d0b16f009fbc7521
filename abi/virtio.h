/*
 * Virtio values the kernel's uapi headers (<linux/virtio_*.h>) lack, for the
 * VMM's devices and the guest's drivers alike. Section numbers are virtio 1.2's.
 */
#ifndef RINGVM_ABI_VIRTIO_H
#define RINGVM_ABI_VIRTIO_H

/* uapi feature names are bit numbers (2.2); negotiation moves 64-bit masks of them. */
#define VIRTIO_BIT(feature)          (1ULL << (feature))

/* 4.1.2: every virtio PCI function has this vendor, and a modern one 0x1040 + its device ID (5). */
#define VIRTIO_PCI_VENDOR            0x1af4
#define VIRTIO_PCI_MODERN_DEVICE(id) (0x1040 + (id))

/* 4.1.4.5: ISR status bit 0, a used buffer notification (uapi names only the config bit). */
#define VIRTIO_PCI_ISR_QUEUE         0x1

#endif
