"""bench/e2e/systems.py: the three systems under test, behind one interface.

A system is started on the shared cluster, serves WebSocket clients at
url(), takes the same subscribe text from every client, names the
processes that do its delivery (for CPU and memory accounting) and can be
restarted mid-stream (the loss test):

  - Pgsync: the pgsync worker inside the cluster (pgsync.port set);
    delivery = the worker process; restart = pg_terminate_backend of the
    worker (the postmaster starts a new one).
  - LogicalBridge: bench/peers/logical-bridge.js (pg-logical-replication,
    pgoutput slot, ws); delivery = node + its walsender.
  - NotifyBridge: bench/peers/notify-bridge.js (trigger -> pg_notify -> ws);
    delivery = node + its LISTEN backend; the trigger's own cost is in the
    writers (measured apart, workloads.trigger_cost).

Phases: the harness runs one system at a time; the bridges run with the
pgsync worker disabled (pgsync.port = 0 and its slot dropped), so nothing
else decodes while they are measured.
"""
import os
import re
import resource
import signal
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS = os.path.join(os.path.dirname(HERE), "peers")
SUBSCRIBE = '{"type":"subscribe","id":"bench","tables":["public.lat"]}'


def proc_cpu_s(pid):
    """utime + stime of a process, in seconds (0 if it is gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            parts = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def proc_mem_kb(pid, field="VmRSS"):
    try:
        with open("/proc/%d/status" % pid) as f:
            m = re.search(r"^%s:\s+(\d+) kB" % field, f.read(), re.M)
    except OSError:
        return 0
    return int(m.group(1)) if m else 0


def raise_nofile():
    """For child processes: the open-file limit a 10,000-client run needs
    (as root the hard limit can be raised; otherwise up to it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 65536
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class System:
    name = "?"
    label = "?"

    def __init__(self, cluster):
        self.c = cluster

    def setup(self):
        """Once, when the system's phase begins."""

    def teardown(self):
        """Once, when its phase ends."""

    def url(self):
        raise NotImplementedError

    def subscribe_text(self):
        return SUBSCRIBE

    def delivery_pids(self):
        raise NotImplementedError

    def restart(self):
        """Restart the delivering side mid-stream; returns once it serves."""
        raise NotImplementedError

    def pausable_pid(self):
        """The process that turns committed changes into messages, which
        the backlog throughput run stops and continues."""
        return self.delivery_pids()[0]

    def version(self):
        return ""


class Pgsync(System):
    name = "pgsync"
    label = "pgsync"

    def setup(self):
        self.c.wait_worker_ready()

    def url(self):
        return self.c.ws_url()

    def delivery_pids(self):
        pid = self.c.worker_pid()
        return [pid] if pid else []

    def restart(self):
        old = self.c.worker_pid()
        self.c.sql("SELECT pg_terminate_backend(%s)", (old,))
        if not self.c.wait_new_worker(old):
            raise RuntimeError("the pgsync worker did not come back")

    def version(self):
        return subprocess.run(["git", "-C", HERE, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True).stdout.strip()


class NodeBridge(System):
    """A bridge process from bench/peers, with the PG* variables of the
    cluster and a raised open-file limit."""
    script = "?"
    app_name = "?"
    backend_type = "client backend"

    def __init__(self, cluster, port):
        super().__init__(cluster)
        self.port = port
        self.proc = None

    def url(self):
        return "ws://127.0.0.1:%d/" % self.port

    def args(self):
        return []

    def start(self):
        env = dict(os.environ, PGHOST=self.c.tmp, PGPORT=str(self.c.port), PGUSER="postgres",
                   PGDATABASE="postgres")
        self.proc = subprocess.Popen(["node", os.path.join(PEERS, self.script), "--port", str(self.port)]
                                     + self.args(), env=env, stdout=subprocess.PIPE, text=True,
                                     preexec_fn=raise_nofile)
        line = self.proc.stdout.readline().strip()
        if not line.startswith("listening"):
            raise RuntimeError("%s did not start: %r" % (self.script, line))

    def stop(self):
        if self.proc:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def restart(self):
        self.stop()
        self.start()

    def backend_pid(self):
        deadline = time.time() + 10
        while time.time() < deadline:
            r = self.c.sql("SELECT pid FROM pg_stat_activity WHERE application_name = %s "
                           "AND backend_type = %s", (self.app_name, self.backend_type))
            if r:
                return r[0][0]
            time.sleep(0.1)
        raise RuntimeError("no %s backend for %s" % (self.backend_type, self.app_name))

    def delivery_pids(self):
        return [self.proc.pid, self.backend_pid()]

    def version(self):
        out = []
        for pkg in self.packages:
            with open(os.path.join(PEERS, "node_modules", pkg, "package.json")) as f:
                import json
                out.append("%s %s" % (pkg, json.load(f)["version"]))
        return ", ".join(out) + ", node " + subprocess.run(["node", "--version"], capture_output=True,
                                                            text=True).stdout.strip()

    def teardown(self):
        self.stop()


class LogicalBridge(NodeBridge):
    name = "logical"
    label = "logical bridge"
    script = "logical-bridge.js"
    app_name = "pgsync-bench-logical"
    backend_type = "walsender"
    packages = ("pg-logical-replication", "pg", "ws")

    def args(self):
        return ["--slot", "bridge", "--publication", "bridge_pub"]

    def setup(self):
        self.c.sql("CREATE PUBLICATION bridge_pub FOR TABLE lat")
        self.c.sql("SELECT pg_create_logical_replication_slot('bridge', 'pgoutput')")
        self.start()

    def teardown(self):
        self.stop()
        time.sleep(0.5)
        self.c.sql("SELECT pg_drop_replication_slot('bridge')")
        self.c.sql("DROP PUBLICATION bridge_pub")


class NotifyBridge(NodeBridge):
    name = "notify"
    label = "notify bridge"
    script = "notify-bridge.js"
    app_name = "pgsync-bench-notify"
    packages = ("pg", "ws")

    def setup(self):
        with open(os.path.join(PEERS, "notify-trigger.sql")) as f:
            self.c.sql(f.read())
        self.attach_trigger()
        self.start()

    def attach_trigger(self):
        self.c.sql("CREATE TRIGGER bench_notify AFTER INSERT OR UPDATE OR DELETE ON lat "
                   "FOR EACH ROW EXECUTE FUNCTION bench_notify_change()")

    def detach_trigger(self):
        self.c.sql("DROP TRIGGER IF EXISTS bench_notify ON lat")

    def teardown(self):
        self.stop()
        self.detach_trigger()
