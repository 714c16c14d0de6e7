#!/usr/bin/env python3
"""Runs an example and compares what it prints with examples/expected/<name>.txt."""
import subprocess, sys

exe, expected = sys.argv[1], sys.argv[2]
got = subprocess.run([exe], capture_output=True, text=True, timeout=60)
want = open(expected).read()
if got.returncode != 0 or got.stdout != want:
    sys.stdout.write(f"exit {got.returncode}\n--- expected\n{want}--- got\n{got.stdout}{got.stderr}")
    sys.exit(1)
sys.stdout.write(got.stdout)
