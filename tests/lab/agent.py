#!/usr/bin/env python3
"""The nested lab's agent: runs in L1 (in a chroot of L0's root, where /dev/kvm works)
and starts the commands that lab-run's server sends over the virtio-serial port named
PORT_NAME, streaming their output back and reporting their exit status.

Each command gets its own session; a pseudo-terminal stands in for each of its stdio
fds that is a terminal on the caller's side, pipes for the rest. Kept to the standard
library's cheapest modules: L1's userspace is emulated.
"""
import fcntl
import json
import os
import pty
import selectors
import signal
import struct
import subprocess
import sys
import termios
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import frames as F  # noqa: E402

PORT_NAME = "ringvm.lab"
# A command's output may outlive it (a child holding the pipe): stop waiting after this.
DRAIN_AFTER_EXIT_S = 2.0


def find_port():
    base = "/sys/class/virtio-ports"
    for dev in sorted(os.listdir(base)):
        try:
            with open(os.path.join(base, dev, "name")) as f:
                if f.read().strip() == PORT_NAME:
                    return "/dev/" + dev
        except OSError:
            pass
    raise SystemExit("lab-agent: no virtio port named " + PORT_NAME)


class Command:
    def __init__(self, agent, channel, req):
        self.agent, self.channel = agent, channel
        self.outputs = {}           # our read end -> the fd number it carries (1 or 2)
        self.stdin = None           # our write end of the command's stdin (a Writer)
        self.status = None
        self.exited_at = None
        ttys = req.get("tty", [False, False, False])
        master = slave = None
        if any(ttys):
            master, slave = pty.openpty()
            if req.get("winsize"):
                fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", *req["winsize"], 0, 0))
        stdio, ours = [], []
        for fd in range(3):
            if ttys[fd]:
                stdio.append(slave)
            elif fd == 0:
                r, w = os.pipe()
                stdio.append(r)
                ours.append((w, 0))
            else:
                r, w = os.pipe()
                stdio.append(w)
                ours.append((r, fd))
        if master is not None:
            ours.append((master, 1 if ttys[1] else (2 if ttys[2] else 0)))

        def child_setup():
            if slave is not None:       # the terminal becomes the session's own
                fcntl.ioctl(stdio.index(slave), termios.TIOCSCTTY, 0)
            signal.signal(signal.SIGPIPE, signal.SIG_DFL)

        try:
            self.proc = subprocess.Popen(req["argv"], stdin=stdio[0], stdout=stdio[1],
                                         stderr=stdio[2], env=req.get("env"), cwd=req.get("cwd"),
                                         start_new_session=True, preexec_fn=child_setup)
        finally:
            for fd in set(stdio):
                os.close(fd)
        self.pgid = self.proc.pid
        for fd, which in ours:
            os.set_blocking(fd, False)
            if which == 0 and fd != master:
                self.stdin = F.Writer(fd)
            elif fd == master:
                if ttys[0]:
                    self.stdin = F.Writer(fd)
                self.outputs[fd] = which or 1
                agent.sel.register(fd, selectors.EVENT_READ, (self.on_output, fd))
            else:
                self.outputs[fd] = which
                agent.sel.register(fd, selectors.EVENT_READ, (self.on_output, fd))
        self.master = master
        self.pidfd = os.pidfd_open(self.proc.pid)
        agent.sel.register(self.pidfd, selectors.EVENT_READ, (self.on_exit, None))

    def on_output(self, fd):
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:             # EIO: the terminal's last other holder closed it
            data = b""
        if data:
            self.agent.send(F.OUTPUT, self.channel, bytes([self.outputs[fd]]) + data)
            return
        self.close_output(fd)

    def close_output(self, fd):
        if fd not in self.outputs:
            return
        self.agent.sel.unregister(fd)
        del self.outputs[fd]
        if fd == self.master:
            self.stdin = None if self.stdin and self.stdin.fd == fd else self.stdin
        os.close(fd)
        self.maybe_done()

    def on_exit(self, _):
        self.agent.sel.unregister(self.pidfd)
        os.close(self.pidfd)
        self.pidfd = None
        _, self.status = os.waitpid(self.proc.pid, 0)
        self.proc.returncode = 0        # reaped here: keep Popen from waiting again
        self.exited_at = time.monotonic()
        self.maybe_done()

    def maybe_done(self):
        if self.status is None:
            return
        if self.outputs and time.monotonic() - self.exited_at < DRAIN_AFTER_EXIT_S:
            return
        for fd in list(self.outputs):
            self.close_output(fd)
        self.close_stdin()
        self.agent.send(F.EXIT, self.channel, json.dumps({"status": self.status}).encode())
        self.agent.commands.pop(self.channel, None)

    def close_stdin(self):
        if self.stdin and self.stdin.fd != self.master:
            os.close(self.stdin.fd)
        self.stdin = None

    def write_stdin(self, data):
        if self.stdin and not self.stdin.put(data):
            self.close_stdin()

    def signal(self, sig, group=False):
        try:
            if group:
                os.killpg(self.pgid, sig)
            elif self.status is None:
                os.kill(self.proc.pid, sig)
        except ProcessLookupError:
            pass


class Agent:
    def __init__(self, port):
        self.port = os.open(port, os.O_RDWR)
        os.set_blocking(self.port, False)
        self.out = F.Writer(self.port)
        self.reader = F.Reader()
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.port, selectors.EVENT_READ, (self.on_port, None))
        self.commands = {}
        self.running = True

    def send(self, kind, channel, payload=b""):
        self.out.put(F.encode(kind, channel, payload))

    def on_port(self, _):
        try:
            data = os.read(self.port, 65536)
        except BlockingIOError:
            return
        for kind, channel, payload in self.reader.feed(data):
            self.handle(kind, channel, payload)

    def handle(self, kind, channel, payload):
        cmd = self.commands.get(channel)
        if kind == F.EXEC:
            try:
                self.commands[channel] = Command(self, channel, json.loads(payload))
            except Exception as e:      # exec failures are the caller's to report
                self.send(F.FAILED, channel, json.dumps({"message": str(e)}).encode())
        elif kind == F.SHUTDOWN:
            for c in self.commands.values():
                c.signal(signal.SIGKILL, group=True)
            self.running = False
        elif cmd is None:
            return
        elif kind == F.STDIN:
            cmd.write_stdin(payload)
        elif kind == F.STDIN_EOF:
            if cmd.stdin and cmd.stdin.fd == cmd.master:
                cmd.write_stdin(b"\x04")   # a terminal's end of input
            else:
                cmd.close_stdin()
        elif kind == F.SIGNAL:
            cmd.signal(json.loads(payload)["signal"])
        elif kind == F.CLOSE_OUT:
            fd = json.loads(payload)["fd"]
            for ours, which in list(cmd.outputs.items()):
                if which == fd and ours != cmd.master:
                    cmd.close_output(ours)
        elif kind == F.HANGUP:
            cmd.signal(signal.SIGKILL, group=True)

    def run(self):
        facts = {"kvm": os.path.exists("/dev/kvm"), "cpus": os.cpu_count(),
                 "kernel": os.uname().release}
        self.send(F.READY, 0, json.dumps(facts).encode())
        while self.running:
            self.sel.modify(self.port, selectors.EVENT_READ |
                            (selectors.EVENT_WRITE if self.out.buf else 0), (self.on_port, None))
            for key, events in self.sel.select(timeout=0.5):
                if key.fileobj == self.port and events & selectors.EVENT_WRITE:
                    self.out.flush()
                    if not events & selectors.EVENT_READ:
                        continue
                fn, arg = key.data
                fn(arg if arg is not None else key.fileobj)
            for cmd in list(self.commands.values()):
                cmd.maybe_done()
                if cmd.stdin and cmd.stdin.buf:
                    cmd.stdin.flush()
        os.set_blocking(self.port, True)
        self.out.flush()
        return 0


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    sys.exit(Agent(sys.argv[1] if len(sys.argv) > 1 else find_port()).run())
