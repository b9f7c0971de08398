"""test/lib/cluster.py: a throwaway PostgreSQL cluster for Python tests.

Mirrors test/lib/cluster.sh.  Cluster(extra_conf).start() runs initdb (as
the "postgres" OS user when root), listens on a unix socket in a temp dir
only, preloads pgsync with the WebSocket worker on a random free TCP port,
and loads pgsync.so from this source tree first (dynamic_library_path), so
the test exercises the build under test even if another build is installed.

Sanitizer mode (a pgsync.so built with `make SANITIZE=1`): pg_ctl, and so
the postmaster and every backend, runs with the ASan runtime preloaded and
writes reports into the cluster's temp dir (test/lib/sanitizer.sh); stop()
prints them and raises SanitizerReport, so the test fails.

Also: a tiny check counter (Checks) that prints "N passed, N failed".
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import psycopg2

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def pg_bindir():
    return subprocess.check_output(
        [os.environ.get("PG_CONFIG", "pg_config"), "--bindir"], text=True).strip()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


SANITIZER_SH = os.path.join(ROOT, "test", "lib", "sanitizer.sh")
sanitizer_failures = []     # clusters whose sanitizer reports were seen
SANITIZER_SLOWDOWN = 3      # latency bounds scale by this under ASan/UBSan
sanitized = False           # has a cluster run in sanitizer mode?


def time_factor():
    """What latency bounds are multiplied by: 1, or SANITIZER_SLOWDOWN
    once a cluster runs in sanitizer mode (pgsync.so under ASan/UBSan)."""
    return SANITIZER_SLOWDOWN if sanitized else 1


class SanitizerReport(RuntimeError):
    """A sanitizer wrote a report while a test cluster ran."""


def sanitizer_env(tmp):
    """["NAME=VALUE", ...] for pg_ctl in sanitizer mode, [] otherwise."""
    r = subprocess.run([SANITIZER_SH, "env", tmp], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(r.stderr.strip())
    return r.stdout.splitlines()


def as_owner(cmd, nofile=None):
    """cmd run as the cluster's owner.  runuser's PAM session resets the
    open-file limit to 1024: by default raise it back to the hard limit, so
    the worker can hold many client sockets.  nofile = soft limit, or
    (soft, hard), sets them instead (what a service manager may give)."""
    if nofile is None:
        limits = 'ulimit -n "$(ulimit -Hn)" 2>/dev/null'
    elif isinstance(nofile, int):
        limits = "ulimit -Sn %d" % nofile
    else:
        limits = "ulimit -Hn %d && ulimit -Sn %d" % (nofile[1], nofile[0])
    if os.getuid() == 0:
        return ["runuser", "-u", "postgres", "--", "bash", "-c",
                limits + '; exec "$@"', "bash"] + cmd
    if nofile is not None:
        return ["bash", "-c", limits + '; exec "$@"', "bash"] + cmd
    return cmd


class Cluster:
    def __init__(self, extra_conf=(), nofile=None):
        self.extra_conf = list(extra_conf)
        self.nofile = nofile    # the server's open-file limit (as_owner)
        self.bindir = pg_bindir()
        self.tmp = None
        self.port = None        # PostgreSQL port (socket only)
        self.ws_port = None     # pgsync.port
        self.env = []           # NAME=VALUE for pg_ctl (sanitizer mode)

    def has_plugin_allowlist(self):
        out = subprocess.run([os.path.join(self.bindir, "postgres"), "--describe-config"],
                             capture_output=True, text=True).stdout
        return any(l.startswith("output_plugin_libraries") for l in out.splitlines())

    def start(self):
        self.tmp = tempfile.mkdtemp(prefix="pgsync-test.")
        os.chmod(self.tmp, 0o755)
        if os.getuid() == 0:
            shutil.chown(self.tmp, "postgres", "postgres")
        self.port = free_port()
        self.ws_port = free_port()
        self.env = sanitizer_env(self.tmp)
        global sanitized
        sanitized = sanitized or bool(self.env)
        data = os.path.join(self.tmp, "data")
        r = subprocess.run(as_owner([os.path.join(self.bindir, "initdb"), "-D", data,
                                     "-U", "postgres", "--auth=trust", "--encoding=UTF8",
                                     "--locale=C.UTF-8"]),
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("initdb failed: " + r.stdout + r.stderr)
        conf = [
            "listen_addresses = ''",
            "port = %d" % self.port,
            "unix_socket_directories = '%s'" % self.tmp,
            "wal_level = logical",
            "max_replication_slots = 20",
            "max_wal_senders = 20",
            "fsync = off",
            "log_min_messages = warning",
            "shared_preload_libraries = 'pgsync'",
            "pgsync.port = %d" % self.ws_port,
            "pgsync.heartbeat_interval = '1s'",
        ]
        # this tree's build, if the server's OS user can read it (a clone
        # under a private directory cannot be: then the installed copy)
        lib = os.path.join(ROOT, "pgsync.so")
        if os.path.exists(lib) and not os.environ.get("PGSYNC_USE_INSTALLED") and \
                subprocess.run(as_owner(["test", "-r", lib])).returncode == 0:
            conf.append("dynamic_library_path = '%s:$libdir'" % ROOT)
        if self.has_plugin_allowlist():
            conf.append("output_plugin_libraries = 'pgsync, pgoutput, test_decoding, wal2json'")
        conf += self.extra_conf
        with open(os.path.join(data, "postgresql.conf"), "a") as f:
            f.write("\n".join(conf) + "\n")
        self.pg_ctl("start", "-c", "-w", "-t", "60", "-l", self.log_path())
        return self

    def log_path(self):
        return os.path.join(self.tmp, "server.log")

    def log(self):
        try:
            with open(self.log_path()) as f:
                return f.read()
        except OSError:
            return ""

    def pg_ctl(self, *args):
        env = ["env"] + self.env if self.env else []
        r = subprocess.run(as_owner(env + [os.path.join(self.bindir, "pg_ctl"), "-D",
                                           os.path.join(self.tmp, "data")] + list(args),
                                    nofile=self.nofile),
                           capture_output=True, text=True)
        if r.returncode != 0 and args[0] != "stop":
            raise RuntimeError("pg_ctl %s failed: %s%s\n%s" % (args[0], r.stdout, r.stderr, self.log()))
        return r

    def reload(self):
        self.pg_ctl("reload")

    def connect(self, dbname="postgres", autocommit=True):
        c = psycopg2.connect(host=self.tmp, port=self.port, user="postgres", dbname=dbname)
        c.autocommit = autocommit
        return c

    @property
    def datadir(self):
        return os.path.join(self.tmp, "data")

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def sql(self, query, args=None):
        # not "with conn": psycopg2 >= 2.9 opens a transaction even in autocommit
        c = self.connect()
        try:
            with c.cursor() as cur:
                cur.execute(query, args)
                try:
                    return cur.fetchall()
                except psycopg2.ProgrammingError:
                    return None
        finally:
            c.close()

    def create_extension(self):
        """The pgsync SQL objects (schema pgsync: status, clients, ...).

        By default they are created from this tree's sql/pgsync--0.1.0.sql
        (MODULE_PATHNAME -> 'pgsync', which dynamic_library_path resolves
        to this tree's build): the installed extension files are shared
        with other checkouts and may be another build's.  Set
        PGSYNC_USE_INSTALLED=1 to use CREATE EXTENSION instead."""
        if os.environ.get("PGSYNC_USE_INSTALLED"):
            self.sql("CREATE EXTENSION IF NOT EXISTS pgsync")
            return
        with open(os.path.join(ROOT, "sql", "pgsync--0.1.0.sql")) as f:
            script = f.read()
        script = "\n".join(l for l in script.splitlines() if not l.startswith("\\echo"))
        script = script.replace("MODULE_PATHNAME", "pgsync")
        self.sql("CREATE SCHEMA IF NOT EXISTS pgsync; SET search_path = pgsync;\n" + script)

    def ws_url(self):
        return "ws://127.0.0.1:%d/" % self.ws_port

    def worker_pid(self):
        r = self.sql("SELECT pid FROM pg_stat_activity WHERE backend_type = 'pgsync worker'")
        return r[0][0] if r else None

    def wait_worker_ready(self, timeout=30):
        """Wait until the worker listens and streams (slot created)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                r = self.sql("SELECT 1 FROM pg_replication_slots WHERE slot_name = 'pgsync' AND active")
                if r:
                    s = socket.create_connection(("127.0.0.1", self.ws_port), timeout=1)
                    s.close()
                    return True
            except (OSError, psycopg2.Error):
                pass
            time.sleep(0.1)
        raise RuntimeError("pgsync worker not ready after %ds\n%s" % (timeout, self.log()[-3000:]))

    def wait_new_worker(self, old_pid, timeout=30):
        """Wait for a worker other than old_pid to serve; its pid or None."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                pid = self.worker_pid()
                if pid and pid != old_pid:
                    self.wait_worker_ready(timeout)
                    return pid
            except Exception:
                pass
            time.sleep(0.2)
        return None

    def sanitizer_reports(self):
        """The sanitizer reports written so far (printed), or ""."""
        if not self.env:
            return ""
        r = subprocess.run([SANITIZER_SH, "reports", self.tmp],
                           capture_output=True, text=True)
        return r.stdout if r.returncode != 0 else ""

    def stop(self):
        """Stop and remove the cluster.  In sanitizer mode, a report makes
        this raise SanitizerReport after printing it (the temp dir is
        kept)."""
        if self.tmp is None:
            return
        if self.pg_ctl("stop", "-m", "fast", "-w").returncode != 0:
            self.pg_ctl("stop", "-m", "immediate", "-w")    # never leave it running
        reports = self.sanitizer_reports()
        if reports:
            print(reports)
            print("not ok - sanitizer reports in %s (kept)" % self.tmp)
            sys.stdout.flush()
            sanitizer_failures.append(self.tmp)
            self.tmp = None
            raise SanitizerReport("sanitizer reports in %s" % sanitizer_failures[-1])
        if os.environ.get("PGSYNC_KEEP_TMP"):
            print("kept", self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp = None


class Checks:
    """Sub-check counter: check(name, cond, detail)."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, cond, detail=""):
        if cond:
            self.passed += 1
            print("ok - %s" % name)
        else:
            self.failed += 1
            print("not ok - %s %s" % (name, detail))
        sys.stdout.flush()
        return cond

    def finish(self):
        if sanitizer_failures:  # in case a caller caught SanitizerReport
            self.check("no sanitizer reports", False, " ".join(sanitizer_failures))
        print("%d passed, %d failed" % (self.passed, self.failed))
        return 0 if self.failed == 0 else 1


def run_worker_test(main, checks, conf=(), nofile=None):
    """Start a cluster with the worker, run the coroutine main(cluster),
    report an exception as a failed check with the server log's tail, stop
    the cluster; returns the exit status (checks.finish()).  nofile: the
    server's open-file limit (see as_owner)."""
    import asyncio
    import traceback
    c = Cluster(list(conf), nofile=nofile).start()
    try:
        c.wait_worker_ready()
        asyncio.run(main(c))
    except Exception as e:  # report, then fail
        traceback.print_exc()
        checks.check("no exception", False, repr(e))
        print(c.log()[-3000:])
    finally:
        c.stop()
    return checks.finish()
