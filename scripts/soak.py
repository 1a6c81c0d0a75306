#!/usr/bin/env python3
"""The soak: rwsgi under a bad day for a few minutes, every response checked.

Runs the real binary (RWSGI or --rwsgi) on loopback with a master, 4 workers, an HTTP
socket, a uwsgi socket, a stats socket and --harakiri 3, then, all at once and for
--duration seconds:

* a request load (8 clients, `Connection: close`, one request per connection) whose every
  response is checked: `GET /ok?n=N` must answer 200 `ok N`, `POST /echo` its body back;
* `kill -9` of a random worker every 10 s;
* requests that sleep past --harakiri (`/stuck`, 30 s) every 7 s: each must be cut;
* bursts of 500 concurrent stats readers every 15 s, each response parsed as JSON;
* a stats client that connects and never reads, for the whole run;
* garbage bytes to every socket every 5 s;
* one SIGHUP graceful reload, with a stuck request in flight at that moment (the kills
  pause around it, so any failure then is the reload's);
* one chain reload (`c` on the --master-fifo): workers replaced one at a time, the kills
  paused around it too, so any failure then is the chain's.

It prints what was sent, what failed (by kind), the failures near each kill, harakiri'd
requests, stats reads, invalid JSON, respawns and how long the reload held new
connections, then checks the goals: failures <= kills + harakiri'd requests, no invalid
JSON, no failure from the reload, the reload never held longer than the harakiri limit.
Exit status 0 when every goal is met, 1 otherwise.
"""

import argparse
import collections
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HARAKIRI = 3
PROCESSES = 4
CLIENTS = 8
KILL_EVERY = 10.0
STUCK_EVERY = 7.0
STATS_BURST_EVERY = 15.0
STATS_BURST = 500
GARBAGE_EVERY = 5.0
# A failure this close after a kill is that kill's (the worker's one connection, cut).
KILL_WINDOW = 2.0
CLIENT_TIMEOUT = 15.0
# Longer than /stuck's 30 s sleep.
STUCK_TIMEOUT = 40.0

APP = r'''
import time

def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/echo":
        n = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(n)
    elif path == "/stuck":
        time.sleep(30)
        body = b"slept"
    else:
        body = ("ok " + environ.get("QUERY_STRING", "")).encode()
    start_response("200 OK", [("Content-Type", "application/octet-stream"),
                              ("Content-Length", str(len(body)))])
    return [body]
'''


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Tally:
    """Counters shared by every thread."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counts = collections.Counter()
        self.failures = []  # (time, kind, what)
        self.kills = []  # times
        self.request_times = []  # (start, end) of load requests answered

    def add(self, key, n=1):
        with self.lock:
            self.counts[key] += n

    def fail(self, kind, what):
        with self.lock:
            self.failures.append((time.monotonic(), kind, what))


def exchange(port, raw, timeout):
    """Sends raw bytes on a new connection; returns what came back before the close."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.settimeout(timeout)
        s.sendall(raw)
        chunks = []
        while True:
            c = s.recv(65536)
            if not c:
                break
            chunks.append(c)
        return b"".join(chunks)
    finally:
        s.close()


def check_response(data, want_body):
    """None if `data` is a 200 with exactly `want_body`, else the failure kind."""
    if not data:
        return "closed_without_response"
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return "truncated_head"
    m = re.match(rb"HTTP/1\.[01] (\d{3})", head)
    if not m:
        return "bad_status_line"
    if m.group(1) != b"200":
        return "status_" + m.group(1).decode()
    cl = re.search(rb"(?im)^content-length:\s*(\d+)\s*$", head)
    if cl and int(cl.group(1)) != len(body):
        return "truncated_body"
    if body != want_body:
        return "bad_body"
    return None


def http_request(port, method, path, body=b"", timeout=CLIENT_TIMEOUT):
    req = (f"{method} {path} HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n"
           f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    return exchange(port, req, timeout)


def classify_error(e):
    if isinstance(e, ConnectionRefusedError):
        return "refused"
    if isinstance(e, ConnectionResetError):
        return "reset"
    if isinstance(e, (socket.timeout, TimeoutError)):
        return "timeout"
    if isinstance(e, BrokenPipeError):
        return "broken_pipe"
    return type(e).__name__


class Soak:
    def __init__(self, rwsgi, duration, workdir):
        self.rwsgi = rwsgi
        self.duration = duration
        self.dir = workdir
        self.http = free_port()
        self.uwsgi = free_port()
        self.stats = free_port()
        self.t = Tally()
        self.stop = threading.Event()
        self.kills_paused = threading.Event()
        self.reload_at = None  # monotonic time of the SIGHUP
        self.reload_done = None  # when the new generation answered
        self.reload_probes = 0
        self.stuck_threads = []
        self.reload_window = None  # (start, end) during which failures are the reload's
        self.chain_window = None  # (start, end) of the chain reload
        self.chain_replaced = 0  # workers the chain reload replaced
        self.fifo = os.path.join(workdir, "master.fifo")
        self.master = None
        self.t0 = time.monotonic()
        self.log_path = os.path.join(workdir, "rwsgi.log")

    # -- the server ------------------------------------------------------------------------

    def start(self):
        with open(os.path.join(self.dir, "soak_app.py"), "w") as f:
            f.write(APP)
        args = [
            self.rwsgi, "--master", "--processes", str(PROCESSES),
            "--http-socket", f"127.0.0.1:{self.http}",
            "--socket", f"127.0.0.1:{self.uwsgi}",
            "--stats", f"127.0.0.1:{self.stats}",
            "--harakiri", str(HARAKIRI), "--listen", "1024",
            "--chdir", self.dir, "--module", "soak_app",
            "--disable-logging", "--master-fifo", self.fifo,
        ]
        self.log = open(self.log_path, "w")
        self.master = subprocess.Popen(args, stdout=self.log, stderr=self.log,
                                       stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            s = self.read_stats()
            if s and sum(1 for w in s["workers"] if w.get("accepting") == 1) == PROCESSES:
                return
            time.sleep(0.2)
        raise SystemExit("rwsgi did not start:\n" + self.log_text())

    def log_text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def read_stats(self, timeout=5.0):
        try:
            return json.loads(exchange(self.stats, b"", timeout))
        except (OSError, ValueError):
            return None

    def worker_pids(self):
        s = self.read_stats()
        return [w["pid"] for w in s["workers"] if w.get("pid", 0) > 0] if s else []

    # -- the load --------------------------------------------------------------------------

    def client(self, cid):
        rng = random.Random(cid)
        n = 0
        while not self.stop.is_set():
            n += 1
            if rng.random() < 0.25:
                body = rng.randbytes(rng.randint(1, 8192))
                method, path, want = "POST", "/echo", body
            else:
                body = b""
                tag = f"{cid}-{n}"
                method, path, want = "GET", f"/ok?{tag}", f"ok {tag}".encode()
            start = time.monotonic()
            self.t.add("sent")
            try:
                kind = check_response(http_request(self.http, method, path, body), want)
            except OSError as e:
                kind = classify_error(e)
            if kind is None:
                self.t.add("ok")
                with self.t.lock:
                    self.t.request_times.append((start, time.monotonic()))
            else:
                self.t.fail(kind, f"{method} {path}")

    def stuck_request(self, label):
        """A request past --harakiri: it must be cut (its connection ends without the 200 it
        would send after 30 s). Waited for longer than that, so a request nobody cut is seen."""
        self.t.add("stuck_sent")
        try:
            data = http_request(self.http, "GET", "/stuck", timeout=STUCK_TIMEOUT)
            cut = check_response(data, b"slept") is not None
        except (socket.timeout, TimeoutError):
            cut = False
        except OSError:
            cut = True
        self.t.add("stuck_cut" if cut else "stuck_completed")
        if not cut:
            self.t.fail("stuck_not_cut", label)

    def stuck_loop(self):
        while not self.stop.wait(STUCK_EVERY):
            if not self.kills_paused.is_set():
                th = threading.Thread(target=self.stuck_request, args=("/stuck",), daemon=True)
                th.start()
                self.stuck_threads.append(th)

    # -- the faults ------------------------------------------------------------------------

    def killer(self):
        rng = random.Random(7)
        while not self.stop.wait(KILL_EVERY):
            if self.kills_paused.is_set():
                continue
            pids = self.worker_pids()
            if not pids:
                continue
            pid = rng.choice(pids)
            try:
                os.kill(pid, signal.SIGKILL)  # a worker of the master this script started
            except ProcessLookupError:
                continue
            with self.t.lock:
                self.t.kills.append(time.monotonic())

    def stats_reader(self):
        try:
            data = exchange(self.stats, b"", CLIENT_TIMEOUT)
        except OSError as e:
            self.t.add("stats_error_" + classify_error(e))
            return
        if not data:
            self.t.add("stats_error_empty")
            return
        self.t.add("stats_reads")
        try:
            doc = json.loads(data)
            if not isinstance(doc.get("workers"), list):
                raise ValueError("no workers list")
        except ValueError:
            self.t.add("invalid_json")

    def stats_bursts(self):
        while not self.stop.wait(STATS_BURST_EVERY):
            threads = [threading.Thread(target=self.stats_reader, daemon=True)
                       for _ in range(STATS_BURST)]
            for th in threads:
                th.start()
            for th in threads:
                th.join(CLIENT_TIMEOUT + 5)
            self.t.add("stats_bursts")

    def garbage(self):
        rng = random.Random(11)
        specials = [
            b"\x00" * 64,
            b"\xff\xff\xff\xff" + b"x" * 16,           # a uwsgi header claiming 64 KiB
            b"GET / HTTP/1.1\r\nHost: x\r\n" * 200,    # a head that never ends
            b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"\r\n\r\n\r\n",
        ]
        while not self.stop.wait(GARBAGE_EVERY):
            for port in (self.http, self.uwsgi, self.stats):
                raw = rng.choice(specials) if rng.random() < 0.4 else \
                    rng.randbytes(rng.randint(1, 4096))
                try:
                    s = socket.create_connection(("127.0.0.1", port), timeout=5)
                    s.sendall(raw)
                    s.shutdown(socket.SHUT_WR)
                    while s.recv(65536):
                        pass
                    s.close()
                except OSError:
                    pass
                self.t.add("garbage_sent")

    def silent_stats_client(self):
        """Connects to the stats socket and never reads, for the whole run."""
        s = socket.create_connection(("127.0.0.1", self.stats), timeout=5)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.stop.wait()
        s.close()

    def reload(self):
        """SIGHUP with a stuck request in flight; measures how long new connections wait."""
        self.kills_paused.set()
        time.sleep(KILL_WINDOW + 0.5)  # the last kill's failures are behind us
        stuck = threading.Thread(target=self.stuck_request, args=("stuck at SIGHUP",),
                                 daemon=True)
        stuck.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            s = self.read_stats()
            if s and any(c.get("in_request") and "PATH_INFO=/stuck" in c.get("vars", [])
                         for w in s["workers"] for c in w.get("cores", [])):
                break
            time.sleep(0.1)
        # Mid-way through its harakiri budget: a reload that waited for it would hold for
        # the rest of its 30 s; one that lets harakiri cut it holds about 1.5 s more.
        time.sleep(HARAKIRI / 2)
        old = set(self.worker_pids())
        start = time.monotonic()
        self.reload_at = start
        self.master.send_signal(signal.SIGHUP)
        self.t.add("reloads")
        # Probes one after another until the new generation serves: the longest one is how
        # long the reload held new connections (with the load's requests of that time).
        deadline = time.monotonic() + 40
        n = 0
        while time.monotonic() < deadline:
            n += 1
            probe = f"reload-probe-{n}"
            sent = time.monotonic()
            try:
                data = http_request(self.http, "GET", f"/ok?{probe}")
                kind = check_response(data, f"ok {probe}".encode())
            except OSError as e:
                kind = classify_error(e)
            if kind is None:
                with self.t.lock:
                    self.t.request_times.append((sent, time.monotonic()))
            else:
                self.t.fail(kind, f"reload probe {n}")
            pids = set(self.worker_pids())
            if len(pids) == PROCESSES and not (pids & old):
                break
        self.reload_done = time.monotonic()
        self.reload_probes = n
        stuck.join(STUCK_TIMEOUT + 5)
        time.sleep(1)
        self.reload_window = (start - 0.5, time.monotonic())
        self.kills_paused.clear()

    def chain_reload(self):
        """`c` on the master FIFO: every worker replaced, one at a time, under the load."""
        self.kills_paused.set()
        time.sleep(KILL_WINDOW + 0.5)
        old = set(self.worker_pids())
        start = time.monotonic()
        with open(self.fifo, "w") as f:
            f.write("c")
        self.t.add("chain_reloads")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not self.stop.is_set():
            pids = set(self.worker_pids())
            if len(pids) == PROCESSES and not (pids & old):
                break
            time.sleep(0.2)
        self.chain_replaced = len(old - set(self.worker_pids()))
        time.sleep(1)
        self.chain_window = (start - 0.5, time.monotonic())
        self.kills_paused.clear()

    # -- the run ---------------------------------------------------------------------------

    def run(self):
        self.start()
        spawned_before = self.log_text().count("spawned rwsgi worker")
        t0 = self.t0 = time.monotonic()
        background = [threading.Thread(target=self.client, args=(i,), daemon=True)
                      for i in range(CLIENTS)]
        background += [threading.Thread(target=f, daemon=True) for f in
                       (self.killer, self.stuck_loop, self.stats_bursts, self.garbage,
                        self.silent_stats_client)]
        for th in background:
            th.start()
        # The reload at 40 % of the run (after the first kills, before the end).
        self.stop.wait(max(self.duration * 0.4, 5))
        self.reload()
        # The chain reload at 70 %.
        self.stop.wait(max(0.0, t0 + self.duration * 0.7 - time.monotonic()))
        self.chain_reload()
        self.stop.wait(max(0.0, t0 + self.duration - time.monotonic()))
        self.stop.set()
        for th in background + self.stuck_threads:
            th.join(STUCK_TIMEOUT + 5)
        elapsed = time.monotonic() - t0
        alive = self.master.poll() is None
        self.final_stats = self.read_stats()
        self.shutdown()
        log = self.log_text()
        spawned = log.count("spawned rwsgi worker") - spawned_before
        return self.report(elapsed, alive, spawned, log)

    def shutdown(self):
        if self.master.poll() is None:
            self.master.send_signal(signal.SIGTERM)
            try:
                self.master.wait(70)
            except subprocess.TimeoutExpired:
                self.master.kill()  # the master this script started, by its pid
                self.master.wait()
        self.log.close()

    def report(self, elapsed, alive, spawned, log):
        t = self.t
        c = t.counts
        kills = t.kills
        in_reload = [f for f in t.failures
                     if self.reload_window and self.reload_window[0] <= f[0] <= self.reload_window[1]
                     and f[1] != "stuck_not_cut"]
        in_chain = [f for f in t.failures
                    if self.chain_window and self.chain_window[0] <= f[0] <= self.chain_window[1]
                    and f[1] != "stuck_not_cut"]
        per_kill = [sum(1 for f in t.failures if k <= f[0] <= k + KILL_WINDOW) for k in kills]
        by_kind = collections.Counter(f[1] for f in t.failures)
        # The longest wait of a request sent between the SIGHUP and the new generation.
        held = max((e - s for s, e in t.request_times
                    if self.reload_at and self.reload_at <= s <= (self.reload_done or s)),
                   default=None)
        harakiri_log = log.count("HARAKIRI ON WORKER")
        stats_errors = {k: v for k, v in c.items() if k.startswith("stats_error_")}
        failures = len(t.failures)
        # What harakiri killed (a kill -9 may also cut a stuck request before harakiri does).
        harakiried = harakiri_log

        print(f"rwsgi soak: {self.rwsgi}, {elapsed:.0f} s, {PROCESSES} workers, "
              f"--harakiri {HARAKIRI}, {CLIENTS} clients")
        print(f"requests sent:          {c['sent']}")
        print(f"ok:                     {c['ok']}")
        print(f"failed:                 {failures}"
              + (f"  ({', '.join(f'{k}: {v}' for k, v in sorted(by_kind.items()))})"
                 if by_kind else ""))
        print(f"kills (kill -9):        {len(kills)}")
        print(f"failures per kill:      {per_kill} (max {max(per_kill, default=0)})")
        by_kill = c["stuck_cut"] - harakiried
        print(f"harakiri'd:             {harakiried} (HARAKIRI log lines); stuck requests cut: "
              f"{c['stuck_cut']} of {c['stuck_sent']}"
              + (f" ({by_kill} ended by another SIGKILL first)" if by_kill > 0 else ""))
        print(f"stats reads:            {c['stats_reads']} in {c['stats_bursts']} bursts of "
              f"{STATS_BURST}" + (f"; errors: {stats_errors}" if stats_errors else ""))
        print(f"invalid JSON:           {c['invalid_json']}")
        print(f"garbage sent:           {c['garbage_sent']} connections")
        respawns = spawned - PROCESSES * c["reloads"] - self.chain_replaced
        print(f"respawns:               {respawns} (workers spawned after start-up, the "
              f"reload's new generation of {PROCESSES} not counted)")
        if held is not None:
            print(f"reload held new conns:  {held:.2f} s (the longest wait of a request sent "
                  f"between the SIGHUP and the new generation; {self.reload_probes} probes)")
        print(f"failures in the reload: {len(in_reload)}")
        if self.chain_window:
            print(f"chain reload:           {self.chain_replaced} of {PROCESSES} workers replaced "
                  f"in {self.chain_window[1] - self.chain_window[0] - 1.5:.1f} s; "
                  f"failures: {len(in_chain)}")
        print(f"server alive at the end: {'yes' if alive else 'NO'}")

        goals = [
            (f"failures ({failures}) <= kills + harakiri'd ({len(kills)} + {harakiried})",
             failures <= len(kills) + harakiried),
            ("0 invalid JSON", c["invalid_json"] == 0),
            ("0 failures from the reload", not in_reload),
            (f"the chain reload replaced every worker ({self.chain_replaced}/{PROCESSES}) "
             f"with 0 failures", self.chain_replaced == PROCESSES and not in_chain),
            (f"reload held <= harakiri limit ({HARAKIRI} s)",
             held is not None and held <= HARAKIRI),
            ("every stuck request cut", c["stuck_completed"] == 0),
            ("server alive", alive),
        ]
        for what, ok in goals:
            print(f"goal {'PASS' if ok else 'FAIL'}: {what}")
        if t.failures:
            print("failures (seconds into the run, kind, request):")
            for when, kind, what in t.failures[:40]:
                print(f"  {when - self.t0:7.2f}  {kind}: {what}")
        return 0 if all(ok for _, ok in goals) else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rwsgi", default=os.environ.get("RWSGI"),
                    help="the rwsgi binary (default: $RWSGI)")
    ap.add_argument("--duration", type=float, default=240,
                    help="seconds of load (default 240; 20 is a smoke run)")
    a = ap.parse_args()
    if not a.rwsgi:
        ap.error("no rwsgi binary: pass --rwsgi or set RWSGI")
    with tempfile.TemporaryDirectory(prefix="rwsgi-soak-") as d:
        soak = Soak(os.path.abspath(a.rwsgi), a.duration, d)
        try:
            rc = soak.run()
        finally:
            if soak.master and soak.master.poll() is None:
                soak.master.kill()
                soak.master.wait()
        if rc:
            print("--- rwsgi log (last 60 lines) ---")
            print("\n".join(soak.log_text().splitlines()[-60:]))
    sys.exit(rc)


if __name__ == "__main__":
    main()
