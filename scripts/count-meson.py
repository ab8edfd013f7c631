#!/usr/bin/python3
"""Counts test results in a meson testlog.json: every TAP subtest ('ok'/'not ok') counts once;
a test binary that failed without a 'not ok' line (a crash, a timeout) counts as one failure.
Prints 'PASSED FAILED'."""
import json
import sys

passed = failed = 0
with open(sys.argv[1]) as f:
    for line in f:
        t = json.loads(line)
        out = t.get("stdout") or ""
        oks = sum(1 for l in out.splitlines() if l.startswith("ok "))
        bad = sum(1 for l in out.splitlines() if l.startswith("not ok "))
        ok = t.get("result") in ("OK", "EXPECTEDFAIL")
        if oks == 0 and bad == 0:
            oks, bad = (1, 0) if ok else (0, 1)
        elif not ok and bad == 0:
            bad = 1
        passed += oks
        failed += bad
print(passed, failed)
