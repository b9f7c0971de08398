#!/usr/bin/python3
"""Integration test: the gapless checker can fail.

Runs test/t/gapless.py --self-test: a small run in which client 1
deliberately resumes once one transaction early (a transaction applied
twice) and once one transaction late (a transaction skipped).  Passes iff
the checker reports exactly that duplicate and that gap, and nothing
else.  Extra arguments are passed on (e.g. --seed N).
"""
import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("gapless_test", os.path.join(HERE, "gapless.py"))
gapless_t = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gapless_t)

if __name__ == "__main__":
    sys.argv.insert(1, "--self-test")
    sys.exit(gapless_t.main())
