#!/usr/bin/env python3
"""The nested lab, where real Linux guests boot at a usable speed.

L0 (this machine) runs Debian's kernel in QEMU with TCG and `-cpu max`, whose SVM
lets kvm-amd load: that is L1, with a working /dev/kvm. L1 mounts L0's root over
9p and, in a chroot of it, runs `lab.py inside PLAN`: the steps of PLAN (ringvm
or QEMU booting Debian's kernel again, as L2) with their output timed line by
line into RESULTS. Everything comes from Debian packages: the kernel from
`apt-get download` (scripts/debian-kernel), busybox-static for the initramfs.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CACHE = os.environ.get("RINGVM_CACHE", "/var/cache/ringvm")
# What the lab runs, and the Debian package it comes from (scripts/setup installs them).
NEEDS = {"qemu-system-x86_64": "qemu-system-x86", "cpio": "cpio", "depmod": "kmod",
         "mkfs.ext4": "e2fsprogs", "ip": "iproute2", "apt-get": "apt", "taskset": "util-linux"}
L1_MODULES = ["virtio_pci", "9pnet_virtio", "9p", "tun", "kvm_amd"]
L2_MODULES = ["virtio_pci", "virtio_blk", "virtio_net", "virtio-rng", "crc32c_generic", "ext4"]
# The L2 VMM (ringvm or QEMU) runs on L1's CPU 0 only. With its threads spread over
# L1's two CPUs, ringvm's L2 kernel ended in a triple fault (a not-present #PF on the
# instruction after a port exit) or L1 hung, in 11 of 77 boots, alike with memfd or
# anonymous RAM and with irqfd or KVM_IRQ_LINE; pinned: 0 of 20. QEMU unpinned: 0 of
# 15. An artifact of TCG's nested SVM as far as we can tell, but not proven one.
VMM_PIN = ["taskset", "-c", "0"]
L2_CMDLINE = os.environ.get("LAB_L2_CMDLINE", "console=ttyS0 panic=-1 quiet")


class Skip(Exception):
    """The lab cannot run on this machine (the reason says why)."""


class LabError(Exception):
    """The lab itself broke (not what it tested): one line saying how."""


def check_host():
    if os.uname().machine != "x86_64":
        raise Skip("the lab needs an x86-64 host, this is " + os.uname().machine)
    if os.geteuid() != 0:
        raise Skip("the lab needs root (9p passthrough of / into L1, taps in L1)")
    missing = sorted({pkg for cmd, pkg in NEEDS.items() if not shutil.which(cmd)})
    if not os.path.exists("/bin/busybox") or "busybox-static" not in subprocess.run(
            ["dpkg-query", "-W", "-f=${Package} ${Status}\\n", "busybox-static"],
            capture_output=True, text=True).stdout:
        missing.append("busybox-static")
    if missing:
        raise LabError("missing Debian packages: %s (scripts/setup installs them)" % " ".join(missing))


class Lab:
    def __init__(self, name):
        check_host()
        got = subprocess.run([os.path.join(REPO, "scripts", "debian-kernel")],
                             capture_output=True, text=True)
        if got.returncode:
            raise LabError(got.stderr.strip() or "scripts/debian-kernel failed")
        self.kernel_root, self.krel = got.stdout.split()
        self.vmlinuz = os.path.join(self.kernel_root, "boot", "vmlinuz-" + self.krel)
        self.work = os.path.join(CACHE, "lab", name)
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(self.work)

    def path(self, name):
        return os.path.join(self.work, name)

    def initramfs(self, name, init, modules):
        out = self.path(name)
        got = subprocess.run([os.path.join(REPO, "scripts", "mkinitramfs"), self.kernel_root,
                              self.krel, init, out] + modules, capture_output=True, text=True)
        if got.returncode:
            raise LabError(got.stderr.strip() or "scripts/mkinitramfs failed")
        return out

    def l2_initramfs(self):
        return self.initramfs("l2.cpio.gz", os.path.join(HERE, "guest-init"), L2_MODULES)

    def run_in_l1(self, steps, tap=False, timeout=600):
        """Boots L1 and runs steps there, in order: dicts with name, argv, timeout (s) and
        marker (a regex whose first matching line is timed). Returns (results, console)."""
        plan, results = self.path("plan.json"), self.path("results.json")
        with open(plan, "w") as f:
            json.dump({"steps": steps, "tap": tap, "results": results}, f)
        payload = self.path("payload.sh")
        with open(payload, "w") as f:
            f.write("exec python3 %s inside %s\n" % (os.path.abspath(__file__), plan))
        l1 = self.initramfs("l1.cpio.gz", os.path.join(HERE, "l1-init"), L1_MODULES)
        argv = ["qemu-system-x86_64", "-accel", "tcg,thread=multi", "-cpu", "max", "-smp", "2",
                "-m", "3G", "-nographic", "-nodefaults", "-no-reboot", "-serial", "stdio",
                "-kernel", self.vmlinuz, "-initrd", l1,
                "-append", "console=ttyS0 panic=-1 quiet lab.payload=" + payload,
                "-virtfs", "local,path=/,mount_tag=host,security_model=passthrough,id=host,"
                "multidevs=remap"]
        try:
            proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired as e:
            tail = (e.stdout or b"").decode(errors="replace")[-2000:]
            raise LabError("L1 did not finish in %d s (steps done so far: %s); its console ended:\n%s"
                           % (timeout, results, tail))
        console = proc.stdout.decode(errors="replace")
        if proc.returncode:
            raise LabError("qemu (L1) exited %d: %s" % (proc.returncode,
                                                       proc.stderr.decode(errors="replace").strip()))
        if "lab-l1: up, /dev/kvm present" not in console:
            raise LabError("L1 came up without /dev/kvm (is nested SVM offered?):\n" + console[-2000:])
        try:
            with open(results) as f:
                return json.load(f), console
        except (OSError, ValueError):
            raise LabError("L1 wrote no results; its console:\n" + console[-3000:])


def run_step(step):
    """Runs one step in L1: its output, each line's time since launch, exit status, wall time."""
    limit = step.get("timeout", 120)
    start = time.monotonic()
    proc = subprocess.Popen(step["argv"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    # A guest that hangs silently sends no line to notice the deadline with.
    watchdog = threading.Timer(limit, proc.kill)
    watchdog.start()
    lines, marker_s = [], None
    for raw in proc.stdout:
        now = time.monotonic() - start
        line = raw.decode(errors="replace").rstrip("\r\n")
        lines.append([round(now, 4), line])
        if marker_s is None and step.get("marker") and re.search(step["marker"], line):
            marker_s = now
    rc = proc.wait()
    watchdog.cancel()
    wall = time.monotonic() - start
    if wall >= limit:
        lines.append([round(wall, 4), "lab.py: killed after %d s" % limit])
    return {"name": step["name"], "rc": rc, "wall_s": wall, "marker_s": marker_s, "lines": lines}


def write_json(path, value):
    with open(path + ".tmp", "w") as f:
        json.dump(value, f)
    os.rename(path + ".tmp", path)


def inside(plan_path):
    """L1's side: set up the tap if asked, run every step, write the results."""
    with open(plan_path) as f:
        plan = json.load(f)
    if plan.get("tap"):
        for cmd in (["ip", "tuntap", "add", "dev", "tap0", "mode", "tap", "vnet_hdr"],
                    ["ip", "addr", "add", "10.0.2.1/24", "dev", "tap0"],
                    ["ip", "link", "set", "tap0", "up"]):
            subprocess.run(cmd, check=True)
    results = []
    for step in plan["steps"]:
        results.append(run_step(step))
        write_json(plan["results"], results)    # what L0 finds if L1 runs out of time
    return 0


def make_ext4(path, mib):
    with open(path, "wb") as f:
        f.truncate(mib << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "labroot", path], check=True)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "inside":
        sys.exit(inside(sys.argv[2]))
    print("usage: lab.py inside PLAN (run in L1 by the lab's payload)", file=sys.stderr)
    sys.exit(2)
