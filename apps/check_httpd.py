#!/usr/bin/env python3
"""Correctness client for httpd_fut and httpd_uv: several keep-alive connections send
jobs at once; every answer's hash must be the job's, every user's count must end exact,
and (--deadline) a job far too long must be answered 503 by its deadline while the
server goes on. Usage: check_httpd.py SERVER [--deadline] [server args...]"""
import http.client, random, subprocess, sys, threading

MASK = (1 << 64) - 1


def job(user, rounds):
    h = 1469598103934665603 ^ user
    for i in range(rounds):
        h = ((h ^ i) * 1099511628211) & MASK
    return h


def main():
    exe, rest = sys.argv[1], sys.argv[2:]
    deadline = "--deadline" in rest
    rest = [a for a in rest if a != "--deadline"]
    srv = subprocess.Popen([exe, "0"] + rest, stdout=subprocess.PIPE, text=True)
    port = int(srv.stdout.readline().split()[1])
    conns, per, users = 8, 150, 16
    sent = [0] * users
    errors = []
    lock = threading.Lock()

    def client(seed):
        rnd = random.Random(seed)
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for _ in range(per):
            u, n = rnd.randrange(users), rnd.randrange(0, 3000)
            c.request("GET", f"/job?u={u}&n={n}")
            r = c.getresponse()
            body = r.read().decode()
            f = body.split()
            with lock:
                sent[u] += 1
            if r.status != 200 or int(f[0]) != u or int(f[1], 16) != job(u, n):
                errors.append(f"u={u} n={n}: {r.status} {body!r}")
        c.close()

    ts = [threading.Thread(target=client, args=(i,)) for i in range(conns)]
    for t in ts:
        t.start()
    if deadline:  # a job that runs until cancelled, under a 100 ms deadline
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        c.request("GET", "/job?u=63&n=4294967295&d=100")
        r = c.getresponse()
        body = r.read().decode()
        if r.status != 503 or "error 110" not in body:  # ETIMEDOUT
            errors.append(f"the long job: {r.status} {body!r}")
        c.close()
    for t in ts:
        t.join()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("GET", "/nonsense")
    r = c.getresponse()
    if r.status != 400 or r.read() != b"bad request\n":
        errors.append(f"a bad request: {r.status}")
    c.close()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("GET", "/job?u=1&n=1", headers={"X-Big": "x" * 8000})
    r = c.getresponse()
    if r.status != 431:
        errors.append(f"oversized headers: {r.status}")
    c.close()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("GET", "/totals")
    got = {int(a): int(b) for a, b in (l.split() for l in c.getresponse().read().decode().splitlines())}
    want = {u: n for u, n in enumerate(sent) if n}
    if got != want:
        errors.append(f"totals {got} != {want}")
    c.request("GET", "/quit")
    try:
        c.getresponse().read()
    except Exception:
        pass  # the server may close first
    rc = srv.wait(timeout=60)
    if rc != 0:
        errors.append(f"exit status {rc}")
    total = conns * per
    print(f"{exe}: {total} jobs on {conns} connections, {len(errors)} wrong")
    for e in errors[:10]:
        print("  " + e)
    sys.exit(1 if errors else 0)


main()
