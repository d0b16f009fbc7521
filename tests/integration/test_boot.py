#!/usr/bin/env python3
"""The built-in guest boots through the real binary and reports what it saw."""
import harness
from harness import count_lines, expect_lines, need_kvm


def boot(ctx, args, **kw):
    need_kvm()
    return ctx.run(["run"] + args, **kw)


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


if __name__ == "__main__":
    raise SystemExit(harness.main(globals()))
