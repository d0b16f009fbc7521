#!/usr/bin/env python3
"""virtio-mmio (--transport mmio) through the real binary: the built-in guest finds its
devices in the virtio-mmio slots (there is no PCI function then) and its drivers run
the same self-tests as on PCI; the interrupts come on each slot's IOAPIC pin."""
import os
import re
import subprocess
import tempfile

import harness
from harness import boot, expect_lines, need_kvm
from test_virtio import bad_sectors, image, netns_with_tap


def test_mmio_blk_and_rng(ctx):
    """Disk 0's two queues on two I/O threads raise one slot's line between them."""
    with tempfile.TemporaryDirectory() as tmp:
        disk = image(tmp, "d.img", 4096)
        before = os.urandom(1024 * 512)
        ro = image(tmp, "ro.img", 1024, before)
        code, out, err = boot(ctx, ["--transport", "mmio", "--cpus", "2",
                                    "--disk", "path=%s,queues=2,serial=mmio-disk0,iothread=1-2" % disk,
                                    "--disk", "path=%s,readonly=on" % ro, "--rng",
                                    "--", "test=blk,rng", "blk.seed=5"])
        expect_lines(out, [r"^blk 0: 4096 sectors, 2 queues, serial mmio-disk0, rw: ok$",
                           r"^blk 1: 1024 sectors, 2 queues, serial \(none\), ro: ok$",
                           r"^test blk: pass$",
                           r"^rng 0: 2 reads of 64 bytes ok$", r"^test rng: pass$"])
        assert bad_sectors(disk, seed=5) == []
        with open(ro, "rb") as f:
            assert f.read() == before, "the read-only disk changed"
        assert err == "", err


def test_mmio_blk_on_the_split_irqchip(ctx):
    """ringvm's own IOAPIC takes the slots' lines, and the irqfd path sends its MSIs."""
    with tempfile.TemporaryDirectory() as tmp:
        disk = image(tmp, "d.img", 2048)
        code, out, err = boot(ctx, ["--transport", "mmio", "--irqchip", "split",
                                    "--disk", "path=%s,queues=1" % disk, "--rng",
                                    "--", "test=blk,rng", "blk.seed=9"])
        expect_lines(out, [r"^blk 0: 2048 sectors, 1 queues, serial \(none\), rw: ok$",
                           r"^test blk: pass$", r"^test rng: pass$"])
        assert bad_sectors(disk, seed=9) == []
        assert err == "", err


def test_mmio_net_multiqueue_arp_and_ping(ctx):
    """Five queues (two pairs and the control queue) behind one slot and its pin."""
    need_kvm()
    with netns_with_tap(ctx, queues=2) as inns:
        code, out, err = ctx.run_wrapped(inns, ["run", "--transport", "mmio", "--cpus", "2",
                                                "--net", "tap=tap0,mac=52:54:00:12:34:57,queues=2",
                                                "--", "test=net"], timeout=120)
    assert code == 0, (code, out, err)
    expect_lines(out, [r"^net 0: mac 52:54:00:12:34:57, arp and ping ok$", r"^test net: pass$"])


def test_mmio_devices_in_the_machine_description_and_command_line(ctx):
    with tempfile.TemporaryDirectory() as tmp:
        disk = image(tmp, "d.img", 64)
        dtb = os.path.join(tmp, "ringvm.dtb")
        code, out, err = boot(ctx, ["--transport", "mmio", "--disk", "path=" + disk, "--rng",
                                    "--dump-dtb", dtb, "--cmdline", "console=ttyS0"], expect_rc=0)
        assert out == "" and err == "", (out, err)
        dtc = subprocess.run(["dtc", "-I", "dtb", "-O", "dts", dtb], capture_output=True, text=True)
    assert dtc.returncode == 0, dtc.stderr
    dts = dtc.stdout
    assert len(re.findall(r'compatible = "virtio,mmio";', dts)) == 2, dts
    assert "virtio_mmio@feb00000" in dts and "virtio_mmio@feb00200" in dts, dts
    assert ('bootargs = "console=ttyS0 virtio_mmio.device=0x200@0xfeb00000:5 '
            'virtio_mmio.device=0x200@0xfeb00200:6";') in dts, dts
    assert "pci@e0000000" in dts, "the host bridge stays (empty)"


def test_mmio_bad_transport_is_refused(ctx):
    code, out, err = ctx.run(["run", "--transport", "isa"])
    assert code == 2, (code, err)
    assert "--transport 'isa': must be pci or mmio" in err, err


if __name__ == "__main__":
    raise SystemExit(harness.main(globals()))
