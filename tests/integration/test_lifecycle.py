#!/usr/bin/env python3
"""How ringvm stops: signals, guest resets, guest faults, a closed stdout, the terminal."""
import os
import re
import signal
import subprocess
import shutil
import tempfile
import termios
import time

import harness
from harness import boot, expect_lines, need_kvm, pvh_kernel, start, wait_for_output


def stop_with_signal(ctx, sig):
    proc = start(ctx, ["--cpus", "2", "--", "test=input"])
    try:
        wait_for_output(proc.stdout, r"ringvm-guest:", timeout=30)
        proc.send_signal(sig)
        rc = proc.wait(timeout=20)
    finally:
        proc.kill()
    err = proc.stderr.read().decode()
    harness.check_sanitizers(err)
    assert rc == 128 + sig, "exit %d after signal %d; stderr %s" % (rc, sig, err)
    assert err.strip() == "ringvm: stopped by SIG%s" % signal.Signals(sig).name[3:], err


def test_sigterm_stops_cleanly(ctx):
    stop_with_signal(ctx, signal.SIGTERM)


def test_sigint_stops_cleanly(ctx):
    stop_with_signal(ctx, signal.SIGINT)


FD_CREATORS = re.compile(
    r"^(?:openat\(.*\)|memfd_create\(.*\)|eventfd2\(.*\)|signalfd4\(.*\)|"
    r"io_uring_setup\(.*\)|ioctl\(\d+, KVM_CREATE_(?:VM|VCPU).*\)) += (\d+)")


def syscalls(trace):
    """(tid, call) pairs from `strace -f` output, with interrupted calls stitched back
    together, in the order they completed."""
    pending = {}
    for line in trace.splitlines():
        tid, call = line.split(None, 1)
        if call.endswith("<unfinished ...>"):
            pending[tid] = call[:-len("<unfinished ...>")].rstrip()
            continue
        resumed = re.match(r"<\.\.\. \w+ resumed>(.*)", call)
        if resumed:
            call = pending.pop(tid, "") + resumed.group(1)
        yield int(tid), call


def test_sigterm_joins_threads_and_closes_fds(ctx):
    """Under strace: every thread ends with its own exit() and every fd ringvm made is
    closed before the process exits."""
    need_kvm()
    if not shutil.which("strace"):
        raise AssertionError("strace is missing: Debian package strace (scripts/setup installs it)")
    # LeakSanitizer stops the world with ptrace, which strace already holds.
    env = dict(os.environ, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0")
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "trace")
        proc = ctx.popen(["strace", "-f", "-qq", "-o", log, "-e",
                                 "trace=clone,clone3,exit,exit_group,openat,close,memfd_create,"
                                 "eventfd2,signalfd4,io_uring_setup,ioctl",
                                 ctx.ringvm, "run", "--cpus", "4", "--", "test=input"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env)
        try:
            wait_for_output(proc.stdout, r"ringvm-guest:", timeout=60)
            time.sleep(0.2)
            ringvm_pid = int(open(log).readline().split()[0])
            ctx.kill(ringvm_pid, signal.SIGTERM)
            rc = proc.wait(timeout=60)
        finally:
            proc.kill()
        err = proc.stderr.read().decode()
        harness.check_sanitizers(err)
        assert rc == 128 + signal.SIGTERM, (rc, err)
        trace = open(log).read()

    calls = list(syscalls(trace))
    main_tid = calls[0][0]
    threads = set(tid for tid, _ in calls) - {main_tid}
    exited = set(tid for tid, call in calls if call.startswith("exit("))
    assert len(threads) >= 4, "expected at least the 4 vCPU threads:\n" + trace
    assert threads <= exited, "threads never joined: %s\n%s" % (threads - exited, trace)
    assert calls[-1] == (main_tid, calls[-1][1]) and calls[-1][1].startswith("exit_group"), \
        "the main thread must be the last to go:\n" + trace

    # Replay fd creation and closing in order; what is left open at exit_group leaked.
    open_fds = {}
    for tid, call in calls:
        made = FD_CREATORS.match(call)
        if made:
            open_fds[int(made.group(1))] = call
            continue
        closed = re.match(r"close\((\d+)\) += 0", call)
        if closed:
            open_fds.pop(int(closed.group(1)), None)
    kinds = ("/dev/kvm", "KVM_CREATE", "memfd_create", "eventfd2", "signalfd4", "io_uring_setup")
    leaked = [l for l in open_fds.values() if any(k in l for k in kinds)]
    assert not leaked, "fds never closed:\n" + "\n".join(leaked)
    assert sum("KVM_CREATE_VCPU" in call for _, call in calls) == 4, "the trace missed vCPUs"


def tiny(ctx, code, expect_rc, args=()):
    with tempfile.TemporaryDirectory() as tmp:
        kernel = pvh_kernel(code, os.path.join(tmp, "tiny.elf"))
        return boot(ctx, ["--kernel", kernel] + list(args), expect_rc=expect_rc, timeout=30)


def test_i8042_reset_ends_the_vm(ctx):
    # mov al, 0xfe; out 0x64, al; hlt
    code, out, err = tiny(ctx, bytes.fromhex("b0fee664f4"), 0)
    assert err == "", err


def test_port_cf9_reset_ends_the_vm(ctx):
    # mov dx, 0xcf9; mov al, 6; out dx, al; hlt
    code, out, err = tiny(ctx, bytes.fromhex("66baf90cb006eef4"), 0)
    assert err == "", err


def test_debug_exit_takes_a_4_byte_write(ctx):
    # mov eax, 0x12345629; out 0xf4, eax (QEMU's isa-debug-exit,iosize=4 style); then, only
    # if that was ignored: mov al, 7; out 0xf4, al; hlt
    code, out, err = tiny(ctx, bytes.fromhex("b829563412e7f4b007e6f4f4"), 0x29)
    assert err == "", err


def test_debug_exit_takes_a_2_byte_write(ctx):
    # mov eax, 0x12345629; out 0xf4, ax; then, only if that was ignored: mov al, 7; out 0xf4, al; hlt
    code, out, err = tiny(ctx, bytes.fromhex("b82956341266e7f4b007e6f4f4"), 0x29)
    assert err == "", err


def test_cf9_without_reset_bit_does_nothing(ctx):
    # mov dx, 0xcf9; mov al, 2; out dx, al; in al, dx; out 0xf4, al (exit with what CF9 reads)
    tiny(ctx, bytes.fromhex("66baf90cb002eeece6f4"), 2)


def test_acpi_s5_powers_off(ctx):
    # mov dx, 0x600; mov al, SLP_EN | S5 << 2; out dx, al; mov al, 7; out 0xf4, al (not reached)
    code, out, err = tiny(ctx, bytes.fromhex("66ba0006b034eeb007e6f4f4"), 0)
    assert err == "", err


def test_acpi_sleep_without_enable_does_nothing(ctx):
    # mov dx, 0x600; mov al, S5 << 2; out dx, al; inc dx; in al, dx; add al, 9; out 0xf4, al
    tiny(ctx, bytes.fromhex("66ba0006b014ee6642ec0409e6f4"), 9)


def test_unclaimed_ports_and_mmio_are_harmless(ctx):
    # mov [0xd0000000], eax; mov eax, [0xd0000000]; in al, 0x99; out 0xf4, al
    tiny(ctx, bytes.fromhex("a3000000d0a1000000d0e499e6f4"), 0xff)


def test_guest_triple_fault_is_an_error(ctx):
    # int3 with no IDT: #GP, #DF, shutdown. Hardware reports the shutdown; a hypervisor
    # that emulates CPL0 may instead give up emulating it. Either way: one line, exit 1.
    code, out, err = tiny(ctx, bytes.fromhex("ccf4"), 1)
    assert re.match(r"ringvm: vCPU 0: (guest triple fault|KVM internal error \d+) at rip 0x[0-9a-f]+\n$",
                    err), err


def test_closed_stdout_does_not_stop_the_guest(ctx):
    proc = start(ctx, ["--", "exit=5"], stdin=subprocess.DEVNULL)
    os.read(proc.stdout.fileno(), 1)
    proc.stdout.close()
    rc = proc.wait(timeout=30)
    harness.check_sanitizers(proc.stderr.read().decode())
    assert rc == 5, rc


def pty_run(ctx, args, keys, expect):
    """Runs ringvm on a pseudo-terminal, types keys, and checks the terminal is restored."""
    need_kvm()
    master, slave = os.openpty()
    before = termios.tcgetattr(slave)
    proc = start(ctx, args, stdin=slave, stdout=slave)
    try:
        wait_for_output(master, r"ringvm-guest:", timeout=30)
        during = termios.tcgetattr(slave)
        assert not during[3] & termios.ICANON and not during[3] & termios.ISIG, "raw mode"
        os.write(master, keys)
        if expect:
            wait_for_output(master, expect, timeout=30)
        rc = proc.wait(timeout=30)
    finally:
        proc.kill()
    after = termios.tcgetattr(slave)
    os.close(master)
    os.close(slave)
    harness.check_sanitizers(proc.stderr.read().decode())
    assert after == before, "terminal settings not restored"
    return rc


def test_terminal_raw_and_restored(ctx):
    rc = pty_run(ctx, ["--", "test=input"], b"typed\r", r"input: typed")
    assert rc == 0, rc


def test_ctrl_a_x_quits(ctx):
    rc = pty_run(ctx, ["--", "test=input"], b"\x01x", None)
    assert rc == 0, rc


if __name__ == "__main__":
    raise SystemExit(harness.main(globals()))
