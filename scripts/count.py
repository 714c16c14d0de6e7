#!/usr/bin/env python3
"""Counts test results from meson's testlog.json files: for a Criterion program, its own
synthesis line (every Test() counts); for any other test, one per meson test.
Prints 'passed failed' for the logs given."""
import json, re, sys

SYN = re.compile(r"Synthesis: Tested: (\d+) \| Passing: (\d+) \| Failing: (\d+) \| Crashing: (\d+)")

passed = failed = 0
for path in sys.argv[1:]:
    try:
        lines = open(path).read().splitlines()
    except OSError:
        continue
    for line in lines:
        if not line.strip():
            continue
        t = json.loads(line)
        ok = t.get("result") in ("OK", "EXPECTEDFAIL", "SKIP")
        text = (t.get("stdout") or "") + (t.get("stderr") or "")
        m = SYN.findall(re.sub(r"\x1b\[[0-9;]*m", "", text))
        if m:
            tested, passing, failing, crashing = map(int, m[-1])
            passed += passing
            failed += tested - passing
            if not ok and tested == passing:
                failed += 1  # the program failed outside any test (exit code, sanitizer)
        else:
            passed += ok
            failed += not ok
print(passed, failed)
