"""test/lib/cluster.py: a throwaway PostgreSQL cluster for Python tests.

A thin wrapper over test/lib/cluster.sh, so both languages start clusters
the same way (this tree's pgsync.so through dynamic_library_path, unix
socket only, initdb/pg_ctl as the postgres OS user when run as root).

    from cluster import Cluster
    with Cluster(["max_worker_processes = 16"]) as c:
        conn = c.connect()          # psycopg2, autocommit
        c.datadir                   # the data directory
"""
import os
import subprocess

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CLUSTER_SH = os.path.join(ROOT, "test", "lib", "cluster.sh")


class Cluster:
    def __init__(self, conf_lines=()):
        self.conf_lines = list(conf_lines)
        self.env = {}

    def start(self):
        script = 'source "$0"; cluster_start "$@" >&2 || exit 1; ' \
                 'echo "PGHOST=$PGHOST"; echo "PGPORT=$PGPORT"; ' \
                 'echo "PGSYNC_TMP=$PGSYNC_TMP"'
        out = subprocess.run(["bash", "-c", script, CLUSTER_SH] + self.conf_lines,
                             cwd=ROOT, check=True, stdout=subprocess.PIPE,
                             universal_newlines=True).stdout
        for line in out.splitlines():
            if "=" in line:
                k, v = line.split("=", 1)
                self.env[k] = v
        self.host = self.env["PGHOST"]
        self.port = int(self.env["PGPORT"])
        self.tmp = self.env["PGSYNC_TMP"]
        self.datadir = os.path.join(self.tmp, "data")
        return self

    def stop(self):
        if not self.env:
            return
        subprocess.run(["bash", "-c", 'source "$0"; PGSYNC_TMP="$1"; '
                        'export PGSYNC_TMP; cluster_stop', CLUSTER_SH, self.tmp],
                       cwd=ROOT, check=False)
        self.env = {}

    def connect(self, dbname="postgres", user="postgres", autocommit=True):
        import psycopg2
        conn = psycopg2.connect(host=self.host, port=self.port, dbname=dbname,
                                user=user)
        conn.autocommit = autocommit
        return conn

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False
