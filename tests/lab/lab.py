#!/usr/bin/env python3
"""The nested lab, where ringvm runs on a machine without /dev/kvm.

L0 (this machine) runs Debian's kernel in QEMU with TCG and `-cpu max`, whose SVM lets
kvm-amd load: that is L1, with a working /dev/kvm. L1 mounts L0's root over 9p and,
in a chroot of it, runs tests/lab/agent.py, which starts commands sent to it over a
virtio-serial port. A server in L0 (`scripts/lab-run --serve`) owns that L1 and relays
any number of clients to it, one command each; a client (`scripts/lab-run CMD...`)
behaves as CMD itself would: its stdio, signals and exit status are CMD's.

Everything comes from Debian packages: the kernel from `apt-get download`
(scripts/debian-kernel), busybox-static for the initramfs, QEMU.
"""
import fcntl
import hashlib
import json
import os
import re
import selectors
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import termios
import threading
import time
import tty

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import frames as F  # noqa: E402

CACHE = os.environ.get("RINGVM_CACHE", "/var/cache/ringvm")
LAB_RUN = os.path.join(REPO, "scripts", "lab-run")
SHARED_SOCKET = os.path.join(CACHE, "lab", "shared", "server.sock")
# What the lab runs, and the Debian package it comes from (scripts/setup installs them).
NEEDS = {"qemu-system-x86_64": "qemu-system-x86", "cpio": "cpio", "depmod": "kmod",
         "mkfs.ext4": "e2fsprogs", "ip": "iproute2", "apt-get": "apt", "taskset": "util-linux"}
L1_MODULES = ["virtio_pci", "virtio_console", "9pnet_virtio", "9p", "tun", "kvm_amd"]
L2_MODULES = ["virtio_pci", "virtio_blk", "virtio_net", "virtio-rng", "crc32c_generic", "ext4"]
# L1's size. One CPU: with two, TCG's nested SVM corrupts L1 itself under interrupt
# load (L1's kernel panicked, "corrupted stack end detected inside scheduler", in an L2
# VMM's vCPU thread, within 70 s of two irq stress loops; with one TCG thread for both
# CPUs, interrupts on KVM's own irqfd path were delivered twice to L2), while one CPU
# ran the same load 30 times of 30 clean (README.md, "The nested lab"; tests/lab/placement
# and RINGVM_LAB_CPUS, RINGVM_LAB_TCG to repeat it). RAM for a 5 GiB guest beside others.
L1_CPUS = int(os.environ.get("RINGVM_LAB_CPUS", "1"))
L1_MEMORY = "8G"
L1_TCG = os.environ.get("RINGVM_LAB_TCG", "multi")     # TCG's threading: multi or single
L1_BOOT_TIMEOUT = 240
L2_CMDLINE = os.environ.get("LAB_L2_CMDLINE", "console=ttyS0 panic=-1 quiet")


class Skip(Exception):
    """The lab cannot run on this machine (the reason says why)."""


class LabError(Exception):
    """The lab itself broke (not what it tested): one line saying how."""


def native_kvm():
    """Whether /dev/kvm works here; RINGVM_KVM=native or lab overrides the answer."""
    forced = os.environ.get("RINGVM_KVM", "auto")
    if forced in ("native", "lab"):
        return forced == "native"
    if forced != "auto":
        raise LabError("RINGVM_KVM=%s: use native, lab or auto" % forced)
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        return stat.S_ISCHR(os.fstat(fd).st_mode)
    finally:
        os.close(fd)


def check_host():
    if os.uname().machine != "x86_64":
        raise Skip("the lab needs an x86-64 host, this is " + os.uname().machine)
    if os.geteuid() != 0:
        raise LabError("the lab needs root (9p passthrough of / into L1); run as root")
    missing = sorted({pkg for cmd, pkg in NEEDS.items() if not shutil.which(cmd)})
    if not os.path.exists("/bin/busybox") or "busybox-static" not in subprocess.run(
            ["dpkg-query", "-W", "-f=${Package} ${Status}\\n", "busybox-static"],
            capture_output=True, text=True).stdout:
        missing.append("busybox-static")
    if missing:
        raise LabError("missing Debian packages: %s (scripts/setup installs them)" % " ".join(missing))


class Kernel:
    """Debian's kernel, unpacked by scripts/debian-kernel, and initramfs images for it."""

    def __init__(self, workdir):
        check_host()
        got = subprocess.run([os.path.join(REPO, "scripts", "debian-kernel"), "--cached"],
                             capture_output=True, text=True)
        if got.returncode:
            raise LabError(got.stderr.strip() or "scripts/debian-kernel failed")
        self.root, self.krel = got.stdout.split()
        self.vmlinuz = os.path.join(self.root, "boot", "vmlinuz-" + self.krel)
        self.work = workdir
        os.makedirs(workdir, exist_ok=True)

    def initramfs(self, name, init, modules):
        out = os.path.join(self.work, name)
        got = subprocess.run([os.path.join(REPO, "scripts", "mkinitramfs"), self.root,
                              self.krel, init, out] + modules, capture_output=True, text=True)
        if got.returncode:
            raise LabError(got.stderr.strip() or "scripts/mkinitramfs failed")
        return out


# ---------------------------------------------------------------------------------------
# The server: one L1, many clients.

class Server:
    def __init__(self, sock_path, idle_s=None, log=sys.stderr):
        self.sock_path = sock_path
        self.idle_s = idle_s
        self.log = log
        self.dir = os.path.dirname(sock_path)
        os.makedirs(self.dir, exist_ok=True)
        self.kernel = Kernel(self.dir)
        self.clients = {}       # channel -> (socket, Writer)
        self.next_channel = 1
        self.qemu = None
        self.console = os.path.join(self.dir, "l1-console.log")

    def say(self, msg):
        if self.log:
            print("lab-run: " + msg, file=self.log, flush=True)

    def boot(self):
        """Starts L1 and waits for its agent; returns the agent's facts."""
        ctl_path = os.path.join(self.dir, "l1.sock")
        if os.path.exists(ctl_path):
            os.unlink(ctl_path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(ctl_path)
        listener.listen(1)
        payload = os.path.join(self.dir, "payload.sh")
        with open(payload, "w") as f:
            f.write("exec python3 %s\n" % os.path.join(HERE, "agent.py"))
        l1 = self.kernel.initramfs("l1.cpio.gz", os.path.join(HERE, "l1-init"), L1_MODULES)
        argv = ["qemu-system-x86_64", "-accel", "tcg,thread=" + L1_TCG, "-cpu", "max",
                "-smp", str(L1_CPUS), "-m", L1_MEMORY, "-nographic", "-nodefaults",
                "-no-reboot", "-serial", "file:" + self.console,
                "-kernel", self.kernel.vmlinuz, "-initrd", l1,
                "-append", "console=ttyS0 panic=-1 quiet lab.payload=" + payload,
                "-virtfs", "local,path=/,mount_tag=host,security_model=passthrough,id=host,"
                "multidevs=remap",
                "-chardev", "socket,id=lab,path=" + ctl_path,
                "-device", "virtio-serial-pci", "-device", "virtserialport,chardev=lab,name=ringvm.lab"]
        t0 = time.monotonic()
        self.qemu = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, start_new_session=True)
        listener.settimeout(30)
        try:
            self.agent, _ = listener.accept()
        except socket.timeout:
            raise LabError("QEMU (L1) did not connect its virtio-serial port: %s" % self.qemu_error())
        finally:
            listener.close()
            os.unlink(ctl_path)
        self.agent.settimeout(L1_BOOT_TIMEOUT)
        reader = F.Reader()
        while True:
            try:
                data = self.agent.recv(65536)
            except socket.timeout:
                raise LabError("L1's agent did not start in %d s; L1's console ends:\n%s"
                               % (L1_BOOT_TIMEOUT, self.console_tail()))
            if not data:
                raise LabError("L1 ended before its agent started (%s); L1's console ends:\n%s"
                               % (self.qemu_error(), self.console_tail()))
            frames = reader.feed(data)
            if frames:
                break
        kind, _, payload = frames[0]
        if kind != F.READY:
            raise LabError("L1's agent said %d before READY" % kind)
        facts = json.loads(payload)
        if not facts.get("kvm"):
            raise LabError("L1 came up without /dev/kvm (is nested SVM offered?)")
        self.agent_reader = reader
        self.agent.setblocking(False)
        self.agent_out = F.Writer(self.agent.fileno())
        self.say("L1 up in %.1f s (Linux %s, %d CPUs, /dev/kvm present)"
                 % (time.monotonic() - t0, facts["kernel"], facts["cpus"]))
        return facts

    def qemu_error(self):
        if self.qemu.poll() is None:
            return "QEMU still running"
        return "QEMU exited %d: %s" % (self.qemu.returncode,
                                      self.qemu.stderr.read().decode(errors="replace").strip())

    def console_tail(self, n=3000):
        try:
            with open(self.console, errors="replace") as f:
                return f.read()[-n:]
        except OSError:
            return "(none)"

    def listen(self):
        """The clients' socket appears only now, when L1 is ready: a client that finds it
        finds a working lab."""
        tmp = self.sock_path + ".new"
        if os.path.exists(tmp):
            os.unlink(tmp)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(tmp)
        self.listener.listen(64)
        self.listener.setblocking(False)
        os.rename(tmp, self.sock_path)

    def serve(self):
        """Relays frames until told to stop, idle too long, or L1 dies; returns an exit status."""
        sel = selectors.DefaultSelector()
        sel.register(self.listener, selectors.EVENT_READ, "listen")
        sel.register(self.agent, selectors.EVENT_READ, "agent")
        readers = {}
        idle_since = time.monotonic()
        status = 0
        stop = []
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, lambda *_: stop.append(1))
        while not stop:
            if self.idle_s is not None and not self.clients and \
                    time.monotonic() - idle_since > self.idle_s:
                self.say("idle for %d s: stopping" % self.idle_s)
                break
            if self.qemu.poll() is not None:
                self.say("L1 died (%s); its console ends:\n%s" % (self.qemu_error(), self.console_tail()))
                status = 1
                break
            want = selectors.EVENT_READ | (selectors.EVENT_WRITE if self.agent_out.buf else 0)
            sel.modify(self.agent, want, "agent")
            for key, events in sel.select(timeout=1.0):
                if key.data == "listen":
                    try:
                        conn, _ = self.listener.accept()
                    except BlockingIOError:
                        continue
                    channel = self.next_channel
                    self.next_channel += 1
                    conn.setblocking(False)
                    self.clients[channel] = (conn, F.Writer(conn.fileno()))
                    readers[channel] = F.Reader()
                    sel.register(conn, selectors.EVENT_READ, channel)
                elif key.data == "agent":
                    if events & selectors.EVENT_WRITE:
                        self.agent_out.flush()
                    if events & selectors.EVENT_READ:
                        try:
                            data = self.agent.recv(1 << 16)
                        except BlockingIOError:
                            continue
                        if not data:
                            stop.append(1)
                            status = 1
                            self.say("L1's agent went away; L1's console ends:\n" + self.console_tail())
                            break
                        for kind, channel, payload in self.agent_reader.feed(data):
                            self.to_client(sel, readers, channel, kind, payload)
                else:
                    channel = key.data
                    conn, _ = self.clients[channel]
                    try:
                        data = conn.recv(1 << 16)
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError:
                        data = b""
                    if not data:
                        self.drop(sel, readers, channel, hangup=True)
                        continue
                    try:
                        got = readers[channel].feed(data)
                    except ValueError:
                        self.drop(sel, readers, channel, hangup=True)
                        continue
                    for kind, _, payload in got:
                        if kind == F.SHUTDOWN:
                            stop.append(1)
                        else:
                            self.agent_out.put(F.encode(kind, channel, payload))
            if self.clients:
                idle_since = time.monotonic()
            for channel, (conn, out) in list(self.clients.items()):
                if out.buf and not out.flush():
                    self.drop(sel, readers, channel, hangup=True)
        self.shutdown()
        return status

    def to_client(self, sel, readers, channel, kind, payload):
        if channel not in self.clients:
            return
        conn, out = self.clients[channel]
        out.put(F.encode(kind, channel, payload))
        if kind in (F.EXIT, F.FAILED):
            out.flush()
            conn.setblocking(True)
            try:
                conn.settimeout(5)
                conn.sendall(bytes(out.buf))
            except OSError:
                pass
            self.drop(sel, readers, channel, hangup=False)

    def drop(self, sel, readers, channel, hangup):
        conn, _ = self.clients.pop(channel)
        readers.pop(channel, None)
        try:
            sel.unregister(conn)
        except (KeyError, ValueError):
            pass
        conn.close()
        if hangup:
            self.agent_out.put(F.encode(F.HANGUP, channel))

    def shutdown(self):
        for path in (self.sock_path,):
            try:
                os.unlink(path)
            except OSError:
                pass
        if self.qemu and self.qemu.poll() is None:
            try:
                self.agent.setblocking(True)
                self.agent.sendall(bytes(self.agent_out.buf) + F.encode(F.SHUTDOWN, 0))
            except OSError:
                pass
            try:
                self.qemu.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.qemu.kill()
                self.qemu.wait()


def serve(sock_path, idle_s=None, ready_fd=None):
    """Boots L1, then serves clients at sock_path; writes one byte to ready_fd when ready."""
    server = Server(sock_path, idle_s)
    try:
        server.boot()
        server.listen()
    except (LabError, Skip) as e:
        server.say(str(e))
        server.shutdown()
        return 1
    if ready_fd is not None:
        os.write(ready_fd, b"1")
        os.close(ready_fd)
    return server.serve()


# ---------------------------------------------------------------------------------------
# Finding or starting a server.

def server_alive(sock_path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(sock_path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def start_server(sock_path, idle_s, detach):
    """Starts `lab-run --serve` and waits until it serves; returns its Popen."""
    os.makedirs(os.path.dirname(sock_path), exist_ok=True)
    log = open(os.path.join(os.path.dirname(sock_path), "server.log"), "ab")
    r, w = os.pipe()
    argv = [sys.executable, LAB_RUN, "--serve", "--socket", sock_path, "--ready-fd", str(w)]
    if idle_s is not None:
        argv += ["--idle", str(idle_s)]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                            pass_fds=(w,), start_new_session=detach, close_fds=True)
    os.close(w)
    log.close()
    with os.fdopen(r, "rb") as ready:
        ok = ready.read(1)
    if not ok:
        proc.wait()
        tail = open(os.path.join(os.path.dirname(sock_path), "server.log"), errors="replace").read()
        lines = [l for l in tail.splitlines() if l.startswith("lab-run: ")]
        raise LabError((lines[-1][9:] if lines else "the lab server failed to start") +
                       " (log: %s)" % os.path.join(os.path.dirname(sock_path), "server.log"))
    return proc


def fingerprint():
    """What a running L1 was made from: a server built from other files is replaced."""
    h = hashlib.sha256()
    for name in ("lab.py", "agent.py", "frames.py", "l1-init"):
        with open(os.path.join(HERE, name), "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:16]


def ensure_shared(idle_s=120):
    """The shared server's socket, started (detached, stopping when idle) if none is up.
    Tests and benchmarks share it, so that a whole suite boots L1 once."""
    stamp = SHARED_SOCKET + ".id"

    def current():
        try:
            with open(stamp) as f:
                return server_alive(SHARED_SOCKET) and f.read() == fingerprint()
        except OSError:
            return False

    if current():
        return SHARED_SOCKET
    os.makedirs(os.path.dirname(SHARED_SOCKET), exist_ok=True)
    with open(os.path.join(os.path.dirname(SHARED_SOCKET), "start.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not current():
            stop_server(SHARED_SOCKET)
            try:
                start_server(SHARED_SOCKET, idle_s, detach=True)
            except LabError:
                # One more boot: a whole suite rests on this L1, and TCG's first boot
                # is the step most exposed to a loaded machine. A second failure stands.
                start_server(SHARED_SOCKET, idle_s, detach=True)
            with open(stamp, "w") as f:
                f.write(fingerprint())
    return SHARED_SOCKET


def stop_server(sock_path):
    if not server_alive(sock_path):
        return False
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    s.sendall(F.encode(F.SHUTDOWN, 0))
    s.close()
    deadline = time.monotonic() + 30
    while os.path.exists(sock_path) and time.monotonic() < deadline:
        time.sleep(0.2)
    return True


# ---------------------------------------------------------------------------------------
# The client: stands in for a command running in L1.

FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT,
                     signal.SIGUSR1, signal.SIGUSR2)


def run_client(sock_path, argv, env=None, cwd=None):
    """Runs argv in L1 with this process's stdio; returns its wait status."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(sock_path)
    except OSError as e:
        raise LabError("cannot reach the lab server at %s: %s" % (sock_path, e.strerror))
    ttys = [os.isatty(fd) for fd in range(3)]
    winsize = None
    if ttys[1]:
        rows, cols = struct.unpack("HHHH", fcntl.ioctl(1, termios.TIOCGWINSZ, bytes(8)))[:2]
        winsize = [rows, cols]
    req = {"argv": list(argv), "env": dict(os.environ if env is None else env),
           "cwd": cwd or os.getcwd(), "tty": ttys, "winsize": winsize}
    conn.sendall(F.encode(F.EXEC, 0, json.dumps(req).encode()))

    saved = None
    if ttys[0]:
        saved = termios.tcgetattr(0)
        tty.setraw(0)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    pending = []

    def on_signal(sig, _frame):
        pending.append(sig)
        try:
            os.write(wake_w, b"s")
        except OSError:
            pass

    old = {sig: signal.signal(sig, on_signal) for sig in FORWARDED_SIGNALS}
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    reader = F.Reader()
    sel = selectors.DefaultSelector()
    sel.register(conn, selectors.EVENT_READ, "conn")
    sel.register(wake_r, selectors.EVENT_READ, "wake")
    stdin_open = True
    try:
        sel.register(0, selectors.EVENT_READ, "stdin")
    except (ValueError, OSError, PermissionError):
        stdin_open = False              # /dev/null and regular files read at once
        data = b""
        try:
            data = os.read(0, 1 << 20) if not ttys[0] else b""
        except OSError:
            pass
        if data:
            conn.sendall(F.encode(F.STDIN, 0, data))
        conn.sendall(F.encode(F.STDIN_EOF, 0))
    closed_out = set()
    status = None
    try:
        while status is None:
            for key, _ in sel.select():
                if key.data == "wake":
                    os.read(wake_r, 64)
                    while pending:
                        sig = pending.pop(0)
                        conn.sendall(F.encode(F.SIGNAL, 0, json.dumps({"signal": sig}).encode()))
                elif key.data == "stdin":
                    try:
                        data = os.read(0, 65536)
                    except OSError:
                        data = b""
                    if data:
                        conn.sendall(F.encode(F.STDIN, 0, data))
                    else:
                        sel.unregister(0)
                        conn.sendall(F.encode(F.STDIN_EOF, 0))
                else:
                    data = conn.recv(1 << 16)
                    if not data:
                        raise LabError("the lab server closed the connection (did L1 die? see %s)"
                                       % os.path.join(os.path.dirname(sock_path), "server.log"))
                    for kind, _, payload in reader.feed(data):
                        if kind == F.OUTPUT:
                            fd = payload[0]
                            if fd in closed_out:
                                continue
                            try:
                                write_all(fd, payload[1:])
                            except OSError:
                                closed_out.add(fd)
                                conn.sendall(F.encode(F.CLOSE_OUT, 0, json.dumps({"fd": fd}).encode()))
                        elif kind == F.EXIT:
                            status = json.loads(payload)["status"]
                        elif kind == F.FAILED:
                            msg = json.loads(payload)["message"]
                            raise LabError("cannot run %s in L1: %s" % (argv[0], msg))
    finally:
        if saved is not None:
            termios.tcsetattr(0, termios.TCSAFLUSH, saved)
        for sig, handler in old.items():
            signal.signal(sig, handler)
        conn.close()
    return status


def write_all(fd, data):
    while data:
        n = os.write(fd, data)
        data = data[n:]


def exit_like(status):
    """Ends this process as a command with wait status `status` ended: same code, or
    the same signal."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        signal.signal(sig, signal.SIG_DFL)
        sys.stdout.flush()
        os.kill(os.getpid(), sig)
        time.sleep(1)
        return 128 + sig
    return os.WEXITSTATUS(status)


# ---------------------------------------------------------------------------------------
# For tests and benchmarks: commands in L1 as subprocesses of this machine.

def wrap(argv, shared=True):
    """argv as a command line that runs it in the lab (through lab-run's client)."""
    return [sys.executable, LAB_RUN] + (["--shared"] if shared else []) + ["--"] + list(argv)


class Lab:
    """A scratch directory (seen by L1 at the same path) and a way to run commands in L1,
    through the shared server."""

    def __init__(self, name):
        self.work = os.path.join(CACHE, "lab", name)
        shutil.rmtree(self.work, ignore_errors=True)
        self.kernel = Kernel(self.work)
        self.vmlinuz, self.krel = self.kernel.vmlinuz, self.kernel.krel

    def path(self, name):
        return os.path.join(self.work, name)

    def l2_initramfs(self):
        return self.kernel.initramfs("l2.cpio.gz", os.path.join(HERE, "guest-init"), L2_MODULES)

    def start(self):
        ensure_shared()

    def run(self, argv, check=True, **kw):
        self.start()
        got = subprocess.run(wrap(argv), capture_output=True, text=True, **kw)
        if check and got.returncode:
            raise LabError("%s in L1 exited %d: %s" % (" ".join(argv), got.returncode,
                                                       (got.stderr or got.stdout).strip()))
        return got

    def run_steps(self, steps):
        """Runs steps in L1, in order: dicts with name, argv, timeout (s) and marker (a
        regex whose first matching line is timed). Returns one result for each."""
        self.start()
        return [run_step(step) for step in steps]


def run_step(step):
    """Runs one step in L1: its output, each line's time since launch, exit status, wall time."""
    limit = step.get("timeout", 120)
    start = time.monotonic()
    proc = subprocess.Popen(wrap(step["argv"]), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
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


def make_ext4(path, mib):
    with open(path, "wb") as f:
        f.truncate(mib << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "labroot", path], check=True)

