#!/usr/bin/env python3
"""Turns bench JSON lines (stdin) into a table: one row per op, the median ns of each
implementation, and for every peer the ratio peer/fut (how many times fut is faster)."""
import json, sys

rows, impls = {}, []
for line in sys.stdin:
    line = line.strip()
    if not line.startswith("{"):
        continue
    r = json.loads(line)
    rows.setdefault(r["op"], {})[r["impl"]] = r
    if r["impl"] not in impls:
        impls.append(r["impl"])

order = ["fut", "fut+pool", "fut+batch", "std", "boost", "atomic", "libc", "serial", "limit"]
impls.sort(key=lambda i: order.index(i) if i in order else len(order))
base = [i for i in ("fut", "fut+pool", "fut+batch") if i in impls]


def cell(v):
    return "-" if v is None else (f"{v:.2f}" if v < 100 else f"{v:.0f}")


head = ["op"] + [f"{i} ns" for i in impls] + ["ratio"]
table = []
for op, byimpl in rows.items():
    ref = byimpl.get("fut") or next((byimpl[b] for b in base if b in byimpl), None)
    ratios = []
    for i in impls:
        if i in base or i not in byimpl or ref is None or ref["ns"] <= 0:
            continue
        ratios.append(f"{i}/{ref['impl']} {byimpl[i]['ns'] / ref['ns']:.1f}x")
    table.append([op] + [cell(byimpl[i]["ns"]) if i in byimpl else "-" for i in impls] + ["  ".join(ratios)])

widths = [max(len(str(r[c])) for r in [head] + table) for c in range(len(head))]
for r in [head] + table:
    print("  ".join(str(v).rjust(w) if k else str(v).ljust(w) for k, (v, w) in enumerate(zip(r, widths))).rstrip())
print("\nmedian of %s runs, ns per operation; ratio: how many times slower than fut (limit: the machine's floor)"
      % next(iter(next(iter(rows.values())).values()))["runs"] if rows else "no results")
