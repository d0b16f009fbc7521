#!/usr/bin/env python3
"""Firecracker's API (machine/api.c) through real clients: curl and http.client over AF_UNIX.

Pre-boot tests need no KVM: ringvm only serves the API here. Boot tests run ringvm where
/dev/kvm works (the lab's L1, whose unix sockets this machine cannot reach), and their
client (api_client.py) runs beside it, through the same context.
"""
import contextlib
import json
import os
import signal
import socket
import subprocess
import tempfile
import time

import harness
from harness import expect_lines, need_kvm, wait_for_output
from api_client import Client

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENT = os.path.join(HERE, "api_client.py")

FC_NOT_AFTER = "The requested operation is not supported after starting the microVM."
FC_NOT_BEFORE = "The requested operation is not supported before starting the microVM."
PI_COUNTERS = ["pi_remote_ipis", "pi_local_deliveries", "pi_local_requests", "pi_wakeups",
               "pi_deferred", "pi_coalesced"]     # machine/stats.c: the kernel patch's


@contextlib.contextmanager
def serve(ctx, extra=(), prefix=()):
    """ringvm --api-sock on this machine (no KVM needed before InstanceStart); yields
    (proc, socket path, scratch directory). It must end with SIGTERM's status."""
    with tempfile.TemporaryDirectory() as tmp:
        sock = os.path.join(tmp, "api.sock")
        proc = subprocess.Popen([ctx.ringvm] + list(prefix) + ["--api-sock", sock, "--id", "vm-under-test"] +
                                list(extra), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 10
            while not os.path.exists(sock):
                assert proc.poll() is None, proc.stderr.read().decode()
                assert time.monotonic() < deadline, "no socket after 10 s"
                time.sleep(0.02)
            yield proc, sock, tmp
            assert proc.poll() is None, "ringvm died: %s" % proc.stderr.read().decode()
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(timeout=10)
            err = proc.stderr.read().decode()
            harness.check_sanitizers(err)
            assert rc == 128 + signal.SIGTERM, (rc, err)
            assert err.strip() == "ringvm: stopped by SIGTERM", err
            assert not os.path.exists(sock), "the socket file outlived ringvm"
        finally:
            proc.kill()
            proc.wait()


def curl(sock, method, path, body=None):
    """(status, body text) from curl --unix-socket."""
    argv = ["curl", "-sS", "--unix-socket", sock, "-X", method, "-o", "-", "-w", "\n%{http_code}",
            "http://localhost" + path]
    if body is not None:
        argv += ["-H", "Content-Type: application/json", "--data-binary",
                 body if isinstance(body, str) else json.dumps(body)]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True).stdout
    text, status = out.rsplit("\n", 1)
    return int(status), text


def raw(sock, data, shut=False, timeout=5):
    """Sends bytes on a fresh connection; returns everything read until the server closes
    or goes quiet."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock)
    s.sendall(data)
    if shut:
        s.shutdown(socket.SHUT_WR)
    got = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    except socket.timeout:
        pass
    s.close()
    return got.decode(errors="replace")


def expect(result, status, fault=None):
    got_status, body = result
    assert got_status == status, "got %d %r, expected %d" % (got_status, body, status)
    if fault is not None:
        text = body if isinstance(body, str) else json.dumps(body)
        assert "fault_message" in text and fault in text, "%r lacks %r" % (text, fault)
    return body


MACHINE = {"vcpu_count": 2, "mem_size_mib": 256}


def test_instance_info_and_every_preboot_route(ctx):
    with serve(ctx) as (proc, sock, tmp):
        api = Client(sock)
        info = expect(api.call("GET", "/"), 200)
        assert info == {"id": "vm-under-test", "state": "Not started", "vmm_version": info["vmm_version"],
                        "app_name": "ringvm"}, info
        assert expect(api.call("GET", "/machine-config"), 200)["mem_size_mib"] == 128
        expect(api.call("PUT", "/machine-config", MACHINE), 204)
        expect(api.call("PATCH", "/machine-config", {"mem_size_mib": 512}), 204)
        got = expect(api.call("GET", "/machine-config"), 200)
        assert got["vcpu_count"] == 2 and got["mem_size_mib"] == 512 and got["smt"] is False, got
        expect(api.call("PUT", "/boot-source", {"kernel_image_path": "/k", "boot_args": "x=1",
                                                "initrd_path": "/i"}), 204)
        expect(api.call("PUT", "/drives/rootfs", {"drive_id": "rootfs", "path_on_host": "/r",
                                                   "is_root_device": True, "is_read_only": False}), 204)
        expect(api.call("PUT", "/network-interfaces/eth0", {"iface_id": "eth0", "guest_mac":
                                                            "AA:FC:00:00:00:01",
                                                            "host_dev_name": "tap0"}), 204)
        expect(api.call("PUT", "/vsock", {"guest_cid": 3, "uds_path": tmp + "/v.sock"}), 204)
        expect(api.call("PUT", "/logger", {"log_path": tmp + "/log", "level": "Debug",
                                           "show_level": True}), 204)
        expect(api.call("PUT", "/metrics", {"metrics_path": tmp + "/metrics"}), 204)
        expect(api.call("PUT", "/actions", {"action_type": "FlushMetrics"}), 204)
        full = expect(api.call("GET", "/vm/config"), 200)
        assert full["boot-source"] == {"kernel_image_path": "/k", "boot_args": "x=1",
                                       "initrd_path": "/i"}, full
        assert full["machine-config"]["mem_size_mib"] == 512
        assert full["drives"][0]["drive_id"] == "rootfs" and full["drives"][0]["is_root_device"]
        assert full["network-interfaces"][0]["guest_mac"] == "AA:FC:00:00:00:01"
        assert full["vsock"]["guest_cid"] == 3
        assert full["logger"]["level"] == "Debug" and full["metrics"]["metrics_path"].endswith("metrics")
        stats = expect(api.call("GET", "/ringvm/stats"), 200)
        assert stats["irq_path"] == "irqfd" and stats["irqchip"] == "kernel", stats
        assert stats["devices"] == [], "no device exists before InstanceStart: %s" % stats
        assert stats["posted_interrupts"] == [], "no vCPU before InstanceStart: %s" % stats
        api.close()
        # FlushMetrics wrote a JSON line; the logger saw the requests.
        time.sleep(0.2)
        line = json.loads(open(tmp + "/metrics").read().splitlines()[0])
        assert "vcpu_exits" in line and line["api"]["requests"] >= 10, line
        assert line["devices"] == [], line
        assert "[vm-under-test:Debug] PUT /actions" in open(tmp + "/log").read()


def test_curl_routes_and_statuses(ctx):
    with serve(ctx) as (proc, sock, tmp):
        status, text = curl(sock, "GET", "/")
        assert status == 200 and json.loads(text)["state"] == "Not started", text
        assert curl(sock, "PUT", "/machine-config", MACHINE) == (204, "")
        status, text = curl(sock, "GET", "/machine-config")
        assert status == 200 and json.loads(text)["vcpu_count"] == 2
        assert curl(sock, "PUT", "/boot-source", {"kernel_image_path": "/k"})[0] == 204
        assert curl(sock, "PUT", "/drives/d1", {"drive_id": "d1", "path_on_host": "/d",
                                                "is_root_device": False})[0] == 204
        assert curl(sock, "PUT", "/network-interfaces/n1", {"iface_id": "n1",
                                                            "host_dev_name": "tap1"})[0] == 204
        assert curl(sock, "PUT", "/vsock", {"guest_cid": 3, "uds_path": "/v"})[0] == 204
        assert curl(sock, "PUT", "/logger", {"level": "Info"})[0] == 204
        assert curl(sock, "PUT", "/metrics", {"metrics_path": tmp + "/m"})[0] == 204
        status, text = curl(sock, "GET", "/vm/config")
        assert status == 200 and json.loads(text)["drives"][0]["drive_id"] == "d1"
        expect(curl(sock, "GET", "/no/such/route"), 404, "Invalid request path")
        expect(curl(sock, "DELETE", "/"), 400, "Invalid request method")
        expect(curl(sock, "GET", "/boot-source"), 400, "Invalid request method")


def test_state_rules_before_start(ctx):
    with serve(ctx) as (proc, sock, tmp):
        api = Client(sock)
        expect(api.call("PATCH", "/vm", {"state": "Paused"}), 400, FC_NOT_BEFORE)
        expect(api.call("PATCH", "/drives/rootfs", {"drive_id": "rootfs", "path_on_host": "/x"}),
               400, FC_NOT_BEFORE)
        expect(api.call("PUT", "/actions", {"action_type": "SendCtrlAltDel"}), 400, FC_NOT_BEFORE)
        expect(api.call("PUT", "/actions", {"action_type": "FlushMetrics"}), 400, "not initialized")
        expect(api.call("PUT", "/actions", {"action_type": "Reboot"}), 400, "action_type")
        expect(api.call("PATCH", "/vm", {"state": "Asleep"}), 400, "Paused")
        expect(api.call("GET", "/"), 200)


def test_bad_bodies(ctx):
    with serve(ctx) as (proc, sock, tmp):
        api = Client(sock)
        expect(api.call("PUT", "/machine-config", "{\"vcpu_count\": 1,"), 400, "malformed JSON")
        expect(api.call("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 64,
                                                   "vcpus": 2}), 400, "unknown field `vcpus`")
        expect(api.call("PUT", "/machine-config", {"vcpu_count": "1", "mem_size_mib": 64}), 400,
               "must be a non-negative integer")
        expect(api.call("PUT", "/machine-config", {"vcpu_count": 64, "mem_size_mib": 64}), 400,
               "between 1 and 32")
        expect(api.call("PUT", "/drives/a", {"drive_id": "b", "path_on_host": "/x",
                                             "is_root_device": False}), 400, "does not match")
        expect(api.call("PUT", "/boot-source", "[]"), 400, "JSON object")
        # Nothing that failed changed the configuration.
        assert expect(api.call("GET", "/machine-config"), 200)["vcpu_count"] == 1
        api.close()
        # Oversize body: 413 before the body is read, and the connection ends.
        got = raw(sock, b"PUT /boot-source HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n")
        assert got.startswith("HTTP/1.1 413"), got
        # The same past the bound in headers and body together, sent for real.
        body = b"{\"boot_args\": \"" + b"a" * 70000 + b"\"}"
        got = raw(sock, b"PUT /boot-source HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        assert got.startswith("HTTP/1.1 413"), got[:200]
        got = raw(sock, b"PUT /boot-source HTTP/1.1\r\nContent-Length: x1\r\n\r\n{}")
        assert got.startswith("HTTP/1.1 400"), got
        got = raw(sock, b"GARBAGE\r\n\r\n")
        assert got.startswith("HTTP/1.1 400"), got
        # Still serving.
        assert Client(sock).call("GET", "/")[0] == 200


def test_disconnect_mid_request_and_two_clients(ctx):
    with serve(ctx) as (proc, sock, tmp):
        # Half a request, then gone: its connection and buffer are freed.
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(sock)
        s.sendall(b"PUT /machine-config HTTP/1.1\r\nContent-Length: 40\r\n\r\n{\"vcpu_")
        s.close()
        # Two clients at once, interleaved on their keep-alive connections.
        a, b = Client(sock), Client(sock)
        partial = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        partial.connect(sock)
        partial.sendall(b"GET / HTTP/1.1\r\n")        # a third one, stalled mid-headers
        for i in range(20):
            expect(a.call("PUT", "/machine-config", {"vcpu_count": 1 + i % 4, "mem_size_mib": 128}), 204)
            assert expect(b.call("GET", "/machine-config"), 200)["vcpu_count"] == 1 + i % 4
        partial.sendall(b"\r\n")
        assert partial.recv(4096).startswith(b"HTTP/1.1 200")
        partial.close()
        stats = expect(a.call("GET", "/ringvm/stats"), 200)
        assert stats["api"]["clients"] == 2, stats
        # Pipelined: two requests in one send, two answers in order.
        got = raw(sock, b"GET / HTTP/1.1\r\n\r\nGET /machine-config HTTP/1.1\r\nConnection: close\r\n\r\n")
        assert got.count("HTTP/1.1 200") == 2 and got.index("app_name") < got.index("mem_size_mib"), got
        # The 17th client waits in the backlog until one of 16 leaves, then is served.
        many = [Client(sock) for _ in range(14)]
        late = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        late.settimeout(5)
        late.connect(sock)
        late.sendall(b"GET / HTTP/1.1\r\n\r\n")
        time.sleep(0.3)
        many.pop().close()
        assert late.recv(4096).startswith(b"HTTP/1.1 200")
        for c in many + [a, b]:
            c.close()
        late.close()


def test_instance_start_with_a_bad_config_stays_up(ctx):
    with serve(ctx) as (proc, sock, tmp):
        api = Client(sock)
        expect(api.call("PUT", "/boot-source", {"kernel_image_path": tmp + "/missing"}), 204)
        expect(api.call("PUT", "/actions", {"action_type": "InstanceStart"}), 400,
               "cannot open kernel")
        assert expect(api.call("GET", "/"), 200)["state"] == "Not started"
        open(tmp + "/disk", "wb").write(b"\0" * 4096)
        expect(api.call("PUT", "/boot-source", {"boot_args": "test=serial"}), 204)
        expect(api.call("PUT", "/drives/d", {"drive_id": "d", "path_on_host": tmp + "/nope",
                                             "is_root_device": False}), 204)
        expect(api.call("PUT", "/actions", {"action_type": "InstanceStart"}), 400, "nope")
        assert expect(api.call("GET", "/"), 200)["state"] == "Not started"
        # Fixed, it still may be changed and started.
        expect(api.call("PUT", "/drives/d", {"drive_id": "d", "path_on_host": tmp + "/disk",
                                             "is_root_device": False}), 204)
        assert expect(api.call("GET", "/vm/config"), 200)["drives"][0]["path_on_host"].endswith("disk")
        if not os.path.exists("/dev/kvm"):
            # A host without KVM: reported as that, after the user's config passed, and the
            # VMM is still there to be asked again.
            expect(api.call("PUT", "/actions", {"action_type": "InstanceStart"}), 400,
                   "cannot open /dev/kvm")
            assert expect(api.call("GET", "/"), 200)["state"] == "Not started"


def test_run_subcommand_serves_too_with_ringvms_options(ctx):
    with serve(ctx, prefix=["run"], extra=["--irq", "msi", "--irqchip", "split"]) as (proc, sock, tmp):
        status, text = curl(sock, "GET", "/ringvm/stats")
        stats = json.loads(text)
        assert status == 200 and stats["irq_path"] == "msi" and stats["irqchip"] == "split", text
        assert json.loads(curl(sock, "GET", "/")[1])["id"] == "vm-under-test"


def test_front_end_usage_errors(ctx):
    rc, out, err = ctx.run(["--no-api"])
    assert rc == 2 and "--no-api needs --config-file" in err, err
    rc, out, err = ctx.run(["--api-sock", "/tmp/x.sock", "--kernel", "/k"])
    assert rc == 2 and "--kernel" in err and "through the API" in err, err
    rc, out, err = ctx.run(["--cpus", "2"])
    assert rc == 2 and "unknown command '--cpus'" in err, err
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "vm.json")
        open(path, "w").write("{\"boot-source\": {\"kernel_image_path\": 5}}")
        rc, out, err = ctx.run(["--config-file", path, "--no-api"])
        assert rc == 1 and "`kernel_image_path` must be a string" in err, err
        assert err.count("\n") == 1, err
        open(path, "w").write("{\"boot-source\": {\"kernel_image_path\": \"%s/k\"}}" % tmp)
        rc, out, err = ctx.run(["run", "--config-file", path, "--no-api"])
        assert rc == 1 and "cannot open kernel" in err, err
        # Not a socket: refused, never replaced.
        rc, out, err = ctx.run(["--api-sock", path])
        assert rc == 1 and "exists and is not a socket" in err, err
        assert os.path.exists(path)


# --- Boot tests: where /dev/kvm works -------------------------------------------------------

def lab_calls(ctx, sock, calls, timeout=120):
    """Sends calls ([method, path, body]) on one connection from where ringvm runs."""
    got = ctx.host(["python3", CLIENT, sock, json.dumps(calls)], check=False, timeout=timeout)
    assert got.returncode == 0, "api_client failed (%d): %s %s" % (got.returncode, got.stdout,
                                                                  got.stderr)
    return [tuple(r) for r in json.loads(got.stdout)]


@contextlib.contextmanager
def booting(ctx, extra=(), wrapper=()):
    need_kvm()
    sock = "/run/ringvm-api-test-%d.sock" % os.getpid()
    if not ctx.in_lab:
        sock = os.path.join(tempfile.mkdtemp(), "api.sock")
    proc = ctx.popen(list(wrapper) + [ctx.ringvm, "--api-sock", sock] + list(extra),
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        yield proc, sock
    except AssertionError as e:
        proc.kill()
        raise AssertionError("%s\nringvm's stderr: %s" % (e, proc.stderr.read().decode()))
    finally:
        proc.kill()


def test_boot_builtin_guest_pause_resume(ctx):
    with booting(ctx) as (proc, sock):
        got = lab_calls(ctx, sock, [
            ["PUT", "/machine-config", {"vcpu_count": 2, "mem_size_mib": 128}],
            ["PUT", "/boot-source", {"boot_args": "test=serial,smp,input input.timeout=600 exit=7"}],
            ["PUT", "/actions", {"action_type": "InstanceStart"}],
            ["GET", "/", None],
            ["PUT", "/boot-source", {"boot_args": "x"}],
            ["PUT", "/actions", {"action_type": "InstanceStart"}],
            ["PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 128}],
            ["PATCH", "/machine-config", {"vcpu_count": 1}],
            ["PUT", "/drives/d", {"drive_id": "d", "path_on_host": "/d", "is_root_device": False}],
            ["PUT", "/network-interfaces/n", {"iface_id": "n", "host_dev_name": "t"}],
            ["PUT", "/vsock", {"guest_cid": 3, "uds_path": "/v"}],
            ["PUT", "/logger", {"level": "Info"}],
            ["PUT", "/metrics", {"metrics_path": "/m"}],
            ["PUT", "/machine-config", "{not json"],
            ["GET", "/nowhere", None],
            ["GET", "/vm/config", None],
        ])
        assert [g[0] for g in got] == [204, 204, 204, 200] + [400] * 10 + [404, 200], got
        assert got[3][1]["state"] == "Running"
        assert all(g[1]["fault_message"] == FC_NOT_AFTER for g in got[4:13]), got
        assert got[-1][1]["machine-config"]["vcpu_count"] == 2, got
        wait_for_output(proc.stdout, r"^test smp: pass", timeout=120)
        got = lab_calls(ctx, sock, [
            ["PATCH", "/vm", {"state": "Paused"}],
            ["GET", "/", None],
            ["GET", "/ringvm/stats", None],
        ])
        assert got[0][0] == 204 and got[1][1]["state"] == "Paused", got
        exits_paused = got[2][1]["vcpu_exits"]
        assert len(exits_paused) == 2
        # Paused: a line typed now is not echoed (the vCPUs are parked) ...
        proc.stdin.write(b"hello api\n")
        proc.stdin.flush()
        time.sleep(2)
        got = lab_calls(ctx, sock, [["GET", "/ringvm/stats", None]])
        assert got[0][1]["vcpu_exits"] == exits_paused, (exits_paused, got)
        # One entry per vCPU: the kernel patch's counters, or null where the host lacks them.
        pis = got[0][1]["posted_interrupts"]
        assert len(pis) == 2 and all(p is None or sorted(p) == sorted(PI_COUNTERS) for p in pis), pis
        # ... and once resumed the guest reads it and finishes (at once: nothing after this call).
        got = lab_calls(ctx, sock, [["PATCH", "/vm", {"state": "Resumed"}]])
        assert got[0][0] == 204, got
        rc = proc.wait(timeout=120)
        out = proc.stdout.read().decode()
        err = proc.stderr.read().decode()
        harness.check_sanitizers(err)
        assert rc == 7, (rc, out, err)
        expect_lines(out, [r"^input: hello api$"])
        # Removed at exit, under the seccomp filter (through the ring).
        assert ctx.host(["test", "-e", sock], check=False).returncode != 0, "socket left behind"


def test_config_file_boots_without_api(ctx):
    need_kvm()
    with tempfile.TemporaryDirectory(dir=os.path.expanduser("~")) as tmp:
        path = os.path.join(tmp, "vm.json")
        json.dump({"boot-source": {"boot_args": "test=serial exit=5"},
                   "machine-config": {"vcpu_count": 1, "mem_size_mib": 64},
                   "metrics": {"metrics_path": os.path.join(tmp, "metrics")}}, open(path, "w"))
        rc, out, err = ctx.run(["--config-file", path, "--no-api"], timeout=120)
        assert rc == 5, (rc, out, err)
        expect_lines(out, [r"^test serial: pass$"])


def test_config_file_with_api_serves_the_running_vm(ctx):
    need_kvm()
    with tempfile.TemporaryDirectory(dir=os.path.expanduser("~")) as tmp:
        path = os.path.join(tmp, "vm.json")
        json.dump({"boot-source": {"boot_args": "test=input input.timeout=600 exit=4"},
                   "machine-config": {"vcpu_count": 2, "mem_size_mib": 96}}, open(path, "w"))
        with booting(ctx, extra=["--config-file", path]) as (proc, sock):
            got = lab_calls(ctx, sock, [["GET", "/", None], ["GET", "/vm/config", None],
                                        ["PUT", "/actions", {"action_type": "InstanceStart"}]])
            assert got[0][1]["state"] == "Running", got
            assert got[1][1]["machine-config"]["mem_size_mib"] == 96, got
            assert got[1][1]["boot-source"]["boot_args"].startswith("test=input"), got
            assert got[2] == (400, {"fault_message": FC_NOT_AFTER}), got
            proc.stdin.write(b"from the file\n")
            proc.stdin.flush()
            assert proc.wait(timeout=120) == 4, proc.stderr.read().decode()
            expect_lines(proc.stdout.read().decode(), [r"^input: from the file$"])


def test_kata_runtime_rs_sequence(ctx):
    """What Kata's runtime-rs firecracker driver sends, in its order: boot source, machine,
    the root drive and five placeholders, vsock, InstanceStart; later a PATCH that swaps a
    placeholder for a container's image, which the guest then reads and writes."""
    need_kvm()
    with tempfile.TemporaryDirectory(dir=os.path.expanduser("~")) as tmp:
        drives = []
        for name in ["rootfs"] + ["drive_%d" % i for i in range(5)]:
            path = os.path.join(tmp, name)
            open(path, "wb").write(b"\0" * (64 << 10))
            drives.append((name, path))
        image = os.path.join(tmp, "container.img")
        open(image, "wb").write(b"\0" * (256 << 10))
        with booting(ctx) as (proc, sock):
            calls = [
                ["PUT", "/boot-source", {"kernel_image_path": ctx.guest_elf,
                                         "boot_args": "test=input,blk input.timeout=600 exit=0"}],
                ["PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 128}],
            ]
            for name, path in drives:
                calls.append(["PUT", "/drives/" + name, {"drive_id": name, "path_on_host": path,
                                                         "is_root_device": name == "rootfs",
                                                         "is_read_only": name == "rootfs"}])
            calls += [
                ["PUT", "/vsock", {"guest_cid": 3, "uds_path": "/run/kata-%d.vsock" % os.getpid()}],
                ["PUT", "/actions", {"action_type": "InstanceStart"}],
                ["GET", "/", None],
            ]
            got = lab_calls(ctx, sock, calls)
            assert [g[0] for g in got] == [204] * (len(calls) - 1) + [200], got
            assert got[-1][1]["state"] == "Running"
            got = lab_calls(ctx, sock, [
                ["PATCH", "/drives/drive_0", {"drive_id": "drive_0", "path_on_host": image}],
                ["PATCH", "/drives/nodrive", {"drive_id": "nodrive", "path_on_host": image}],
                ["PATCH", "/drives/drive_1", {"drive_id": "drive_1",
                                              "path_on_host": tmp + "/missing"}],
                ["PUT", "/drives/drive_2", {"drive_id": "drive_2", "path_on_host": image,
                                            "is_root_device": False}],
                ["GET", "/ringvm/stats", None],
            ])
            assert [g[0] for g in got] == [204, 400, 400, 400, 200], got
            assert [d["device"] for d in got[4][1]["disks"]] == ["virtio-blk %d" % i for i in range(6)], got
            blks = [d for d in got[4][1]["devices"] if d["type"] == "blk"]
            assert [(d["name"], d["transport"]) for d in blks] == [("virtio-blk %d" % i, "mmio")
                                                                   for i in range(6)], got
            assert "No such file" in got[2][1]["fault_message"], got
            assert got[3][1]["fault_message"] == FC_NOT_AFTER, got
            # The guest waits for a line, then tests every disk: it ends only after the client.
            proc.stdin.write(b"kata\n")
            proc.stdin.flush()
            rc = proc.wait(timeout=180)
            out = proc.stdout.read().decode()
            assert rc == 0, (rc, out, proc.stderr.read().decode())
            # drive_0 (the second disk, after the root) is the new image, whole.
            expect_lines(out, [r"^blk 0: 128 sectors, .* ro: ok$", r"^blk 1: 512 sectors, .*rw: ok$",
                               r"^blk 2: 128 sectors", r"^test blk: pass$"])
            data = open(image, "rb").read(16)
            assert data[:8] == (0).to_bytes(8, "little") and data[8:16] == (1).to_bytes(8, "little"), data
            assert open(drives[1][1], "rb").read() == b"\0" * (64 << 10), "the old image was written"


if __name__ == "__main__":
    raise SystemExit(harness.main(globals()))
