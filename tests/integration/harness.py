"""What every integration test needs: the ringvm binary, a way to run it, and checks.

Each test file defines functions named test_*; meson registers each one as its own
test by asking the file for `--list`, and runs it as `FILE --ringvm BIN CASE`.
Exit status 77 tells meson a test was skipped (with the reason on stdout).

A test that boots a guest calls need_kvm() first. Where /dev/kvm works the test then
runs ringvm here; where it does not, ringvm (and every command the test runs beside it
through the context: ip, strace, kill...) runs in the nested lab's L1 through
scripts/lab-run, while the test itself stays here at native speed. RINGVM_KVM=native
or lab forces either (tests/lab/lab.py).
"""
import argparse
import errno
import os
import re
import select
import struct
import subprocess
import sys
import time
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lab"))
import lab  # noqa: E402

SKIP = 77
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "WARNING: ThreadSanitizer", "UndefinedBehaviorSanitizer")


class Skip(Exception):
    """Raised by a test that cannot run on this machine, with the reason."""


class Context:
    def __init__(self, ringvm, guest_elf):
        self.ringvm = ringvm
        self.guest_elf = guest_elf
        self.in_lab = False     # set by need_kvm() where this machine has no /dev/kvm

    def argv(self, argv):
        """argv as run where ringvm runs: here, or in the lab's L1."""
        return lab.wrap(argv) if self.in_lab else list(argv)

    def popen(self, argv, **kw):
        """subprocess.Popen of argv where ringvm runs; the Popen stands in for it."""
        return subprocess.Popen(self.argv(argv), **kw)

    def host(self, argv, check=True, **kw):
        """Runs a helper command (ip, stat, kill...) where ringvm runs; returns its result."""
        return subprocess.run(self.argv(argv), check=check, capture_output=True, text=True, **kw)

    def kill(self, pid, sig):
        """Sends sig to a process (of the machine where ringvm runs) by its pid."""
        if self.in_lab:
            self.host(["kill", "-%d" % sig, str(pid)])
        else:
            os.kill(pid, sig)

    def run(self, args, stdin=b"", timeout=60, expect_rc=None):
        """Runs ringvm with args; returns (rc, stdout, stderr) as text, checked for sanitizer reports."""
        try:
            proc = subprocess.run(self.argv([self.ringvm] + list(args)), input=stdin,
                                  capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            # What the guest said before it went quiet is what tells a hang from a slow host.
            raise AssertionError("ringvm %s: no exit within %d s\nstdout (last 2000 bytes):\n%s\n"
                                 "stderr:\n%s" % (" ".join(args), timeout,
                                                   (e.stdout or b"")[-2000:].decode(errors="replace"),
                                                   (e.stderr or b"")[-2000:].decode(errors="replace")))
        out = proc.stdout.decode(errors="replace")
        err = proc.stderr.decode(errors="replace")
        check_sanitizers(err)
        if expect_rc is not None and proc.returncode != expect_rc:
            raise AssertionError("ringvm %s exited %d, expected %d\nstdout:\n%s\nstderr:\n%s"
                                 % (" ".join(args), proc.returncode, expect_rc, out, err))
        return proc.returncode, out, err


    def run_wrapped(self, wrapper, args=(), timeout=60):
        """Runs ringvm under a wrapper command (wrapper, then the binary, then args)."""
        proc = subprocess.run(self.argv(list(wrapper) + [self.ringvm] + list(args)), capture_output=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
        err = proc.stderr.decode(errors="replace")
        check_sanitizers(err)
        return proc.returncode, proc.stdout.decode(errors="replace"), err


def pvh_kernel(code, path):
    """Writes a minimal PVH ELF whose 32-bit entry runs code (raw x86 machine code) at 1 MiB."""
    base, ehsize, phsize = 0x100000, 64, 56
    note = struct.pack("<III4sQ", 4, 8, 18, b"Xen\0", base)
    code_off = ehsize + 2 * phsize + len(note)
    ehdr = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    ehdr += struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, base, ehsize, 0, 0, ehsize, phsize, 2, 0, 0, 0)
    ph_note = struct.pack("<IIQQQQQQ", 4, 4, ehsize + 2 * phsize, 0, 0, len(note), len(note), 4)
    ph_load = struct.pack("<IIQQQQQQ", 1, 7, code_off, base, base, len(code), len(code) + 4096, 0x1000)
    with open(path, "wb") as f:
        f.write(ehdr + ph_note + ph_load + note + code)
    return path


def check_sanitizers(stderr_text):
    for marker in SANITIZER_MARKERS:
        if marker in stderr_text:
            raise AssertionError("sanitizer report:\n" + stderr_text)


_current = []   # the running test's context


def need_kvm():
    """The test boots guests: from here on its commands run where /dev/kvm works."""
    ctx = _current[0]
    if not lab.native_kvm():
        lab.ensure_shared()
        ctx.in_lab = True


def boot(ctx, args, expect_rc=0, timeout=120, **kw):
    """Boots `ringvm run ARGS` where /dev/kvm works and waits for it to exit; returns
    (rc, stdout, stderr). expect_rc=None accepts any exit status; kw goes to ctx.run."""
    need_kvm()
    return ctx.run(["run"] + list(args), expect_rc=expect_rc, timeout=timeout, **kw)


def start(ctx, args, **popen):
    """Starts `ringvm run ARGS` where /dev/kvm works; returns its Popen. stdin, stdout
    and stderr are pipes unless popen says otherwise."""
    need_kvm()
    for stream in ("stdin", "stdout", "stderr"):
        popen.setdefault(stream, subprocess.PIPE)
    return ctx.popen([ctx.ringvm, "run"] + list(args), **popen)


def wait_for_output(stream, pattern, timeout=60):
    """Reads stream (a pipe, file object or fd, a pty's included) until the regex pattern
    matches a line, even one still being written; returns the text read so far. Fails
    after timeout seconds even if the guest goes silent (a blocking read would wait
    forever), or at end of file. What arrives after the match may already be consumed."""
    fd = stream if isinstance(stream, int) else stream.fileno()
    seen = b""
    deadline = time.monotonic() + timeout
    while True:
        text = seen.decode(errors="replace")
        if re.search(pattern, text, re.M):
            return text
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("never saw %r in %d s; got:\n%s" % (pattern, timeout, text))
        if select.select([fd], [], [], left)[0]:
            try:
                chunk = os.read(fd, 4096)
            except OSError as e:
                if e.errno != errno.EIO:    # a pty whose other side closed
                    raise
                chunk = b""
            if not chunk:
                raise AssertionError("end of output before %r; got:\n%s" % (pattern, text))
            seen += chunk


def need_root(why):
    if os.geteuid() != 0:
        raise Skip("needs root to " + why)


def expect_lines(text, patterns):
    """Every regex in patterns must match some line of text."""
    lines = text.splitlines()
    for pattern in patterns:
        if not any(re.search(pattern, line) for line in lines):
            raise AssertionError("no line matches %r in:\n%s" % (pattern, text))


def count_lines(text, pattern):
    return sum(1 for line in text.splitlines() if re.search(pattern, line))


def main(module_globals):
    tests = {name[5:]: fn for name, fn in module_globals.items()
             if name.startswith("test_") and callable(fn)}
    parser = argparse.ArgumentParser()
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--ringvm")
    parser.add_argument("--guest-elf")
    parser.add_argument("case", nargs="?")
    args = parser.parse_args()
    if args.list:
        print("\n".join(sorted(tests)))
        return 0
    if args.case not in tests:
        print("unknown test case %r" % args.case)
        return 2
    ctx = Context(os.path.abspath(args.ringvm), args.guest_elf)
    _current.append(ctx)
    try:
        tests[args.case](ctx)
    except Skip as why:
        print("SKIP: %s" % why)
        return SKIP
    except Exception:
        traceback.print_exc(file=sys.stdout)
        return 1
    print("ok")
    return 0
