#!/usr/bin/env python3
"""The built-in guest boots through the real binary and reports what it saw."""
import os
import re
import subprocess
import tempfile

import harness
from harness import boot, count_lines, expect_lines


def test_builtin_one_cpu(ctx):
    code, out, err = boot(ctx, [], expect_rc=0)
    expect_lines(out, [r"^ringvm-guest: 1 cpus, 512 MiB",
                       r"^memory: 0x0000000000000000-0x000000000009ffff ram",
                       r"^memory: 0x0000000000100000-0x000000001fffffff ram",
                       r"^test serial: pass", r"^test smp: pass", r"^guest: all tests passed"])
    assert count_lines(out, r"^cpu \d+: online") == 0, out
    assert err == "", err


def test_builtin_four_cpus(ctx):
    code, out, err = boot(ctx, ["--cpus", "4"], expect_rc=0)
    expect_lines(out, [r"^ringvm-guest: 4 cpus", r"^test smp: pass"])
    for cpu in (1, 2, 3):
        assert count_lines(out, r"^cpu %d: online \(apic %d\)" % (cpu, cpu)) == 1, out
    assert count_lines(out, r"^cpu \d+: online") == 3, out


def test_tsc_deadline_timer_is_offered_and_fires(ctx):
    code, out, err = boot(ctx, ["--", "test=tsc-deadline"], expect_rc=0)
    expect_lines(out, [r"^test tsc-deadline: pass"])


def test_memory_above_4g(ctx):
    code, out, err = boot(ctx, ["--memory", "5G", "--", "test=serial"], expect_rc=0)
    expect_lines(out, [r"^ringvm-guest: 1 cpus, 5120 MiB",
                       r"^memory: 0x0000000000100000-0x00000000bfffffff ram",
                       r"^memory: 0x0000000100000000-0x000000017fffffff ram"])


def test_debug_exit_status(ctx):
    code, out, err = boot(ctx, ["--", "test=serial", "exit=42"], expect_rc=42)
    expect_lines(out, [r"^guest: all tests passed"])


def test_failing_test_fails_the_run(ctx):
    code, out, err = boot(ctx, ["--", "test=nosuch"], expect_rc=1)
    expect_lines(out, [r"^test nosuch: FAIL \(unknown test\)"])


def test_serial_input_reaches_the_guest(ctx):
    code, out, err = boot(ctx, ["--", "test=input"], stdin=b"hello ringvm\n", expect_rc=0)
    expect_lines(out, [r"^input: hello ringvm$", r"^test input: pass"])


def test_cmdline_reaches_the_guest(ctx):
    code, out, err = boot(ctx, ["--cmdline", "exit=9", "--", "test=serial"], expect_rc=9)


def test_dump_dtb_is_a_valid_machine_description(ctx):
    with tempfile.TemporaryDirectory() as tmp:
        dtb = os.path.join(tmp, "ringvm.dtb")
        code, out, err = boot(ctx, ["--cpus", "3", "--memory", "5G", "--dump-dtb", dtb,
                                    "--cmdline", "console=ttyS0"], expect_rc=0)
        assert out == "" and err == "", (out, err)
        dtc = subprocess.run(["dtc", "-I", "dtb", "-O", "dts", dtb], capture_output=True, text=True)
    assert dtc.returncode == 0 and dtc.stderr == "", dtc.stderr
    dts = dtc.stdout
    assert len(re.findall(r"^\s*cpu@\d+ \{", dts, re.M)) == 3, dts
    # Low RAM around the legacy hole, then 2 GiB above 4 GiB: 5 GiB less the 3 GiB below the hole.
    assert "reg = <0x00 0x00 0x00 0xa0000 0x00 0x100000 0x00 0xbff00000 0x01 0x00 0x00 0x80000000>;" \
        in dts, dts
    assert 'bootargs = "console=ttyS0";' in dts, dts
    assert "pci@e0000000" in dts and "serial@i3f8" in dts, dts


def test_dump_dtb_to_an_unwritable_path_fails_cleanly(ctx):
    code, out, err = boot(ctx, ["--dump-dtb", "/nonexistent/dir/x.dtb"], expect_rc=1)
    assert re.match(r"ringvm: .*/nonexistent/dir/x\.dtb.*\n$", err), err


if __name__ == "__main__":
    raise SystemExit(harness.main(globals()))
