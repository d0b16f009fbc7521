#!/usr/bin/env python3
"""Devices on I/O threads of their own (iothread=): the built-in guest's block and network
tests pass with the queues away from the main loop, and the threads are there to see."""
import os
import re
import subprocess
import tempfile
import time

import harness
from harness import expect_lines, need_kvm, need_root, wait_for_output
from test_virtio import SECTOR, bad_sectors, image, netns_with_tap


def thread_names(ctx, pidfile, timeout=30):
    """The comm of every thread of the ringvm whose pid the wrapper wrote to pidfile."""
    deadline = time.monotonic() + timeout
    while not (os.path.exists(pidfile) and open(pidfile).read().strip()):
        if time.monotonic() > deadline:
            raise AssertionError("ringvm never wrote its pid")
        time.sleep(0.1)
    pid = int(open(pidfile).read())
    # io_uring's worker threads come and go: one may end between the glob and its read,
    # so a failed read is not an error (the asserts on the names are the test).
    out = ctx.host(["sh", "-c", 'for f in /proc/%d/task/*/comm; do cat "$f" 2>/dev/null; done'
                    % pid], check=False).stdout
    return out.split()


def boot_and_look(ctx, tmp, args):
    """Boots the built-in guest with args and `test=blk,input`; once the block test passed,
    while the guest waits for a line (as long as the lab takes to look), reads ringvm's thread names; then lets it exit.
    Returns (stdout, thread names)."""
    need_kvm()
    pidfile = os.path.join(tmp, "pid")
    # exec: the shell's pid becomes ringvm's, and the wrapper needs nothing of ours.
    script = 'echo $$ > "$0"; exec "$@"'
    proc = ctx.popen(["sh", "-c", script, pidfile, ctx.ringvm, "run"] + args +
                     ["--", "test=blk,input", "input.timeout=600"],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out = wait_for_output(proc.stdout, r"^test blk: pass", timeout=120)
        names = thread_names(ctx, pidfile)
        proc.stdin.write(b"done\n")
        proc.stdin.flush()
        rest, err = proc.communicate(timeout=120)      # closes stdin: the guest's line ends
    finally:
        proc.kill()
    err = err.decode(errors="replace")
    harness.check_sanitizers(err)
    assert proc.returncode == 0, (proc.returncode, out, err)
    return out + rest.decode(errors="replace"), names


def test_two_disks_on_two_iothreads(ctx):
    with tempfile.TemporaryDirectory() as tmp:
        d0, d1 = image(tmp, "d0.img", 4096), image(tmp, "d1.img", 2048)
        out, names = boot_and_look(ctx, tmp, ["--disk", "path=%s,queues=1,iothread=2" % d0,
                                              "--disk", "path=%s,queues=1,iothread=3" % d1])
        expect_lines(out, [r"^blk 0: 4096 sectors, 1 queues, .*rw: ok$",
                           r"^blk 1: 2048 sectors, 1 queues, .*rw: ok$", r"^test blk: pass$"])
        assert bad_sectors(d0) == [] and bad_sectors(d1) == []
        # Thread 1 is the irq-test device's (built-in guest); 2 and 3 are the disks'.
        assert "ringvm-io2" in names and "ringvm-io3" in names, names
        assert "ringvm-io4" not in names, "a thread nobody named was made: %s" % names


def test_queues_spread_over_iothreads(ctx):
    with tempfile.TemporaryDirectory() as tmp:
        disk = image(tmp, "d.img", 4096)
        out, names = boot_and_look(ctx, tmp, ["--cpus", "2",
                                              "--disk", "path=%s,queues=4,iothread=4-5" % disk])
        expect_lines(out, [r"^blk 0: 4096 sectors, 4 queues, .*rw: ok$", r"^test blk: pass$"])
        assert bad_sectors(disk) == []
        assert "ringvm-io4" in names and "ringvm-io5" in names, names


def test_hostile_chains_with_queues_on_two_threads(ctx):
    # Every broken chain ends in a reset, which each queue's thread does its part of.
    need_kvm()
    with tempfile.TemporaryDirectory() as tmp:
        before = os.urandom(256 * SECTOR)
        disk = image(tmp, "d.img", 256, before)
        code, out, err = ctx.run(["run", "--cpus", "2", "--disk", "path=%s,queues=2,iothread=2-3" % disk,
                                  "--", "test=virtio-hostile"], expect_rc=0, timeout=180)
        expect_lines(out, [r"^test virtio-hostile: pass$"])
        assert len(re.findall(r"^virtio-hostile blk 0 [a-z-]+: ok", out, re.M)) >= 5, out
        assert bad_sectors(disk, 0, 8) == []
        with open(disk, "rb") as f:
            assert f.read()[8 * SECTOR:] == before[8 * SECTOR:], "hostile requests reached the disk"


def test_net_on_an_iothread(ctx):
    need_kvm()
    need_root("create a network namespace and a tap")
    with netns_with_tap(ctx) as inns:
        code, out, err = ctx.run_wrapped(inns, ["run", "--net", "tap=tap0,iothread=2",
                                                "--", "test=net"], timeout=120)
    assert code == 0, (code, out, err)
    expect_lines(out, [r"^net 0: .*arp and ping ok$", r"^test net: pass$"])


if __name__ == "__main__":
    raise SystemExit(harness.main(globals()))
