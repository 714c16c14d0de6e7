#!/usr/bin/env python3
"""Turns bench JSON lines (stdin) into one table (bench/README.md explains it).

One row per op, one column per implementation (median ns per op), then (the table
fits 100 columns; --wide gives every reference its own column):
  - for each peer (std, boost) a column "PEER/fut": peer's ns / fut's ns, i.e. how many
    times faster fut is (above 1x: fut is faster; below 1x: the peer is faster);
  - a column "vs reference" for the reference rows (limit, atomic, libc, serial):
    "fut/limit 3.1x" = fut takes 3.1 times the machine's floor for that op.
fut's figure for a ratio is impl "fut", or fut+pool / fut+batch when the op has no
plain fut row (the cell then says which)."""
import json
import os
import sys

BASE = ["fut", "fut+pool", "fut+batch"]
PEERS = ["std", "boost"]
REFS = ["limit", "atomic", "libc", "serial"]
ORDER = BASE + PEERS + REFS

SAMPLED = {"timer_late"}  # not a rate: a statistic over that many samples
rows, impls, runs = {}, [], None
for line in sys.stdin:
    line = line.strip()
    if not line.startswith("{"):
        continue
    r = json.loads(line)
    rows.setdefault(r["op"], {})[r["impl"]] = r
    if r["op"] not in SAMPLED:
        runs = runs or r.get("runs")
    if r["impl"] not in impls:
        impls.append(r["impl"])

if not rows:
    print("no results")
    sys.exit(0)

impls.sort(key=lambda i: ORDER.index(i) if i in ORDER else len(ORDER))
peers = [i for i in impls if i in PEERS]
refs = [i for i in impls if i in REFS]


def ns(v):
    return f"{v:.2f}" if v < 10 else (f"{v:.1f}" if v < 100 else f"{v:.0f}")


def ratio(x):
    return f"{x:.1f}x" if x >= 10 else (f"{x:.2f}x" if x >= 0.1 else f"{x:.2g}x")


WIDE = "--wide" in sys.argv[1:]
SHORT = {"fut+pool": "+pool", "fut+batch": "+batch"}
if WIDE:
    # Every implementation's own column, and each floor's ratio in one text column.
    cols = impls
    head = ["op"] + [f"{i} ns" for i in cols] + [f"{p}/fut" for p in peers] + (["vs reference"] if refs else [])
else:
    # At most 100 columns: fut's rows and the peers, then the row's floor (a reference
    # impl, named in the cell) and fut's ratio to it. --wide or --json has the rest.
    cols = [i for i in impls if i not in REFS]
    head = ["op"] + [SHORT.get(i, i) for i in cols] + [f"{p}/fut" for p in peers] + (["floor", "fut/floor"] if refs else [])
table = []
for op, by in rows.items():
    threads = max(r.get("threads", 1) for r in by.values())
    name = op if threads <= 1 else f"{op} [{threads}t]"
    ref = next((by[b] for b in BASE if b in by and by[b]["ns"] > 0), None)
    cells = [name] + [ns(by[i]["ns"]) if i in by else "-" for i in cols]
    for p in peers:
        if p in by and ref is not None:
            c = ratio(by[p]["ns"] / ref["ns"])
            cells.append(c if ref["impl"] == "fut" or not WIDE else f"{c} vs {ref['impl']}")
        else:
            cells.append("-")
    if refs and WIDE:
        floors = [f"{ref['impl']}/{i} {ratio(ref['ns'] / by[i]['ns'])}"
                  for i in refs if i in by and ref is not None and by[i]["ns"] > 0]
        cells.append("  ".join(floors) if floors else "-")
    elif refs:
        floor = next((by[i] for i in refs if i in by and by[i]["ns"] > 0), None)
        cells.append(f"{floor['impl']} {ns(floor['ns'])}" if floor else "-")
        cells.append(ratio(ref["ns"] / floor["ns"]) if floor and ref else "-")
    table.append(cells)

widths = [max(len(r[c]) for r in [head] + table) for c in range(len(head))]
for r in [head] + table:
    print("  ".join(v.ljust(w) if k == 0 else v.rjust(w) for k, (v, w) in enumerate(zip(r, widths))).rstrip())

model = "?"
try:
    with open("/proc/cpuinfo") as f:
        model = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "?")
except OSError:
    pass
print(f"\nmedian of {runs} runs, ns per operation (when_all_1000: per element); [Nt]: N threads")
print("PEER/fut: how many times faster fut is (below 1x: the peer is faster)")
if "timer_late" in rows:
    t = rows["timer_late"].get("fut", {})
    print(f"timer_late: ns a 1 ms deadline on the pool fires late (median of {t.get('runs', '?')}"
          f" samples; max {ns(t.get('max', 0))})")
if WIDE:
    print("vs reference: fut/limit = how many times the machine's floor fut takes")
else:
    print("+pool, +batch: fut with a fut_pool, with a fut_batch; where a row has no plain fut")
    print("  figure, the ratios use one of them. floor: the machine's limit for the op (limit,")
    print("  atomic, libc, serial); fut/floor: how many times the floor fut takes. --wide: all columns")
print(f"machine: {os.cpu_count()} CPUs, {model}")
