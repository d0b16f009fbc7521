"""Where a benchmark's VMMs run: on this machine's /dev/kvm, or, without one, in the
nested lab's L1 (tests/lab/lab.py) through scripts/lab-run, ringvm and its peer alike
in the same run. RINGVM_KVM=native or lab forces either. Figures from the lab are
nested-virtualization figures (L1's userspace is emulated by TCG): read them as ratios
between VMMs measured in the same run, never as absolute numbers."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests", "lab"))
import lab  # noqa: E402

IN_LAB = not lab.native_kvm()
LABEL = ("nested lab (QEMU TCG L1 with nested SVM): ratios only" if IN_LAB
         else "native /dev/kvm")


def argv(cmd):
    """cmd as run where /dev/kvm works."""
    if IN_LAB:
        lab.ensure_shared()
        return lab.wrap(cmd)
    return list(cmd)


def run_next_to_kvm():
    """For a benchmark that times its VMMs itself (wall clock, /proc of their processes):
    where /dev/kvm does not work here, runs this very script again inside L1, VMMs and
    measurements together, and exits with its status. Call first thing in main()."""
    if os.environ.get("RINGVM_BENCH_IN_LAB") == "1" or not IN_LAB:
        return
    lab.ensure_shared()
    os.environ["RINGVM_BENCH_IN_LAB"] = "1"
    argv = lab.wrap([sys.executable, os.path.abspath(sys.argv[0])] + sys.argv[1:])
    os.execv(argv[0], argv)


if os.environ.get("RINGVM_BENCH_IN_LAB") == "1":
    IN_LAB = True
    LABEL = "nested lab (QEMU TCG L1 with nested SVM): ratios only"
