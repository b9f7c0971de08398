"""bench/loadclient/loadclient.py: running pgsync-load from Python.

The one place the benchmarks (bench/push, bench/connections) and the
self-test (test/t/ws_loadclient.py) start the C load client: build it
if needed, start it, wait for "ready C", stop it and read its JSON line.
"""
import json
import os
import signal
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
BINARY = os.path.join(HERE, "pgsync-load")


def build():
    """make -C bench/loadclient (quiet; incremental)."""
    subprocess.run(["make", "-s", "-C", HERE], check=True)
    return BINARY


def subscribe_text(tables, rid=1):
    return json.dumps({"type": "subscribe", "id": rid, "tables": tables})


class LoadClient:
    """One pgsync-load process: LoadClient(url, n, ...).start() returns
    once it printed "ready C" (self.ready = C); stop() returns its
    results as a dict."""

    def __init__(self, url, clients, subscribe=None, mode="latency", threads=1,
                 source_addrs=None, headers=(), hist_out=None, connect_batch=None,
                 extra=(), stderr=None):
        self.argv = [BINARY, url, "--clients", str(clients), "--mode", mode,
                     "--threads", str(threads)]
        if subscribe:
            self.argv += ["--subscribe", subscribe]
        if source_addrs:
            self.argv += ["--source-addrs", source_addrs]
        for h in headers:
            self.argv += ["--header", h]
        if hist_out:
            self.argv += ["--hist-out", hist_out]
        if connect_batch:
            self.argv += ["--connect-batch", str(connect_batch)]
        self.argv += list(extra)
        self.stderr = stderr
        self.proc = None
        self.ready = None

    def start(self, timeout=None):
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr, text=True)
        line = self.proc.stdout.readline().strip()
        if not line.startswith("ready "):
            self.proc.kill()
            raise RuntimeError("pgsync-load did not get ready: %r" % line)
        self.ready = int(line.split()[1])
        return self

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        self.proc.send_signal(signal.SIGUSR2)
        out = self.proc.stdout.read()
        self.proc.wait()
        return json.loads(out.strip().splitlines()[-1])
