/*
 * PCI configuration space through both of the guest's ways in — CONF1 ports
 * (0xcf8/0xcfc, with the reset register at 0xcf9) and ECAM — against the host bridge
 * and two virtio-rng functions, plus accesses wherever the guest has moved their BARs
 * (the MSI-X table and PBA included). The guest may size, move, overlap and disable
 * BARs, and write any byte of the 4 KiB of each function.
 */
#include "abi/address_map.h"
#include "devices/virtio_rng.h"
#include "virtio_fuzz.h"

static struct vf rig;               /* large; fully reset by vf_init for each input */
static struct virtio_rng rng[2];
static uint8_t reset_control;       /* what the guest last wrote to 0xcf9 */

static void cf9(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	(void)opaque, (void)offset, (void)len;
	if (is_write)
		reset_control = data[0];
	else
		data[0] = reset_control;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	struct error err = { 0 };

	vf_init(&rig);
	pci_bus_init(&rig.pci, &rig.pio, &rig.mmio, cf9, NULL);
	bus_register(&rig.pio, AM_PORT_PCI_CONF1, AM_PCI_CONF1_PORTS, pci_conf1_access, &rig.pci,
		     "pci-conf1");
	bus_register(&rig.mmio, AM_ECAM_BASE, AM_ECAM_SIZE, pci_ecam_access, &rig.pci, "pci-ecam");
	for (unsigned i = 0; i < 2; i++) {
		if (virtio_rng_init(&rng[i], &rig.mem, &rig.loop, -1, &err))
			fz_fail("virtio_rng_init: %s", err.msg);
		if (vf_attach(&rig, &rig.extra[i], &rng[i].vdev))
			fz_fail("plug");
	}
	while (fz_more(&f)) {
		uint8_t op = fz_u8(&f);
		uint32_t len = fz_width(&f);
		bool write = op & 0x80;
		uint64_t val = write ? fz_u64(&f) : 0, addr;
		struct bus *bus = &rig.mmio;
		switch (op % 5) {
		case 0:         /* CONF1: CONFIG_ADDRESS, CONFIG_DATA (and 0xcf9) */
			addr = AM_PORT_PCI_CONF1 + fz_u8(&f) % AM_PCI_CONF1_PORTS;
			bus = &rig.pio;
			break;
		case 1:         /* ECAM: bus 0, any device, function, register */
			addr = AM_ECAM_BASE + fz_u32(&f) % AM_ECAM_SIZE;
			break;
		case 2: {       /* a BAR where the guest put it */
			struct pci_device *dev = &rig.extra[fz_u8(&f) & 1].pci;
			unsigned n = fz_u8(&f) % PCI_STD_NUM_BARS;
			addr = dev->bar[n].mapped_at + fz_u16(&f);
			bus = dev->bar[n].io ? &rig.pio : &rig.mmio;
			break;
		}
		case 3:         /* anywhere in port space */
			addr = fz_u16(&f);
			bus = &rig.pio;
			break;
		default:        /* anywhere in the 32-bit PCI window */
			addr = AM_PCI_MMIO32_BASE + fz_u32(&f) % AM_PCI_MMIO32_SIZE;
			break;
		}
		bus_dispatch(bus, addr, (uint8_t *)&val, len, write);
	}
	vf_fini(&rig);
	for (unsigned i = 0; i < 2; i++)
		virtio_rng_destroy(&rng[i]);
	return 0;
}
