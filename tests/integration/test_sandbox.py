#!/usr/bin/env python3
"""The seccomp sandbox through the real binary: every thread of a running ringvm is under
its filter (the kernel says so in /proc), and a guest that uses every device still runs
its tests with the filters on. That the lists are complete is what the rest of the suite,
run with the default --seccomp=kill, shows."""
import os
import select
import signal
import subprocess
import tempfile
import time

import harness
from harness import expect_lines, need_kvm


def read_until(fd, needle, timeout=60):
    seen = b""
    deadline = time.monotonic() + timeout
    while needle not in seen:
        left = deadline - time.monotonic()
        assert left > 0, "timed out waiting for %r; got %r" % (needle, seen)
        if select.select([fd], [], [], left)[0]:
            chunk = os.read(fd, 4096)
            assert chunk, "EOF before %r; got %r" % (needle, seen)
            seen += chunk
    return seen


def thread_modes(ctx, args):
    """Boots the built-in guest with args, waiting for input; returns {thread name: the
    Seccomp field of its /proc status} while the guest runs, then stops ringvm."""
    need_kvm()
    # The shell prints the pid ringvm will have where it runs (here or in the lab's L1).
    proc = ctx.popen(["sh", "-c", 'echo $$; exec "$0" "$@"', ctx.ringvm, "run"] + args +
                     ["--", "test=input"],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        seen = read_until(proc.stdout.fileno(), b"ringvm-guest:")
        pid = int(seen.split(b"\n", 1)[0])
        listing = ctx.host(["sh", "-c", 'for t in /proc/%d/task/*; do '
                            'printf "%%s %%s\\n" "$(cat $t/comm)" '
                            '"$(sed -n "s/^Seccomp:\\t//p" $t/status)"; done' % pid]).stdout
        ctx.kill(pid, signal.SIGTERM)
        rc = proc.wait(timeout=60)
    finally:
        proc.kill()
    err = proc.stderr.read().decode()
    harness.check_sanitizers(err)
    assert rc == 128 + signal.SIGTERM, "exit %d; stderr %s" % (rc, err)
    modes = {}
    for line in listing.splitlines():
        name, mode = line.rsplit(" ", 1)
        # io_uring's kernel workers are the kernel's threads, not ringvm's.
        if not name.startswith("iou-"):
            modes[name] = mode
    return modes


def test_every_thread_runs_under_a_filter(ctx):
    modes = thread_modes(ctx, ["--cpus", "2"])
    # The main thread keeps the program's name; the built-in guest's irq test has io1.
    assert {"vcpu0", "vcpu1", "io1"} <= set(modes), modes
    assert len(modes) == 4, modes
    assert set(modes.values()) == {"2"}, "threads without a seccomp filter: %s" % modes


def test_seccomp_off_installs_no_filter(ctx):
    modes = thread_modes(ctx, ["--seccomp=off"])
    assert set(modes.values()) == {"0"}, modes


def test_devices_and_split_irqchip_under_the_filters(ctx):
    """A disk, the entropy device and the split irqchip's MSIs through
    KVM_SIGNAL_MSI, with --stats reading KVM's stats at exit: all under kill mode."""
    need_kvm()
    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp:
        disk = os.path.join(tmp, "d.img")
        with open(disk, "wb") as f:
            f.truncate(2048 * 512)
        code, out, err = ctx.run(["run", "--cpus", "2", "--irqchip", "split", "--irq", "msi",
                                  "--stats", "--rng", "--disk", "path=" + disk, "--",
                                  "test=serial,smp,blk,rng"], timeout=180)
    assert "seccomp" not in err, err
    assert code == 0, "exit %d\nstdout:\n%s\nstderr:\n%s" % (code, out, err)
    expect_lines(out, [r"^test blk: pass$", r"^test rng: pass$", r"^test smp: pass$"])
    expect_lines(err, [r"^ringvm stats: vcpu 1:"])


if __name__ == "__main__":
    raise SystemExit(harness.main(globals()))
