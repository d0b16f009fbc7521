"""The nested lab's wire format, spoken by lab-run's client, its server in L0 and the
agent in L1 (over a virtio-serial port): frames of (kind, channel, payload).

A channel is one command. The server gives each client connection its own channel and
relays frames between the client and the agent unchanged otherwise.
"""
import errno
import os
import struct

HEADER = struct.Struct(">BII")
MAX_PAYLOAD = 1 << 20

# Towards the agent.
EXEC = 1        # JSON: argv, env, cwd, tty (three booleans for fds 0-2), winsize
STDIN = 2       # bytes for the command's stdin
STDIN_EOF = 3
SIGNAL = 4      # JSON: signal number, sent to the command's process
CLOSE_OUT = 5   # JSON: fd (1 or 2) whose reader went away
HANGUP = 6      # the client is gone: kill the command's process group
SHUTDOWN = 7    # the server is stopping: kill everything, then exit
# From the agent.
READY = 16      # JSON: facts about L1
OUTPUT = 17     # one byte fd (1 or 2), then bytes
EXIT = 18       # JSON: status (a wait status as os.waitpid returns it)
FAILED = 19     # JSON: message (the command could not be started)


def encode(kind, channel, payload=b""):
    return HEADER.pack(kind, channel, len(payload)) + payload


class Reader:
    """Splits a byte stream into frames."""

    def __init__(self):
        self.buf = bytearray()

    def feed(self, data):
        self.buf += data
        frames = []
        while len(self.buf) >= HEADER.size:
            kind, channel, length = HEADER.unpack_from(self.buf)
            if length > MAX_PAYLOAD:
                raise ValueError("frame of %d bytes" % length)
            if len(self.buf) < HEADER.size + length:
                break
            frames.append((kind, channel, bytes(self.buf[HEADER.size:HEADER.size + length])))
            del self.buf[:HEADER.size + length]
        return frames


class Writer:
    """A non-blocking fd's pending output: queue, then flush when the fd is writable."""

    def __init__(self, fd):
        self.fd = fd
        self.buf = bytearray()

    def put(self, data):
        self.buf += data
        self.flush()

    def flush(self):
        """Writes what the fd takes now; returns False once its reader is gone."""
        while self.buf:
            try:
                n = os.write(self.fd, self.buf)
            except BlockingIOError:
                return True
            except OSError as e:
                if e.errno in (errno.EPIPE, errno.ECONNRESET, errno.EIO):
                    self.buf.clear()
                    return False
                raise
            del self.buf[:n]
        return True
