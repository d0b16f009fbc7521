#!/usr/bin/env python3
"""Interrupts through the real binary: the guest's irq self-test on every path and
irqchip, the latency benchmark's guest side and harness, and --stats."""
import json
import os
import re
import subprocess
import tempfile

import harness
from harness import boot, expect_lines, need_kvm

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IRQ_PATHS = ["limit", "linked", "irqfd", "msi", "line", "local"]
SOURCES = ["msi", "ioapic-edge", "ioapic-level"]


def peer_of(ctx):
    return os.path.join(os.path.dirname(ctx.ringvm), "bench", "irqlat-epoll-peer")


def per_path(ctx):
    """Interrupts per path and source: the guest's default (100000) on native KVM; in
    the lab, where one costs about 0.4 ms of TCG time (37 s for 10000 on each of the 18
    path and source pairs on one L1 CPU), 20000."""
    return 20000 if ctx.in_lab else 100000


def irq_self_test(ctx, args):
    need_kvm()      # before per_path: in the lab or not
    count = per_path(ctx)
    guest = ["test=irq", "irq.count=%d" % count]
    code, out, err = boot(ctx, ["--cpus", "2"] + args + ["--"] + guest, timeout=600)
    expect_lines(out, [r"^test irq: pass$"])
    served = 0
    for path in IRQ_PATHS:
        for source in SOURCES:
            line = [l for l in out.splitlines() if l.startswith("irq %s %s:" % (path, source))]
            assert len(line) == 1, "no line for %s %s:\n%s" % (path, source, out)
            m = re.match(r"irq \S+ \S+: (\d+) ok", line[0])
            if m:
                served += int(m.group(1))
            else:
                assert "skipped (unsupported" in line[0], line[0]
    return out, served


def test_irq_kernel_irqchip_every_path(ctx):
    out, served = irq_self_test(ctx, [])
    # Every path the kernel irqchip supports ran its full count, MSI and edge at least.
    for path in IRQ_PATHS:
        expect_lines(out, [r"^irq %s msi: %d ok$" % (path, per_path(ctx))])


def test_irq_split_irqchip_every_path(ctx):
    out, served = irq_self_test(ctx, ["--irqchip", "split"])
    for path in ("irqfd", "msi", "line", "local"):
        expect_lines(out, [r"^irq %s ioapic-level: %d ok" % (path, per_path(ctx))])


def make_default_path_test(irq, chip):
    def test(ctx):
        # The UART (serial test) and the local path follow --irq.
        code, out, err = boot(ctx, ["--cpus", "2", "--irq", irq, "--irqchip", chip, "--",
                                    "test=serial,irq", "irq.count=2000"], timeout=300)
        expect_lines(out, [r"^test serial: pass$", r"^test irq: pass$", r"^irq local msi: 2000 ok$"])
    return test


for _irq in ("irqfd", "msi", "line"):
    for _chip in ("kernel", "split"):
        globals()["test_default_path_%s_%s_irqchip" % (_irq, _chip)] = make_default_path_test(_irq, _chip)


def test_stats_report_every_vcpu(ctx):
    code, out, err = boot(ctx, ["--cpus", "3", "--stats", "--", "test=serial"])
    lines = [l for l in err.splitlines() if l.startswith("ringvm stats: vcpu")]
    assert len(lines) == 3, err
    irq = [l for l in err.splitlines() if l.startswith("ringvm stats: irq:")]
    assert len(irq) == 1 and re.match(r"ringvm stats: irq: delivery_errors 0$", irq[0]), err
    for n, line in enumerate(lines):
        assert re.match(r"ringvm stats: vcpu %d: (posted-interrupt counters unavailable|"
                        r"pi_remote_ipis \d+ pi_local_deliveries \d+ pi_local_requests \d+ "
                        r"pi_wakeups \d+ pi_deferred \d+ pi_coalesced \d+)$" % n, line), line


def load_bench():
    """bench/irqlat/run as a module, to parse with the very code the benchmark uses."""
    import importlib.machinery
    import importlib.util
    path = os.path.join(ROOT, "bench", "irqlat", "run")
    loader = importlib.machinery.SourceFileLoader("irqlat_bench", path)
    spec = importlib.util.spec_from_loader("irqlat_bench", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def check_histograms(out, paths, samples):
    bench = load_bench()
    runs, tsc_khz, skips = bench.parse_guest(out)
    assert tsc_khz > 0, "no TSC frequency:\n" + out
    for path in paths:
        hist = runs.get((path, "msi"))
        assert hist, "no histogram for %s:\n%s" % (path, out)
        assert sum(n for _, _, n in hist["buckets"]) == samples, (path, hist["buckets"])
        assert all(lo < hi for lo, hi, _ in hist["buckets"])
        assert 0 < hist["min"] <= hist["max"]
        row = bench.summarize(hist, tsc_khz)
        assert row["p50"] <= row["p99"] <= row["max"] * 1.04, row


def test_irqlat_guest_histograms(ctx):
    paths = ["limit", "linked", "irqfd", "msi", "line", "local"]
    code, out, err = boot(ctx, ["--", "test=irqlat", "irqlat.samples=3000",
                                "irqlat.warmup=100", "irqlat.paths=" + ",".join(paths)], timeout=300)
    check_histograms(out, paths, 3000)


def test_irqlat_epoll_peer_serves_the_external_path(ctx):
    need_kvm()
    proc = subprocess.run(ctx.argv([peer_of(ctx), ctx.ringvm, "run", "--", "test=irqlat",
                                    "irqlat.samples=2000", "irqlat.warmup=100",
                                    "irqlat.paths=external"]),
                          capture_output=True, text=True, timeout=300)
    harness.check_sanitizers(proc.stderr)
    assert proc.returncode == 0, (proc.returncode, proc.stdout, proc.stderr)
    check_histograms(proc.stdout, ["external"], 2000)


def test_irqlat_bench_harness_writes_json(ctx):
    """The benchmark's own script end to end, briefly: numbers are not judged here."""
    need_kvm()
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "irqlat")
        proc = subprocess.run([os.path.join(ROOT, "bench", "irqlat", "run"), "--ringvm", ctx.ringvm,
                               "--peer", peer_of(ctx), "--samples", "1000", "--warmup", "100",
                               "--irqchips", "kernel,split", "--paths", "limit,irqfd,external",
                               "--out", out], capture_output=True, text=True, timeout=600)
        assert proc.returncode in (0, 1), (proc.returncode, proc.stdout, proc.stderr)
        report = json.load(open(out + ".json"))
    for chip in ("kernel", "split"):
        for path in ("limit", "irqfd", "external"):
            row = report["results"][chip][path]
            assert row["samples"] == 1000 and row["p50"] > 0, row
        assert report["stats"][chip]["irqfd"] is None or "pi_deferred" in report["stats"][chip]["irqfd"]
    assert report["verdicts"], "the targets were evaluated"


if __name__ == "__main__":
    raise SystemExit(harness.main(globals()))
