#!/usr/bin/env python3
"""The seccomp sandbox through the real binary: every thread of a running ringvm is under
its filter (the kernel says so in /proc), and a guest that uses every device still runs
its tests with the filters on. That the lists are complete is what the rest of the suite,
run with the default --seccomp=kill, shows."""
import os
import signal
import tempfile

import harness
from harness import expect_lines, need_kvm


# Runs where ringvm runs (no round trips to the lab in between): boots ringvm ($0, then the
# arguments) on an irq test that would take hours, with both I/O threads raising
# interrupts, lists each thread's name and Seccomp field once the guest has spoken, then
# stops ringvm with SIGTERM.
LIST_THREADS = r"""
out=$(mktemp) err=$(mktemp)
"$0" run "$@" -- test=irq irq.count=1000000000 </dev/null >"$out" 2>"$err" &
pid=$!
i=0
while ! grep -q ringvm-guest: "$out" && [ $i -lt 300 ]; do i=$((i+1)); sleep 0.1; done
for t in /proc/$pid/task/*; do
    printf 'thread %s %s\n' "$(cat $t/comm)" "$(sed -n 's/^Seccomp:\t//p' $t/status)"
done
kill -TERM $pid
wait $pid
echo "rc $?"
cat "$err" >&2
rm -f "$out" "$err"
"""


def thread_modes(ctx, args):
    """Boots the built-in guest with args; returns {thread name: the Seccomp field of its
    /proc status} while the guest runs."""
    need_kvm()
    result = ctx.host(["sh", "-c", LIST_THREADS, ctx.ringvm] + args, timeout=120)
    harness.check_sanitizers(result.stderr)
    modes, rc = {}, None
    for line in result.stdout.splitlines():
        words = line.split()
        if words[0] == "rc":
            rc = int(words[1])
        # io_uring's kernel workers are the kernel's threads, not ringvm's.
        elif words[0] == "thread" and len(words) == 3 and not words[1].startswith("iou-"):
            modes[words[1]] = words[2]
    assert rc == 128 + signal.SIGTERM, "%s\nstderr: %s" % (result.stdout, result.stderr)
    return modes


def test_every_thread_runs_under_a_filter(ctx):
    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp:
        disk = os.path.join(tmp, "d.img")
        with open(disk, "wb") as f:
            f.truncate(1 << 20)
        modes = thread_modes(ctx, ["--cpus", "2", "--disk", "path=%s,iothread=2" % disk])
    # The main thread keeps the program's name; the built-in guest's irq test has I/O
    # thread 1, the disk thread 2.
    assert {"vcpu0", "vcpu1", "ringvm-io1", "ringvm-io2"} <= set(modes), modes
    assert len(modes) == 5, modes
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
