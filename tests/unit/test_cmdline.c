#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "abi/address_map.h"
#include "machine/cmdline.h"

Test(cmdline, mmio_devices_are_named_on_the_command_line)
{
	char *const args[] = { "test=virtio" };
	struct vm_config cfg = { .cmdline = "console=ttyS0", .transport = VIRTIO_TRANSPORT_MMIO,
				 .nr_disks = 2, .rng = true, .guest_args = args, .nr_guest_args = 1 };
	char *line = cmdline_build(&cfg);
	cr_assert_not_null(line);
	cr_expect_str_eq(line, "console=ttyS0 virtio_mmio.device=0x200@0xfeb00000:5 "
			       "virtio_mmio.device=0x200@0xfeb00200:6 "
			       "virtio_mmio.device=0x200@0xfeb00400:7 test=virtio");
	free(line);
}

Test(cmdline, pci_devices_are_not)
{
	struct vm_config cfg = { .cmdline = "console=ttyS0", .nr_disks = 2, .rng = true };
	char *line = cmdline_build(&cfg);
	cr_assert_not_null(line);
	cr_expect_str_eq(line, "console=ttyS0");
	free(line);
}

Test(cmdline, every_slot_fits)
{
	struct vm_config cfg = { .transport = VIRTIO_TRANSPORT_MMIO, .nr_disks = 8, .nr_nets = 4,
				 .rng = true };
	char *line = cmdline_build(&cfg);
	cr_assert_not_null(line);
	cr_expect_not_null(strstr(line, "virtio_mmio.device=0x200@0xfeb01800:17"), "%s", line);
	cr_expect_eq(line[0], 'v', "no leading space");
	free(line);
}
