#!/usr/bin/env python3
"""Correctness client for httpd_fut and httpd_uv: several keep-alive connections send
jobs at once; every answer's hash must be the job's, every user's count must end exact,
and (--deadline) a job far too long must be answered 503 by its deadline while the
server goes on. Then, on a server of one worker (--overload: with a queue bound of one),
a client that leaves with a job in flight: with --overload that job runs until cancelled,
so the next job is answered only if the disconnect cancelled it; and three such jobs sent
at once, of which at least one must be refused (503, EAGAIN) and the rest time out.
Usage: check_httpd.py SERVER [--deadline] [--overload] [server args...]"""
import atexit, errno, http.client, random, socket, subprocess, sys, threading, time

MASK = (1 << 64) - 1
SERVERS = []  # every server started: killed by PID at exit if a check left it running


@atexit.register
def _stop_servers():
    for srv in SERVERS:
        if srv.poll() is None:
            srv.kill()


def start(args):
    srv = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    SERVERS.append(srv)
    return srv, int(srv.stdout.readline().split()[1])


def job(user, rounds):
    h = 1469598103934665603 ^ user
    for i in range(rounds):
        h = ((h ^ i) * 1099511628211) & MASK
    return h


def main():
    exe, rest = sys.argv[1], sys.argv[2:]
    deadline = "--deadline" in rest
    overload = "--overload" in rest
    rest = [a for a in rest if a not in ("--deadline", "--overload")]
    srv, port = start([exe, "0"] + rest)
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
    one_worker(exe, overload, errors)
    total = conns * per
    print(f"{exe}: {total} jobs on {conns} connections, {len(errors)} wrong")
    for e in errors[:10]:
        print("  " + e)
    sys.exit(1 if errors else 0)


def responses(sock, n):
    """Reads n HTTP responses from sock: a list of (status, body)."""
    buf, out = b"", []
    while len(out) < n:
        head, sep, rest = buf.partition(b"\r\n\r\n")
        if sep:
            lines = head.decode().split("\r\n")
            length = next(int(l.split(":")[1]) for l in lines if l.lower().startswith("content-length"))
            if len(rest) >= length:
                out.append((int(lines[0].split()[1]), rest[:length].decode()))
                buf = rest[length:]
                continue
        data = sock.recv(4096)
        if not data:
            raise EOFError(f"closed after {len(out)} of {n} responses")
        buf += data
    return out


def get(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("GET", path)
    r = c.getresponse()
    body = r.read().decode()
    c.close()
    return r.status, body


def one_worker(exe, overload, errors):
    srv, port = start([exe, "0", "1", "0", "1"])
    # A client that leaves with its job in flight. On fut the job runs until cancelled and
    # holds the one worker: the next job is answered only if the disconnect cancelled it.
    n = 4294967295 if overload else 200000
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    s.sendall(f"GET /job?u=61&n={n} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    s.close()
    for _ in range(400):  # 503 EAGAIN while the cancelled job still holds the queue's slot
        status, body = get(port, "/job?u=60&n=1000")
        if not (status == 503 and body.split()[-1] == str(errno.EAGAIN)):
            break
        time.sleep(0.05)
    if status != 200 or int(body.split()[1], 16) != job(60, 1000):
        errors.append(f"after a disconnect: {status} {body!r}")
    if overload:
        # Three jobs at once on one connection, for one worker and one queue slot: one
        # runs, one may wait, the rest are refused; those accepted time out (300 ms).
        s = socket.create_connection(("127.0.0.1", port), timeout=60)
        s.sendall(b"".join(b"GET /job?u=62&n=4294967295&d=300 HTTP/1.1\r\nHost: x\r\n\r\n" for _ in range(3)))
        got = responses(s, 3)
        s.close()
        codes = sorted(int(b.split()[-1]) for st, b in got if st == 503)
        if len(codes) != 3 or codes[0] != errno.EAGAIN or codes[-1] != errno.ETIMEDOUT or \
                any(c not in (errno.EAGAIN, errno.ETIMEDOUT) for c in codes):
            errors.append(f"overload: {got}")
    get(port, "/quit")
    rc = srv.wait(timeout=60)
    if rc != 0:
        errors.append(f"one worker: exit status {rc}")


main()
