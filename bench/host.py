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
