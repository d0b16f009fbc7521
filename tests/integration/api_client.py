#!/usr/bin/env python3
"""A small Firecracker API client over AF_UNIX (http.client), for test_api.py.

As a module: Client(sock).call(method, path, body) -> (status, parsed JSON or None).
As a program, where ringvm runs (the lab's L1 for boot tests: its unix sockets cannot
be reached from this machine): `api_client.py SOCK 'JSON LIST'`, each item
[method, path, body or null] sent in order on one keep-alive connection; prints a JSON
list of [status, body] (a socket that never appears within 30 s is an error).
"""
import http.client
import json
import socket
import sys
import time


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


class Client:
    def __init__(self, path, wait=30):
        deadline = time.monotonic() + wait
        while True:
            try:
                self.conn = UnixConnection(path)
                self.conn.connect()
                return
            except (FileNotFoundError, ConnectionRefusedError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def call(self, method, path, body=None):
        data = None if body is None else (body if isinstance(body, (str, bytes)) else json.dumps(body))
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        self.conn.request(method, path, body=data, headers=headers)
        resp = self.conn.getresponse()
        text = resp.read().decode()
        return resp.status, (json.loads(text) if text else None)

    def close(self):
        self.conn.close()


def main():
    client = Client(sys.argv[1])
    out = []
    for method, path, body in json.loads(sys.argv[2]):
        out.append(list(client.call(method, path, body)))
    client.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
