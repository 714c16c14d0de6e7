#!/usr/bin/env python3
"""Keeps the README's tour true: every block in README.md that follows a line
'<!-- output: NAME -->' must equal examples/expected/NAME.txt, and every example with
an expected output must appear in the tour."""
import pathlib, re, sys

root = pathlib.Path(__file__).resolve().parent.parent
readme = (root / "README.md").read_text()
blocks = dict(re.findall(r"<!-- output: (\S+) -->\n```text\n(.*?)```", readme, re.S))
bad = 0
for exp in sorted((root / "examples" / "expected").glob("*.txt")):
    name = exp.stem
    if name not in blocks:
        print(f"README tour lacks the output of {name}")
        bad += 1
    elif blocks[name] != exp.read_text():
        print(f"README output of {name} differs from examples/expected/{name}.txt")
        bad += 1
for name in blocks:
    if not (root / "examples" / "expected" / f"{name}.txt").exists():
        print(f"README shows output of {name}, which has no expected file")
        bad += 1
sys.exit(1 if bad else 0)
