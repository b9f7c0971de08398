#!/usr/bin/python3
"""Integration test: gapless delivery through network workers.

Runs test/t/gapless.py with pgsync.network_workers = 2: the worker only
decodes and writes the change log, and two network workers follow the log
and serve the clients, which the kernel spreads over them (SO_REUSEPORT).
Every reconnect may land on the other network worker, so resumes,
catch-ups of lagging clients and the snapshot client cross processes.  The
chaos is the same: SIGKILLs (the whole cluster restarts), SIGTERMs of the
worker alone in the middle of a streamed transaction (the network workers
keep their clients and go on following the log the new worker appends
to), restarts, ALTERs, retention.  Each client must apply exactly its
expected transactions.  A shorter run than test/t/gapless.py (the suite's
time); bench/gapless takes --network-workers too.  Extra arguments are
passed on (e.g. --seed N).
"""
import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("gapless_test", os.path.join(HERE, "gapless.py"))
gapless_t = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gapless_t)

if __name__ == "__main__":
    sys.argv[1:1] = ["--network-workers", "2", "--changes", "50000", "--kills", "2", "--restarts", "1"]
    sys.exit(gapless_t.main())
