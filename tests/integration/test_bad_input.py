#!/usr/bin/env python3
"""Every bad input gets one line naming the problem and exit code 2 (usage) or 1 (runtime)."""
import os
import shutil
import struct
import tempfile

import harness
from harness import need_kvm, need_root

USAGE, RUNTIME = 2, 1


def expect_failure(ctx, args, rc, needle, timeout=30):
    code, out, err = ctx.run(args, timeout=timeout)
    assert code == rc, "exit %d, expected %d; stderr: %s" % (code, rc, err)
    lines = err.splitlines()
    assert len(lines) == 1, "expected one line on stderr, got:\n" + err
    assert lines[0].startswith("ringvm: "), lines[0]
    assert needle in lines[0], "%r not in %r" % (needle, lines[0])
    assert out == "", "nothing on stdout, got %r" % out


def elf64_without_note():
    """A well-formed x86-64 executable with one loadable segment and no PVH note."""
    code = b"\xf4" * 16
    phoff, ehsize, phsize = 64, 64, 56
    ehdr = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    ehdr += struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, 0x100000, phoff, 0, 0, ehsize, phsize, 1, 0, 0, 0)
    phdr = struct.pack("<IIQQQQQQ", 1, 5, ehsize + phsize, 0x100000, 0x100000, len(code), len(code), 0x1000)
    return ehdr + phdr + code


def with_file(data, fn):
    with tempfile.NamedTemporaryFile(prefix="ringvm-kernel-") as f:
        f.write(data)
        f.flush()
        return fn(f.name)


def test_unknown_flag(ctx):
    expect_failure(ctx, ["run", "--frobnicate"], USAGE, "unknown option '--frobnicate'")


def test_unknown_command(ctx):
    expect_failure(ctx, ["launch"], USAGE, "unknown command 'launch'")


def test_zero_cpus(ctx):
    expect_failure(ctx, ["run", "--cpus", "0"], USAGE, "--cpus 0: must be between 1 and 254")


def test_bad_memory_size(ctx):
    expect_failure(ctx, ["run", "--memory", "5X"], USAGE, "--memory '5X': not a size")


def test_missing_option_value(ctx):
    expect_failure(ctx, ["run", "--kernel"], USAGE, "'--kernel' needs a value")


def test_missing_kernel(ctx):
    expect_failure(ctx, ["run", "--kernel", "/nonexistent/vmlinux"], RUNTIME,
                   "cannot open kernel '/nonexistent/vmlinux': No such file or directory")


def test_directory_as_kernel(ctx):
    expect_failure(ctx, ["run", "--kernel", "/"], RUNTIME, "is not a regular file")


def test_empty_kernel(ctx):
    with_file(b"", lambda path: expect_failure(ctx, ["run", "--kernel", path], RUNTIME, "is empty"))


def loaded_bytes_end(image):
    """One past the last file byte any program header needs (section headers may follow)."""
    phoff, = struct.unpack_from("<Q", image, 32)
    phentsize, phnum = struct.unpack_from("<HH", image, 54)
    end = phoff + phentsize * phnum
    for i in range(phnum):
        offset, filesz = struct.unpack_from("<8xQ16xQ", image, phoff + i * phentsize)
        end = max(end, offset + filesz)
    return end


def test_truncated_kernel(ctx):
    image = open(ctx.guest_elf, "rb").read()
    end = loaded_bytes_end(image)
    for cut in (10, 40, 100, (end + 100) // 2, end - 1):
        with_file(image[:cut], lambda path: expect_failure(
            ctx, ["run", "--kernel", path], RUNTIME, "is truncated"))


def test_elf_without_pvh_note(ctx):
    with_file(elf64_without_note(), lambda path: expect_failure(
        ctx, ["run", "--kernel", path], RUNTIME, "ELF without a PVH entry note"))


def test_not_a_kernel(ctx):
    with_file(b"#!/bin/sh\necho hello\n", lambda path: expect_failure(
        ctx, ["run", "--kernel", path], RUNTIME, "not a kernel ringvm can boot"))


def test_kernel_larger_than_memory(ctx):
    with_file(b"\x7fELF" + bytes(3 << 20), lambda path: expect_failure(
        ctx, ["run", "--kernel", path, "--memory", "2M"], RUNTIME, "does not fit in 2 MiB"))


def test_too_much_memory(ctx):
    need_kvm()
    expect_failure(ctx, ["run", "--memory", "1T"], RUNTIME, "more than the host's")


def test_too_much_memory_before_kvm(ctx):
    # Checked before /dev/kvm is opened: the same line with or without KVM.
    expect_failure(ctx, ["run", "--memory", "1T"], RUNTIME, "--memory 1 TiB is more than the host's")


def test_disk_that_cannot_be_opened(ctx):
    expect_failure(ctx, ["run", "--disk", "path=/nonexistent/disk.img"], RUNTIME,
                   "cannot open disk '/nonexistent/disk.img': No such file or directory")


def test_disk_smaller_than_a_sector(ctx):
    with_file(b"x" * 100, lambda path: expect_failure(
        ctx, ["run", "--disk", "path=" + path], RUNTIME, "is smaller than one 512-byte sector"))


def test_dump_dtb_into_a_missing_directory(ctx):
    expect_failure(ctx, ["run", "--dump-dtb", "/nonexistent/dir/machine.dtb"], RUNTIME,
                   "cannot write the device tree to '/nonexistent/dir/machine.dtb': "
                   "No such file or directory")


def test_dump_dtb_onto_a_directory(ctx):
    with tempfile.TemporaryDirectory() as tmp:
        expect_failure(ctx, ["run", "--dump-dtb", tmp], RUNTIME, "Is a directory")


def test_dump_dtb_file_untouched_when_the_vm_cannot_be_built(ctx):
    def check(path):
        expect_failure(ctx, ["run", "--dump-dtb", path, "--disk", "path=/nonexistent/disk.img"],
                       RUNTIME, "cannot open disk")
        assert open(path, "rb").read() == b"earlier contents", "the file was touched"
    with_file(b"earlier contents", check)


def test_kvm_absent(ctx):
    need_kvm()      # where /dev/kvm exists, to hide it
    need_root("hide /dev/kvm in a private mount namespace")
    if not shutil.which("unshare"):
        raise AssertionError("unshare(1) is missing: Debian package util-linux (scripts/setup installs it)")
    script = 'mount -t tmpfs none /dev && exec "$0" run'
    code, out, err = ctx.run_wrapped(["unshare", "--mount", "sh", "-c", script])
    assert code == RUNTIME, (code, err)
    assert err.strip() == ("ringvm: cannot open /dev/kvm: No such file or directory "
                           "(is KVM enabled and its module loaded?)"), err


def test_kvm_not_writable(ctx):
    need_kvm()
    need_root("run ringvm as an unprivileged user")
    # A /dev of its own whose kvm node is root's and group kvm's, as Debian's udev rule
    # makes it, whatever the host's own mode.
    script = ('mount -t tmpfs none /dev && mknod -m 660 /dev/kvm c 10 232 && '
              'exec setpriv --reuid=65534 --regid=65534 --clear-groups -- "$0" run')
    code, out, err = ctx.run_wrapped(["unshare", "--mount", "sh", "-c", script])
    assert code == RUNTIME, (code, err)
    assert err.strip().startswith("ringvm: cannot open /dev/kvm: Permission denied"), err


def test_io_uring_refused(ctx):
    need_kvm()      # ringvm opens KVM before it makes its rings
    deny = os.path.join(os.path.dirname(ctx.ringvm), "tests", "integration", "deny-io-uring")
    code, out, err = ctx.run_wrapped([deny], ["run"])
    assert code == RUNTIME, (code, err)
    lines = err.splitlines()
    assert len(lines) == 1, "expected one line on stderr, got:\n" + err
    assert lines[0].startswith("ringvm: io_uring_setup was refused (EPERM)"), lines[0]
    assert "seccomp" in lines[0] and "Operation not permitted" not in lines[0], lines[0]


def test_help_and_version(ctx):
    code, out, err = ctx.run(["--help"], expect_rc=0)
    assert "usage: ringvm run" in out and "--cpus N" in out and err == ""
    code, out, err = ctx.run(["--version"], expect_rc=0)
    assert out.startswith("ringvm ") and err == ""


if __name__ == "__main__":
    raise SystemExit(harness.main(globals()))
