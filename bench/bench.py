#!/usr/bin/env python3
"""Whole-server benchmark: rwsgi against uWSGI 2.0, Granian and Gunicorn on loopback.

Run it through bench/run.sh, which installs the servers and tools and passes their paths in
the environment (RWSGI, UWSGI, GRANIAN, GUNICORN, NGINX, WRK). Only the standard library is
used here.

Method:
- every server serves the same app from bench/apps with the same number of worker processes,
  in the same Python environment (BENCH_VENV, where uWSGI, Granian and Gunicorn are installed;
  rwsgi is given it with --virtualenv);
- `wrk` drives it for BENCH_SECONDS after a BENCH_WARMUP-second warm-up run (not counted);
- runs alternate between the servers of a scenario, round-robin, BENCH_ROUNDS rounds (the
  order is rotated each round), so that slow drifts of the machine hit every server alike;
- the tables show medians over the rounds, the spread (min-max) and ratios; the raw results
  go to bench/results/<timestamp>.json.

Every server is started here, on 127.0.0.1 ports picked free at start, and stopped by pid
(then its whole process tree, by pid, if it lingers). Every loop and wait is bounded.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
APPS_DIR = os.path.join(BENCH_DIR, "apps")
WRK_SCRIPT = os.path.join(BENCH_DIR, "wrk", "report.lua")
RESULTS_DIR = os.path.join(BENCH_DIR, "results")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    return float(value) if value else default


# ---------------------------------------------------------------------------------------------
# Settings (environment)
# ---------------------------------------------------------------------------------------------

SECONDS = env_float("BENCH_SECONDS", 10)  # one measured wrk run
WARMUP = env_float("BENCH_WARMUP", 2)  # wrk run before each measured run (0: none)
ROUNDS = env_int("BENCH_ROUNDS", 3)
PROCESSES = env_int("BENCH_PROCESSES", 2)
CONNECTIONS = env_int("BENCH_CONNECTIONS", 32)
WRK_THREADS = env_int("BENCH_WRK_THREADS", 1)
STATS_HZ = env_float("BENCH_STATS_HZ", 20)  # scenario 4
CORES = os.cpu_count() or 1
STATS_READS = env_int("BENCH_STATS_READS", 300)  # scenario 5, per server and worker count
STATS_WORKERS = [int(n) for n in os.environ.get("BENCH_STATS_WORKERS", "8,64,256").split(",")]
RSS_WARMUP = env_float("BENCH_RSS_WARMUP", 5)  # scenario 6: load before measuring memory



def binary(env_name: str, default: str) -> str:
    """The tool named by the environment (made absolute: servers run in bench/apps)."""
    path = os.environ.get(env_name) or default
    if os.sep in path:
        return os.path.abspath(path)
    return shutil.which(path) or path


BINARIES = {
    "rwsgi": binary("RWSGI", "rwsgi"),
    # Scenario 8's baseline: another build of rwsgi (e.g. the last release), same options.
    "rwsgi-base": binary("RWSGI_BASE", "rwsgi"),
    "uwsgi": binary("UWSGI", "uwsgi"),
    "granian": binary("GRANIAN", "granian"),
    "gunicorn": binary("GUNICORN", "gunicorn"),
    "nginx": binary("NGINX", "nginx"),
    "wrk": binary("WRK", "wrk"),
}

# The Python environment every server runs in: uWSGI, Granian and Gunicorn are installed in it
# (uWSGI finds it from its binary's place), so rwsgi gets it with --virtualenv. Otherwise the
# servers would run different site-packages (and their .pth start-up hooks), which shows in RSS.
VENV = os.environ.get("BENCH_VENV", "")

START_TIMEOUT = 120.0  # seconds a server may take to answer after start (256 workers included)
STOP_TIMEOUT = 20.0  # seconds a server may take to exit after its stop signal

HOST = "127.0.0.1"
POST_BYTES = 1024 * 1024  # scenario 3's echoed body
BIG_BYTES = 64 * 1024  # scenario 3's response (bench/apps/big.py)
HELLO = b"Hello World"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class BenchError(Exception):
    """A server did not start, answered wrongly, or a tool failed."""


# ---------------------------------------------------------------------------------------------
# Processes: ports, start, readiness, stop by pid, /proc trees
# ---------------------------------------------------------------------------------------------

_used_ports: set[int] = set()


def free_port() -> int:
    """A loopback TCP port that is free now (and not handed out before in this run)."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind((HOST, 0))
            port = s.getsockname()[1]
        if port not in _used_ports:
            _used_ports.add(port)
            return port
    raise BenchError("no free port")


def proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (field 3 onwards), or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    return data[data.rindex(")") + 2 :].split()


def process_tree(root: int) -> list[int]:
    """root and all its descendants, found through the ppid of every /proc/*/stat."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            fields = proc_stat(int(name))
            if fields:
                children.setdefault(int(fields[1]), []).append(int(name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        if proc_stat(pid) is None:
            continue
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def cpu_seconds(pid: int) -> float:
    """CPU time a process's live threads have used so far (schedstat: nanoseconds, not ticks)."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0.0
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total / 1e9


def server_cpu(target: Target) -> dict[int, float]:
    """CPU seconds so far of each process of the server under test (not nginx), by pid."""
    return {pid: cpu_seconds(pid) for pid in process_tree(target.main.pid)}


def start_time(pid: int) -> str | None:
    """Start time of a live (not zombie) process, which tells a reused pid apart; else None."""
    fields = proc_stat(pid)
    return fields[19] if fields and fields[0] != "Z" else None  # fields 3 (state) and 22


def memory_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, Pss) of one process in KiB; 0 for what can't be read."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
    except OSError:
        pass
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


@dataclass
class Server:
    """A server process this script started."""

    name: str
    argv: list[str]
    stop_signal: int
    logdir: str
    cwd: str = APPS_DIR
    proc: subprocess.Popen | None = None
    log_path: str = ""

    def start(self) -> None:
        self.log_path = os.path.join(self.logdir, f"{self.name}.log")
        with open(self.log_path, "wb") as logfile:
            try:
                self.proc = subprocess.Popen(
                    self.argv,
                    cwd=self.cwd,
                    stdin=subprocess.DEVNULL,
                    stdout=logfile,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # a Ctrl-C in the terminal reaches only this script
                )
            except OSError as e:
                raise BenchError(f"{self.name}: cannot start {self.argv[0]}: {e}") from None
        RUNNING.append(self)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise BenchError(f"{self.name} exited with {self.proc.returncode}: {self.log_tail()}")

    def log_tail(self, lines: int = 8) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return " | ".join(f.read().strip().splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop signal to the main pid, bounded wait, then SIGKILL whatever is left of its tree."""
        if self.proc is None:
            return
        tree = [(pid, start_time(pid)) for pid in process_tree(self.pid)]
        t0 = time.monotonic()
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, self.stop_signal)
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                log(f"  {self.name}: still running {STOP_TIMEOUT:.0f}s after its stop signal: SIGKILL")
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        for pid, started in tree:
            while start_time(pid) == started and started is not None:
                if time.monotonic() > deadline:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    break
                time.sleep(0.05)
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=STOP_TIMEOUT)
        if time.monotonic() - t0 > 3:
            log(f"  {self.name}: took {time.monotonic() - t0:.1f}s to stop")
        if self in RUNNING:
            RUNNING.remove(self)


RUNNING: list[Server] = []


def stop_all() -> None:
    for server in list(reversed(RUNNING)):
        try:
            server.stop()
        except Exception as e:  # keep stopping the others
            log(f"  stopping {server.name}: {e}")


def http_request(port: int, method: str = "GET", body: bytes | None = None, timeout: float = 10,
                 read_body: bool = True):
    """(status, body) of one request on a fresh connection (body b"" unless read_body)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/octet-stream"} if body is not None else {}
        conn.request(method, "/", body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read() if read_body else b""
    finally:
        conn.close()


def wait_http_ready(port: int, servers: list[Server], timeout: float = START_TIMEOUT) -> None:
    """Until GET / answers a 200 status line (or a server exits, or the time is up).

    Only the head is awaited: a body without Content-Length may end only when the server
    closes the connection (uWSGI --http11-socket does so after its 4 s socket timeout).
    """
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        for s in servers:
            s.check_alive()
        try:
            status, _ = http_request(port, timeout=2, read_body=False)
            if status == 200:
                return
            last = f"status {status}"
        except (OSError, http.client.HTTPException) as e:
            last = str(e) or type(e).__name__
        time.sleep(0.1)
    raise BenchError(f"{servers[-1].name} not answering on :{port} after {timeout:.0f}s ({last})")


def read_stats(port: int, timeout: float = 10) -> tuple[float, bytes]:
    """(seconds from connect to EOF, bytes) of one read of a stats socket."""
    t0 = time.perf_counter()
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        chunks = []
        while True:
            chunk = s.recv(262144)
            if not chunk:
                break
            chunks.append(chunk)
    return time.perf_counter() - t0, b"".join(chunks)


def wait_workers(stats_port: int, n: int, server: Server, timeout: float = START_TIMEOUT) -> None:
    """Until the stats socket lists n workers that all have a live pid."""
    deadline = time.monotonic() + timeout
    seen = 0
    while time.monotonic() < deadline:
        server.check_alive()
        try:
            _, raw = read_stats(stats_port, timeout=5)
            workers = json.loads(raw).get("workers", [])
            seen = sum(1 for w in workers if w.get("pid") and proc_stat(w["pid"]) is not None)
            if seen >= n:
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    raise BenchError(f"{server.name}: {seen} of {n} workers up after {timeout:.0f}s")


# ---------------------------------------------------------------------------------------------
# Server command lines
# ---------------------------------------------------------------------------------------------


@dataclass
class Spec:
    """One server configuration: which server, which mode (listening flag), which app."""

    key: str  # unique within a scenario
    server: str  # rwsgi | uwsgi | granian | gunicorn
    mode: str  # rwsgi/uwsgi: the listening option; granian/gunicorn: a label
    app: str  # module in bench/apps
    threads: int = 1
    processes: int = PROCESSES
    extra: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        threads = f" x{self.threads} threads" if self.threads > 1 else ""
        extra = (" " + " ".join(self.extra)) if self.extra else ""
        return f"{self.server} {self.mode}{extra}{threads}"


STOP_SIGNALS = {
    # uWSGI 2.0 takes SIGTERM as "reload" unless --die-on-term: SIGINT stops it.
    "uwsgi": signal.SIGINT,
    "rwsgi": signal.SIGTERM,
    "rwsgi-base": signal.SIGTERM,
    "granian": signal.SIGTERM,
    "gunicorn": signal.SIGTERM,
    "nginx": signal.SIGTERM,
}


def server_argv(spec: Spec, port: int, stats_port: int | None = None) -> list[str]:
    addr = f"{HOST}:{port}"
    if spec.server in ("rwsgi", "rwsgi-base", "uwsgi"):
        argv = [BINARIES[spec.server], spec.mode, addr, "--master"]
        argv += ["--processes", str(spec.processes), "--disable-logging"]
        argv += ["--chdir", APPS_DIR, "--module", spec.app]
        if spec.threads > 1:
            argv += ["--threads", str(spec.threads)]
        if stats_port:
            argv += ["--stats", f"{HOST}:{stats_port}"]
        if spec.server.startswith("rwsgi") and VENV:
            argv += ["--virtualenv", VENV]
        return argv + spec.extra
    if spec.server == "granian":
        argv = [BINARIES["granian"], "--interface", "wsgi", "--workers", str(spec.processes)]
        argv += ["--host", HOST, "--port", str(port), "--working-dir", APPS_DIR]
        return argv + spec.extra + [f"{spec.app}:application"]
    if spec.server == "gunicorn":
        argv = [BINARIES["gunicorn"], "--workers", str(spec.processes), "--worker-class", "sync"]
        argv += ["--bind", addr, "--chdir", APPS_DIR]
        return argv + spec.extra + [f"{spec.app}:application"]
    raise ValueError(spec.server)


@dataclass
class Target:
    """A started configuration: the port wrk drives, the processes behind it."""

    spec: Spec
    port: int
    servers: list[Server]
    stats_port: int | None = None
    error: str = ""  # why it failed to start or to answer correctly, if it did

    @property
    def main(self) -> Server:
        return self.servers[0]


def start_target(spec: Spec, logdir: str, stats: bool = False) -> Target:
    port = free_port()
    stats_port = free_port() if stats else None
    server = Server(spec.key, server_argv(spec, port, stats_port), STOP_SIGNALS[spec.server], logdir)
    target = Target(spec, port, [server], stats_port)
    try:
        server.start()
        wait_http_ready(port, [server])
    except BenchError as e:
        target.error = str(e)
    return target


def check_response(target: Target, post_bytes: int = 0) -> None:
    """One request on a fresh connection: must answer 200 with the app's body."""
    if target.error:
        return
    try:
        if post_bytes:
            body = os.urandom(post_bytes // 2).hex().encode()
            status, got = http_request(target.port, "POST", body, timeout=30)
            expected = body
        else:
            status, got = http_request(target.port, timeout=30)
            expected = {"big": b"x" * BIG_BYTES}.get(target.spec.app, HELLO)
        if status != 200 or got != expected:
            target.error = f"wrong response: status {status}, {len(got)} bytes"
    except (OSError, http.client.HTTPException) as e:
        target.error = f"check request failed: {e}"


# ---------------------------------------------------------------------------------------------
# wrk and the stats poller
# ---------------------------------------------------------------------------------------------


def run_wrk(port: int, seconds: float, post_bytes: int = 0, path: str = "/") -> dict:
    """One wrk run; returns report.lua's numbers plus ok_rps (responses < 400 per second)."""
    argv = [BINARIES["wrk"], f"-t{WRK_THREADS}", f"-c{CONNECTIONS}", f"-d{seconds:g}s"]
    argv += ["-s", WRK_SCRIPT, f"http://{HOST}:{port}{path}"]
    env = dict(os.environ, BENCH_POST_BYTES=str(post_bytes))
    try:
        out = subprocess.run(
            argv, env=env, capture_output=True, text=True, timeout=seconds + 60, check=False
        )
    except subprocess.TimeoutExpired:
        raise BenchError(f"wrk did not finish within {seconds + 60:.0f}s") from None
    for line in out.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            result = json.loads(line[len("BENCH_JSON ") :])
            ok = result["requests"] - result["errors"]["status"]
            result["ok_rps"] = ok / (result["duration_us"] / 1e6)
            return result
    raise BenchError(f"wrk printed no result (exit {out.returncode}): {out.stderr.strip()[:300]}")


class StatsPoller(threading.Thread):
    """Reads a stats socket `hz` times a second (connect -> EOF) until stopped."""

    def __init__(self, port: int, hz: float, max_seconds: float):
        super().__init__(daemon=True)
        self.port, self.hz, self.max_seconds = port, hz, max_seconds
        self.stop_event = threading.Event()
        self.latencies: list[float] = []
        self.sizes: list[int] = []
        self.failures = 0
        self.cpu_seconds = 0.0  # this thread's own CPU (the client side of watching)

    def run(self) -> None:
        cpu0 = time.thread_time()
        try:
            self.poll()
        finally:
            self.cpu_seconds = time.thread_time() - cpu0

    def poll(self) -> None:
        t0 = time.monotonic()
        i = 0
        while not self.stop_event.is_set() and time.monotonic() - t0 < self.max_seconds:
            try:
                seconds, raw = read_stats(self.port, timeout=5)
                self.latencies.append(seconds)
                self.sizes.append(len(raw))
            except OSError:
                self.failures += 1
            i += 1
            self.stop_event.wait(max(0.0, t0 + i / self.hz - time.monotonic()))


# ---------------------------------------------------------------------------------------------
# Throughput scenarios (1-4): rows of (target, variant), round-robin
# ---------------------------------------------------------------------------------------------


@dataclass
class Row:
    """One line of a throughput table."""

    key: str
    target: Target
    post_bytes: int = 0
    poll_hz: float = 0  # scenario 4: stats reads a second during the run
    path: str = "/"  # the URL path wrk requests (scenario 8: a static file)
    runs: list[dict] = field(default_factory=list)

    @property
    def spec(self) -> Spec:
        return self.target.spec


def measure(row: Row) -> dict:
    """Warm-up run, then the measured run (with the stats poller alongside, if the row has one)."""
    row.target.main.check_alive()
    if WARMUP > 0:
        run_wrk(row.target.port, WARMUP, row.post_bytes, row.path)
    cpu0 = server_cpu(row.target)
    if not row.poll_hz:
        result = run_wrk(row.target.port, SECONDS, row.post_bytes, row.path)
        return with_server_cpu(result, row.target, cpu0)
    assert row.target.stats_port
    poller = StatsPoller(row.target.stats_port, row.poll_hz, SECONDS + 30)
    poller.start()
    try:
        result = run_wrk(row.target.port, SECONDS, row.post_bytes)
    finally:
        poller.stop_event.set()
        poller.join(timeout=30)
    with_server_cpu(result, row.target, cpu0)
    result["poller_cpu_s"] = poller.cpu_seconds
    result["stats_reads"] = len(poller.latencies)
    result["stats_failures"] = poller.failures
    result["stats_latency_ms"] = [round(x * 1000, 3) for x in poller.latencies]
    return result


def with_server_cpu(result: dict, target: Target, cpu0: dict[int, float]) -> dict:
    """Adds the server's CPU seconds during the run: its main process (the master, which also
    answers stats reads), its whole tree (workers too), CPU microseconds per request, and the
    CPU of the processes that are neither the main one nor one of the `processes` busiest
    children (the workers, under load): rwsgi's stats-pusher process, for example."""
    cpu1 = server_cpu(target)
    main = target.main.pid
    used = {pid: t - cpu0.get(pid, 0.0) for pid, t in cpu1.items()}
    tree = sum(used.values())
    children = sorted((t for pid, t in used.items() if pid != main), reverse=True)
    result["server_main_cpu_s"] = used.get(main, 0.0)
    result["server_cpu_s"] = tree
    result["server_cpu_us_per_req"] = tree * 1e6 / max(1, result["requests"])
    result["server_helpers_cpu_s"] = sum(children[target.spec.processes :])
    return result


def run_rounds(rows: list[Row]) -> None:
    """BENCH_ROUNDS rounds; in each, every row once (warm-up + measured run), order rotated."""
    live = [r for r in rows if not r.target.error]
    for rnd in range(ROUNDS):
        order = live[rnd % len(live) :] + live[: rnd % len(live)] if live else []
        for row in order:
            if row.target.error:  # failed in an earlier round
                continue
            try:
                result = measure(row)
            except BenchError as e:
                row.target.error = str(e)
                log(f"  round {rnd + 1}/{ROUNDS} {row.key}: FAILED: {e}")
                continue
            result["round"] = rnd + 1
            row.runs.append(result)
            errs = sum(result["errors"].values())
            log(f"  round {rnd + 1}/{ROUNDS} {row.key:<34} {result['ok_rps']:>10.0f} req/s"
                + (f"  ({errs} errors)" if errs else ""))


def start_targets(specs: list[Spec], logdir: str, post_bytes=None, stats=False) -> dict[str, Target]:
    """Starts every spec (all stay up for the scenario), checks each answers correctly."""
    targets = {}
    for spec in specs:
        log(f"  starting {spec.key}")
        target = start_target(spec, logdir, stats=stats)
        check_response(target, (post_bytes or {}).get(spec.key, 0))
        if target.error:
            log(f"  {spec.key}: FAILED: {target.error}")
        targets[spec.key] = target
    return targets


def summarize_row(row: Row) -> dict:
    if not row.runs:
        return {"error": row.target.error or "no runs"}
    rps = [r["ok_rps"] for r in row.runs]
    errors: dict[str, int] = {}
    for r in row.runs:
        for k, v in r["errors"].items():
            errors[k] = errors.get(k, 0) + v
    summary = {
        "rps_median": statistics.median(rps),
        "rps_min": min(rps),
        "rps_max": max(rps),
        "p50_ms": statistics.median(r["latency_us"]["p50"] for r in row.runs) / 1000,
        "p99_ms": statistics.median(r["latency_us"]["p99"] for r in row.runs) / 1000,
        "requests": sum(r["requests"] for r in row.runs),
        "errors": errors,
        "server_cpu_us_per_req": statistics.median(r["server_cpu_us_per_req"] for r in row.runs),
        "server_main_cpu_s_per_s": statistics.median(
            r["server_main_cpu_s"] / (r["duration_us"] / 1e6) for r in row.runs
        ),
        "server_helpers_cpu_s_per_s": statistics.median(
            r["server_helpers_cpu_s"] / (r["duration_us"] / 1e6) for r in row.runs
        ),
    }
    if row.poll_hz:
        lat = [x for r in row.runs for x in r["stats_latency_ms"]]
        summary["stats_reads"] = sum(r["stats_reads"] for r in row.runs)
        summary["stats_failures"] = sum(r["stats_failures"] for r in row.runs)
        summary["stats_p50_ms"] = percentile(lat, 50)
        summary["stats_p99_ms"] = percentile(lat, 99)
    if row.target.error:
        summary["error"] = row.target.error
    return summary


def row_record(row: Row) -> dict:
    return {
        "key": row.key,
        "server": row.spec.server,
        "mode": row.spec.mode,
        "label": row.spec.label,
        "app": row.spec.app,
        "processes": row.spec.processes,
        "threads": row.spec.threads,
        "extra": row.spec.extra,
        "post_bytes": row.post_bytes,
        "poll_hz": row.poll_hz,
        "path": row.path,
        "argv": [s.argv for s in row.target.servers],
        "runs": row.runs,
        "summary": summarize_row(row),
    }


def throughput_table(rows: list[Row]) -> str:
    """Median req/s, spread, ratios to uWSGI's best and to Granian, latency and errors."""
    recs = [row_record(r) for r in rows]

    def median_of(rec):
        return rec["summary"].get("rps_median") if rec else None

    def uwsgi_best(rec):
        # uWSGI's best mode: the fastest uWSGI row for the same app, body and thread count
        same = [r for r in recs if r["server"] == "uwsgi" and r["app"] == rec["app"]
                and r["threads"] == rec["threads"] and r["post_bytes"] == rec["post_bytes"]
                and median_of(r)]
        return max(same, key=median_of, default=None)

    def granian(rec):
        # plain `granian --interface wsgi --workers N` (no extra options) with the same app
        same = [r for r in recs if r["server"] == "granian" and r["app"] == rec["app"]
                and not r["extra"] and r["post_bytes"] == rec["post_bytes"] and median_of(r)]
        return same[0] if same else None

    lines = []
    for rec in recs:
        s = rec["summary"]
        if "rps_median" not in s:
            lines.append([rec["label"], rec["app"], "FAILED", "", "", "", "", "", s.get("error", "")[:90]])
            continue
        ub, gr = uwsgi_best(rec), granian(rec)
        lines.append([
            rec["label"],
            rec["app"],
            f"{s['rps_median']:,.0f}",
            f"{s['rps_min']:,.0f}–{s['rps_max']:,.0f}",
            ratio(s["rps_median"], median_of(ub)) + (f" ({ub['mode']})" if ub and ub is not rec else ""),
            ratio(s["rps_median"], median_of(gr)),
            f"{s['p50_ms']:.2f}" if s["requests"] else "—",
            f"{s['p99_ms']:.2f}" if s["requests"] else "—",
            f"{s['server_cpu_us_per_req']:.1f}",
            errors_cell(s["errors"]) + (f"; FAILED: {s['error'][:60]}" if s.get("error") else ""),
        ])
    return markdown_table(
        ["server / mode", "app", "req/s (median)", "min–max", "vs uWSGI best", "vs Granian",
         "p50 ms", "p99 ms", "server CPU µs/req", "errors: non-2xx / socket"],
        lines,
    )


def errors_cell(errors: dict) -> str:
    status = errors.get("status", 0)
    sock = [f"{k} {v}" for k, v in errors.items() if k != "status" and v]
    return f"{status} / " + (", ".join(sock) if sock else "0")


def ratio(value, base) -> str:
    if value is None or not base:
        return "—"
    return f"{value / base:.2f}×"


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    fmt = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([fmt(headers), sep] + [fmt(r) for r in rows])


# ---------------------------------------------------------------------------------------------
# The scenarios
# ---------------------------------------------------------------------------------------------


def scenario_1(logdir: str) -> tuple[list[dict], str]:
    """Hello world over HTTP: every server and mode, threads, and an app without Content-Length."""
    specs = [
        Spec("rwsgi", "rwsgi", "--http-socket", "hello"),
        Spec("uwsgi-http11", "uwsgi", "--http11-socket", "hello"),
        Spec("uwsgi-http", "uwsgi", "--http-socket", "hello"),
        Spec("granian", "granian", "--interface wsgi", "hello"),
        Spec("granian-bt1", "granian", "--interface wsgi", "hello", extra=["--blocking-threads", "1"]),
        Spec("gunicorn", "gunicorn", "sync", "hello"),
        Spec("rwsgi-x2", "rwsgi", "--http-socket", "hello", threads=2),
        Spec("uwsgi-http11-x2", "uwsgi", "--http11-socket", "hello", threads=2),
        Spec("uwsgi-http-x2", "uwsgi", "--http-socket", "hello", threads=2),
        Spec("rwsgi-nocl", "rwsgi", "--http-socket", "hello_nocl"),
        Spec("uwsgi-http11-nocl", "uwsgi", "--http11-socket", "hello_nocl"),
        Spec("uwsgi-http-nocl", "uwsgi", "--http-socket", "hello_nocl"),
        Spec("granian-nocl", "granian", "--interface wsgi", "hello_nocl"),
    ]
    return throughput_rounds(specs, logdir)


def throughput_rounds(specs: list[Spec], logdir: str) -> tuple[list[dict], str]:
    """Starts every spec, runs the alternating rounds, stops them: one throughput table."""
    targets = start_targets(specs, logdir)
    rows = [Row(s.key, targets[s.key]) for s in specs]
    try:
        run_rounds(rows)
    finally:
        stop_all()
    return [row_record(r) for r in rows], throughput_table(rows)


def scenario_9(logdir: str) -> tuple[list[dict], str]:
    """Scenario 1's hello world for this rwsgi and a baseline build (RWSGI_BASE), beside uWSGI
    and Granian, in the same alternating rounds: a change's cost in CPU per request."""
    if not os.environ.get("RWSGI_BASE"):
        raise BenchError("scenario 9 needs RWSGI_BASE=/path/to/a/baseline/rwsgi")
    specs = [
        Spec("rwsgi", "rwsgi", "--http-socket", "hello"),
        Spec("rwsgi-base", "rwsgi-base", "--http-socket", "hello"),
        Spec("uwsgi-http11", "uwsgi", "--http11-socket", "hello"),
        Spec("granian", "granian", "--interface wsgi", "hello"),
    ]
    return throughput_rounds(specs, logdir)


NGINX_CONF = """\
daemon off;
master_process off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
{servers}
}}
"""

NGINX_SERVER = """\
    server {{
        listen {host}:{port};
        location / {{
            uwsgi_param QUERY_STRING $query_string;
            uwsgi_param REQUEST_METHOD $request_method;
            uwsgi_param CONTENT_TYPE $content_type;
            uwsgi_param CONTENT_LENGTH $content_length;
            uwsgi_param REQUEST_URI $request_uri;
            uwsgi_param PATH_INFO $document_uri;
            uwsgi_param DOCUMENT_ROOT $document_root;
            uwsgi_param SERVER_PROTOCOL $server_protocol;
            uwsgi_param REQUEST_SCHEME $scheme;
            uwsgi_param REMOTE_ADDR $remote_addr;
            uwsgi_param REMOTE_PORT $remote_port;
            uwsgi_param SERVER_PORT $server_port;
            uwsgi_param SERVER_NAME $server_name;
            uwsgi_param HTTP_HOST $host;
            uwsgi_pass {host}:{upstream};
        }}
    }}
"""


def scenario_2(logdir: str) -> tuple[list[dict], str]:
    """nginx uwsgi_pass -> --socket (uwsgi protocol), rwsgi vs uWSGI."""
    specs = [
        Spec("nginx->rwsgi", "rwsgi", "--socket", "hello"),
        Spec("nginx->uwsgi", "uwsgi", "--socket", "hello"),
    ]
    nginx_dir = tempfile.mkdtemp(prefix="nginx-", dir=logdir)
    conf = os.path.join(nginx_dir, "nginx.conf")
    nginx = Server("nginx", [BINARIES["nginx"], "-p", nginx_dir, "-c", conf,
                             "-e", os.path.join(nginx_dir, "nginx-stderr.log")],
                   STOP_SIGNALS["nginx"], logdir)
    # One nginx server block (own port) per backend; the backends listen on --socket ports.
    targets, blocks = {}, []
    for spec in specs:
        upstream = free_port()
        backend = Server(spec.key.replace(">", ""), server_argv(spec, upstream),
                         STOP_SIGNALS[spec.server], logdir)
        targets[spec.key] = Target(spec, free_port(), [backend, nginx])
        blocks.append(NGINX_SERVER.format(host=HOST, port=targets[spec.key].port, upstream=upstream))
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(tmp=nginx_dir, servers="".join(blocks)))
    rows = [Row(spec.key, targets[spec.key]) for spec in specs]
    try:
        for target in targets.values():
            try:
                target.main.start()
            except BenchError as e:
                target.error = str(e)
        nginx.start()
        for row in rows:
            if not row.target.error:
                try:
                    wait_http_ready(row.target.port, [nginx, row.target.main])
                except BenchError as e:
                    row.target.error = str(e)
            check_response(row.target)
            if row.target.error:
                log(f"  {row.key}: FAILED: {row.target.error}")
        run_rounds(rows)
    except BenchError as e:  # nginx itself did not start
        for row in rows:
            row.target.error = row.target.error or str(e)
    finally:
        stop_all()
    records = [row_record(r) for r in rows]
    with open(conf) as f:
        nginx_conf = f.read()
    for rec in records:
        rec["nginx_conf"] = nginx_conf
    return records, throughput_table(rows)


def scenario_3(logdir: str) -> tuple[list[dict], str]:
    """A 64 KiB response, and a 1 MiB POST body echoed back."""
    specs, post = [], {}
    for app in ("big", "echo"):
        for key, server, mode in (("rwsgi", "rwsgi", "--http-socket"),
                                  ("uwsgi-http11", "uwsgi", "--http11-socket"),
                                  ("uwsgi-http", "uwsgi", "--http-socket"),
                                  ("granian", "granian", "--interface wsgi")):
            specs.append(Spec(f"{key}-{app}", server, mode, app))
            post[f"{key}-{app}"] = POST_BYTES if app == "echo" else 0
    targets = start_targets(specs, logdir, post_bytes=post)
    rows = [Row(s.key, targets[s.key], post_bytes=post[s.key]) for s in specs]
    try:
        run_rounds(rows)
    finally:
        stop_all()
    return [row_record(r) for r in rows], throughput_table(rows)


def paired_cost_cell(plain_runs: list[dict], other_runs: list[dict]) -> str:
    """Median and range of 1 - other/plain over the rounds that have both runs: a round's two
    runs are close in time, so drift of the machine between rounds cancels."""
    by_round = {r["round"]: r for r in plain_runs}
    paired = [1 - r["ok_rps"] / by_round[r["round"]]["ok_rps"]
              for r in other_runs if r["round"] in by_round and by_round[r["round"]]["ok_rps"]]
    if not paired:
        return "—"
    return (f"{statistics.median(paired) * 100:+.1f}% "
            f"({min(paired) * 100:+.1f}…{max(paired) * 100:+.1f})")


def scenario_4(logdir: str) -> tuple[list[dict], str]:
    """Throughput with and without STATS_HZ stats reads a second, rwsgi and uWSGI."""
    specs = [
        Spec("rwsgi", "rwsgi", "--http-socket", "hello"),
        Spec("uwsgi-http11", "uwsgi", "--http11-socket", "hello"),
    ]
    targets = start_targets(specs, logdir, stats=True)
    rows = []
    for spec in specs:
        rows.append(Row(f"{spec.key} no polling", targets[spec.key]))
        rows.append(Row(f"{spec.key} {STATS_HZ:g} stats reads/s", targets[spec.key], poll_hz=STATS_HZ))
    try:
        run_rounds(rows)
    finally:
        stop_all()
    records = [row_record(r) for r in rows]
    lines = []
    for plain, polled in zip(records[0::2], records[1::2]):
        a, b = plain["summary"], polled["summary"]
        if "rps_median" not in a or "rps_median" not in b:
            lines.append([plain["label"], "FAILED", "", "", "", "", a.get("error") or b.get("error", "")])
            continue
        cost = (1 - b["rps_median"] / a["rps_median"]) * 100
        # What answering the reads cost the server: its main process's (the stats server's)
        # extra CPU with polling, as a share of the machine's cores, and per read.
        extra_cpu = b["server_main_cpu_s_per_s"] - a["server_main_cpu_s_per_s"]
        reads_per_s = b["stats_reads"] / (SECONDS * len(polled["runs"]))
        poller_cpu = statistics.median(r["poller_cpu_s"] / (r["duration_us"] / 1e6) for r in polled["runs"])
        lines.append([
            plain["label"],
            f"{a['rps_median']:,.0f} ({a['rps_min']:,.0f}–{a['rps_max']:,.0f})",
            f"{b['rps_median']:,.0f} ({b['rps_min']:,.0f}–{b['rps_max']:,.0f})",
            f"{cost:+.1f}%",
            paired_cost_cell(plain["runs"], polled["runs"]),
            f"{extra_cpu / CORES * 100:.3f}% ({extra_cpu / reads_per_s * 1e6:.0f} µs/read)"
            if reads_per_s else "—",
            f"{poller_cpu / CORES * 100:.2f}%",
            f"{b['stats_reads']} / {b['stats_failures']}",
            f"{fmt_ms(b['stats_p50_ms'])} / {fmt_ms(b['stats_p99_ms'])}",
            f"{errors_cell(a['errors'])} ; {errors_cell(b['errors'])}",
        ])
    table = markdown_table(
        ["server / mode", "req/s no polling (min–max)", f"req/s with {STATS_HZ:g} reads/s (min–max)",
         "cost (medians)", "cost, paired by round: median (range)",
         "server CPU answering reads, share of machine", "poller's own CPU, share of machine",
         "stats reads / failed", "stats read p50 / p99 ms under load",
         "errors non-2xx / socket (plain ; polled)"],
        lines,
    )
    return records, table


def fmt_ms(value) -> str:
    return "—" if value is None else f"{value:.2f}"


def scenario_5(logdir: str) -> tuple[list[dict], str]:
    """Stats read latency (connect -> EOF) on an idle server with 8, 64, 256 workers."""
    records, lines = [], []
    for n in STATS_WORKERS:
        specs = [
            Spec(f"rwsgi-{n}w", "rwsgi", "--http-socket", "hello", processes=n),
            Spec(f"uwsgi-{n}w", "uwsgi", "--http-socket", "hello", processes=n),
        ]
        targets = {}
        try:
            for spec in specs:
                log(f"  starting {spec.key}")
                target = start_target(spec, logdir, stats=True)
                if not target.error:
                    try:
                        wait_workers(target.stats_port, n, target.main)
                        read_stats(target.stats_port)  # one unmeasured read
                    except (BenchError, OSError) as e:
                        target.error = str(e)
                if target.error:
                    log(f"  {spec.key}: FAILED: {target.error}")
                targets[spec.key] = target
            samples: dict[str, list[float]] = {k: [] for k in targets}
            sizes: dict[str, list[int]] = {k: [] for k in targets}
            workers_seen: dict[str, int] = {}
            failures = {k: 0 for k in targets}
            live = [t for t in targets.values() if not t.error]
            for i in range(STATS_READS):
                # alternate which server goes first, read by read
                for target in live if i % 2 == 0 else live[::-1]:
                    try:
                        seconds, raw = read_stats(target.stats_port)
                        samples[target.spec.key].append(seconds * 1000)
                        sizes[target.spec.key].append(len(raw))
                        if i in (0, STATS_READS - 1):
                            workers_seen[target.spec.key] = len(json.loads(raw)["workers"])
                    except (OSError, ValueError, KeyError):
                        failures[target.spec.key] += 1
                    time.sleep(0.01)
            for target in live:
                target.main.check_alive()
        except BenchError as e:
            log(f"  {n} workers: FAILED: {e}")
        finally:
            stop_all()
        uw_p50 = percentile(samples.get(f"uwsgi-{n}w", []), 50)
        for key, target in targets.items():
            lat = samples.get(key, [])
            rec = {
                "key": key, "server": target.spec.server, "workers": n,
                "argv": target.main.argv, "latency_ms": [round(x, 4) for x in lat],
                "sizes": sizes.get(key, []), "failures": failures.get(key, 0),
                "workers_in_json": workers_seen.get(key), "error": target.error,
                "summary": {"p50_ms": percentile(lat, 50), "p99_ms": percentile(lat, 99),
                            "max_ms": max(lat) if lat else None,
                            "bytes": statistics.median(sizes[key]) if sizes.get(key) else None},
            }
            records.append(rec)
            s = rec["summary"]
            if not lat:
                lines.append([str(n), target.spec.server, "FAILED", "", "", "", "", target.error[:80]])
                continue
            lines.append([
                str(n), target.spec.server, fmt_ms(s["p50_ms"]), fmt_ms(s["p99_ms"]),
                f"{s['bytes']:,.0f}", f"{len(lat)} / {failures[key]}",
                ratio(s["p50_ms"], uw_p50), str(workers_seen.get(key, "?")),
            ])
    table = markdown_table(
        ["workers", "server", "p50 ms", "p99 ms", "response bytes", "reads / failed",
         "p50 vs uWSGI", "workers in JSON"],
        lines,
    )
    return records, table


def scenario_6(logdir: str) -> tuple[list[dict], str]:
    """RSS and PSS of the whole process tree after warm-up, app preloaded, 2 processes."""
    specs = [
        Spec("rwsgi", "rwsgi", "--http-socket", "hello"),
        Spec("uwsgi-http11", "uwsgi", "--http11-socket", "hello"),
        Spec("granian", "granian", "--interface wsgi", "hello"),
    ]
    samples: dict[str, list[dict]] = {s.key: [] for s in specs}
    errors: dict[str, str] = {}
    argvs: dict[str, list[str]] = {}
    for rnd in range(ROUNDS):
        for spec in specs[rnd % len(specs) :] + specs[: rnd % len(specs)]:
            if spec.key in errors:
                continue
            try:
                target = start_target(spec, logdir)
                argvs[spec.key] = target.main.argv
                if target.error:
                    raise BenchError(target.error)
                if RSS_WARMUP > 0:
                    run_wrk(target.port, RSS_WARMUP)
                time.sleep(1)
                tree = process_tree(target.main.pid)
                mem = [memory_kib(pid) for pid in tree]
                sample = {"round": rnd + 1, "processes": len(tree),
                          "rss_kib": sum(m[0] for m in mem), "pss_kib": sum(m[1] for m in mem),
                          "per_process_kib": [[pid, *m] for pid, m in zip(tree, mem)]}
                samples[spec.key].append(sample)
                log(f"  round {rnd + 1}/{ROUNDS} {spec.key:<14} {len(tree)} processes, "
                    f"RSS {sample['rss_kib'] / 1024:.1f} MiB, PSS {sample['pss_kib'] / 1024:.1f} MiB")
            except BenchError as e:
                errors[spec.key] = str(e)
                log(f"  {spec.key}: FAILED: {e}")
            finally:
                stop_all()

    def med(key, field_):
        vals = [s[field_] for s in samples[key]]
        return statistics.median(vals) / 1024 if vals else None

    records, lines = [], []
    for spec in specs:
        vals = samples[spec.key]
        rec = {"key": spec.key, "server": spec.server, "mode": spec.mode, "argv": argvs.get(spec.key),
               "samples": vals, "error": errors.get(spec.key, "")}
        records.append(rec)
        if not vals:
            lines.append([spec.label, "FAILED", "", "", "", "", errors.get(spec.key, "")[:80]])
            continue
        rss = [s["rss_kib"] / 1024 for s in vals]
        pss = [s["pss_kib"] / 1024 for s in vals]
        rec["summary"] = {"rss_mib": statistics.median(rss), "pss_mib": statistics.median(pss),
                          "processes": vals[-1]["processes"]}
        lines.append([
            spec.label, str(vals[-1]["processes"]),
            f"{statistics.median(rss):.1f} ({min(rss):.1f}–{max(rss):.1f})",
            f"{statistics.median(pss):.1f} ({min(pss):.1f}–{max(pss):.1f})",
            f"{ratio(med(spec.key, 'rss_kib'), med('uwsgi-http11', 'rss_kib'))} / "
            f"{ratio(med(spec.key, 'pss_kib'), med('uwsgi-http11', 'pss_kib'))}",
            f"{ratio(med(spec.key, 'rss_kib'), med('granian', 'rss_kib'))} / "
            f"{ratio(med(spec.key, 'pss_kib'), med('granian', 'pss_kib'))}",
            errors.get(spec.key, ""),
        ])
    table = markdown_table(
        ["server / mode", "processes", "RSS sum MiB (min–max)", "PSS sum MiB (min–max)",
         "RSS / PSS vs uWSGI", "RSS / PSS vs Granian", "error"],
        lines,
    )
    return records, table


CHEAPER_PROCESSES = 8  # scenario 10


def scenario_10(logdir: str) -> tuple[list[dict], str]:
    """Idle memory of the whole process tree: 8 processes, against 8 with cheaper = 1."""
    n = CHEAPER_PROCESSES
    cheaper = ["--cheaper", "1"]
    specs = [
        Spec("rwsgi", "rwsgi", "--http-socket", "hello", processes=n),
        Spec("rwsgi-cheaper", "rwsgi", "--http-socket", "hello", processes=n, extra=cheaper),
        Spec("uwsgi", "uwsgi", "--http11-socket", "hello", processes=n),
        Spec("uwsgi-cheaper", "uwsgi", "--http11-socket", "hello", processes=n, extra=cheaper),
    ]
    samples: dict[str, list[dict]] = {s.key: [] for s in specs}
    errors: dict[str, str] = {}
    argvs: dict[str, list[str]] = {}
    for rnd in range(ROUNDS):
        for spec in specs[rnd % len(specs) :] + specs[: rnd % len(specs)]:
            if spec.key in errors:
                continue
            try:
                target = start_target(spec, logdir, stats=True)
                argvs[spec.key] = target.main.argv
                if target.error:
                    raise BenchError(target.error)
                assert target.stats_port is not None
                wait_workers(target.stats_port, 1 if spec.extra else n, target.main)
                time.sleep(1)  # idle: nothing but the one readiness request was served
                tree = process_tree(target.main.pid)
                mem = [memory_kib(pid) for pid in tree]
                sample = {"round": rnd + 1, "processes": len(tree),
                          "rss_kib": sum(m[0] for m in mem), "pss_kib": sum(m[1] for m in mem)}
                samples[spec.key].append(sample)
                log(f"  round {rnd + 1}/{ROUNDS} {spec.key:<14} {len(tree)} processes, "
                    f"RSS {sample['rss_kib'] / 1024:.1f} MiB, PSS {sample['pss_kib'] / 1024:.1f} MiB")
            except BenchError as e:
                errors[spec.key] = str(e)
                log(f"  {spec.key}: FAILED: {e}")
            finally:
                stop_all()

    def med(key, field_):
        vals = [s[field_] for s in samples[key]]
        return statistics.median(vals) / 1024 if vals else None

    records, lines = [], []
    for spec in specs:
        vals = samples[spec.key]
        rec = {"key": spec.key, "server": spec.server, "argv": argvs.get(spec.key),
               "samples": vals, "error": errors.get(spec.key, "")}
        records.append(rec)
        if not vals:
            lines.append([spec.label, "FAILED", "", "", "", errors.get(spec.key, "")[:80]])
            continue
        base = spec.key.removesuffix("-cheaper")
        rec["summary"] = {"rss_mib": med(spec.key, "rss_kib"), "pss_mib": med(spec.key, "pss_kib"),
                          "processes": vals[-1]["processes"]}
        lines.append([
            spec.label, str(vals[-1]["processes"]),
            f"{med(spec.key, 'rss_kib'):.1f}", f"{med(spec.key, 'pss_kib'):.1f}",
            f"{ratio(med(spec.key, 'rss_kib'), med(base, 'rss_kib'))} / "
            f"{ratio(med(spec.key, 'pss_kib'), med(base, 'pss_kib'))}",
            errors.get(spec.key, ""),
        ])
    table = markdown_table(
        ["server / mode", "processes running", "RSS sum MiB (median)", "PSS sum MiB (median)",
         "RSS / PSS vs the same server without cheaper", "error"],
        lines,
    )
    return records, table


def dead_port() -> int:
    """A loopback port nothing listens on (a push target that is down)."""
    return free_port()


def scenario_7(logdir: str) -> tuple[list[dict], str]:
    """Throughput with every kind of stats pusher running against targets that are down."""
    push_dir = tempfile.mkdtemp(prefix="push-", dir=logdir)
    pushers = [
        "--stats-pusher-default-freq", "1",
        "--stats-push", f"file:path={push_dir}/stats.json,freq=1",
        "--stats-push", f"statsd:{HOST}:{dead_port()}",
        "--stats-push", f"socket:{HOST}:{dead_port()}",
        "--stats-push", f"zabbix:{HOST}:{dead_port()}",
        "--stats-push", f"mongodb:addr={HOST}:{dead_port()},freq=1",
        "--carbon", f"{HOST}:{dead_port()}", "--carbon-freq", "1",
    ]
    specs = [
        Spec("rwsgi", "rwsgi", "--http-socket", "hello"),
        Spec("rwsgi-pushers", "rwsgi", "--http-socket", "hello", extra=pushers),
    ]
    targets = start_targets(specs, logdir)
    rows = [Row(s.key, targets[s.key]) for s in specs]
    try:
        run_rounds(rows)
    finally:
        stop_all()
    records = [row_record(r) for r in rows]
    a, b = records[0]["summary"], records[1]["summary"]
    if "rps_median" not in a or "rps_median" not in b:
        return records, f"FAILED: {a.get('error') or b.get('error', '')}"
    cost = (1 - b["rps_median"] / a["rps_median"]) * 100
    table = markdown_table(
        ["server", "req/s no pushers (min–max)", "req/s with 6 pushers, targets down (min–max)",
         "cost (medians)", "cost, paired by round: median (range)",
         "server CPU µs/req (no pushers ; pushers)", "pusher process's CPU, share of machine",
         "errors non-2xx / socket"],
        [["rwsgi --http-socket",
          f"{a['rps_median']:,.0f} ({a['rps_min']:,.0f}–{a['rps_max']:,.0f})",
          f"{b['rps_median']:,.0f} ({b['rps_min']:,.0f}–{b['rps_max']:,.0f})",
          f"{cost:+.1f}%",
          paired_cost_cell(rows[0].runs, rows[1].runs),
          f"{a['server_cpu_us_per_req']:.1f} ; {b['server_cpu_us_per_req']:.1f}",
          f"{b['server_helpers_cpu_s_per_s'] / CORES * 100:.3f}%",
          f"{errors_cell(a['errors'])} ; {errors_cell(b['errors'])}"]],
    )
    return records, table


STATIC_FILES = {"4k.bin": 4096, "1m.bin": 1 << 20}  # scenario 8

NGINX_STATIC_CONF = """\
daemon off;
{user}worker_processes {processes};
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen {host}:{port};
        location /static/ {{ alias {docroot}/; }}
        location / {{ return 200 "Hello World"; }}
    }}
}}
"""


def fetch_path(port: int, path: str, timeout: float = 30) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def scenario_8(logdir: str) -> tuple[list[dict], str]:
    """Static files: a 4 KiB and a 1 MiB file, rwsgi vs uWSGI, Granian and nginx."""
    docroot = tempfile.mkdtemp(prefix="static-", dir=logdir)
    contents = {}
    for name, size in STATIC_FILES.items():
        contents[name] = os.urandom(size)
        with open(os.path.join(docroot, name), "wb") as f:
            f.write(contents[name])
    static_map = ["--static-map", f"/static={docroot}"]
    specs = [
        Spec("rwsgi", "rwsgi", "--http-socket", "hello", extra=static_map),
        Spec("uwsgi-http11", "uwsgi", "--http11-socket", "hello",
             extra=static_map + ["--offload-threads", str(PROCESSES)]),
        Spec("uwsgi-http", "uwsgi", "--http-socket", "hello",
             extra=static_map + ["--offload-threads", str(PROCESSES)]),
        Spec("granian", "granian", "--interface wsgi", "hello",
             extra=["--static-path-route", "/static", "--static-path-mount", docroot]),
    ]
    targets = start_targets(specs, logdir)
    nginx_dir = tempfile.mkdtemp(prefix="nginx-static-", dir=logdir)
    conf = os.path.join(nginx_dir, "nginx.conf")
    nginx_port = free_port()
    with open(conf, "w") as f:
        # As root, nginx's workers would drop to nobody, who cannot read the private temp dir.
        user = "user root;\n" if os.geteuid() == 0 else ""
        f.write(NGINX_STATIC_CONF.format(user=user, processes=PROCESSES, tmp=nginx_dir, host=HOST,
                                         port=nginx_port, docroot=docroot))
    nginx = Server("nginx-static", [BINARIES["nginx"], "-p", nginx_dir, "-c", conf,
                                    "-e", os.path.join(nginx_dir, "nginx-stderr.log")],
                   STOP_SIGNALS["nginx"], logdir)
    nginx_spec = Spec("nginx", "nginx", "sendfile on", "static", processes=PROCESSES)
    targets["nginx"] = Target(nginx_spec, nginx_port, [nginx])
    rows = []
    try:
        try:
            nginx.start()
            wait_http_ready(nginx_port, [nginx])
        except BenchError as e:
            targets["nginx"].error = str(e)
        for key, target in targets.items():
            for name in STATIC_FILES:
                path = f"/static/{name}"
                row = Row(f"{key} {name}", target, path=path)
                if not target.error:
                    try:
                        status, body = fetch_path(target.port, path)
                        if status != 200 or body != contents[name]:
                            target.error = f"{path}: status {status}, {len(body)} bytes"
                    except (OSError, http.client.HTTPException) as e:
                        target.error = f"{path}: {e}"
                    if target.error:
                        log(f"  {key}: FAILED: {target.error}")
                rows.append(row)
        run_rounds(rows)
    finally:
        stop_all()
    return [row_record(r) for r in rows], static_table(rows, docroot)


def static_table(rows: list[Row], docroot: str) -> str:
    """Per file: req/s, MiB/s, and ratios to the faster of uWSGI and Granian and to nginx."""
    recs = [row_record(r) for r in rows]
    for rec in recs:  # the temporary docroot's path would make every label a line long
        rec["label"] = rec["label"].replace(docroot, "DIR")

    def median_of(rec):
        return rec["summary"].get("rps_median") if rec else None

    lines = []
    for rec in recs:
        s = rec["summary"]
        if "rps_median" not in s:
            lines.append([rec["label"], rec["path"], "FAILED", "", "", "", "", "", s.get("error", "")[:90]])
            continue
        same = [r for r in recs if r["path"] == rec["path"] and median_of(r)]
        rivals = [median_of(r) for r in same if r["server"] in ("uwsgi", "granian")]
        nginx = [median_of(r) for r in same if r["server"] == "nginx"]
        size = STATIC_FILES[rec["path"].rsplit("/", 1)[-1]]
        lines.append([
            rec["label"],
            rec["path"],
            f"{s['rps_median']:,.0f}",
            f"{s['rps_median'] * size / (1 << 20):,.0f}",
            ratio(s["rps_median"], max(rivals, default=None)),
            ratio(s["rps_median"], nginx[0] if nginx else None),
            f"{s['p99_ms']:.2f}" if s["requests"] else "—",
            f"{s['server_cpu_us_per_req']:.1f}",
            errors_cell(s["errors"]) + (f"; FAILED: {s['error'][:60]}" if s.get("error") else ""),
        ])
    return markdown_table(
        ["server / mode", "file", "req/s (median)", "MiB/s", "vs faster of uWSGI/Granian",
         "vs nginx", "p99 ms", "server CPU µs/req", "errors: non-2xx / socket"],
        lines,
    )


SCENARIOS = {
    1: ("hello world over HTTP, 2 processes", scenario_1),
    2: ("hello world through nginx uwsgi_pass -> --socket", scenario_2),
    3: ("64 KiB response; 1 MiB POST echoed", scenario_3),
    4: (f"cost of {STATS_HZ:g} stats reads/s during scenario 1's load", scenario_4),
    5: ("stats read latency on an idle server, by worker count", scenario_5),
    6: ("memory of the whole process tree after warm-up", scenario_6),
    7: ("cost of stats pushers whose targets are down", scenario_7),
    8: ("static files (4 KiB, 1 MiB): static-map vs uWSGI offload, Granian, nginx", scenario_8),
    9: ("hello world: this rwsgi against a baseline build (RWSGI_BASE)", scenario_9),
    10: (f"idle memory: --processes {CHEAPER_PROCESSES} against --cheaper 1", scenario_10),
}

NOTES = {
    10: [f"Started fresh each round with --processes {CHEAPER_PROCESSES} (app preloaded), with and "
         "without --cheaper 1 (spare algorithm), waited for the workers the configuration runs, "
         "then 1 s idle; VmRSS and Pss summed over the main process and all descendants, as in "
         "scenario 6."],
    9: ["rwsgi-base = the RWSGI_BASE binary (e.g. built from the previous release) with the same "
        "options and app; the server CPU per request of the two rows is the change's cost."],
    1: [
        "hello = hello.py (sets Content-Length); hello_nocl = hello_nocl.py (no Content-Length, "
        "body yielded in two pieces by a generator, so the server must chunk or close).",
        "req/s counts responses with status < 400 per second (wrk -t{t} -c{c}).".format(
            t=WRK_THREADS, c=CONNECTIONS),
        "vs uWSGI best = against the fastest uWSGI row with the same app and threads; "
        "vs Granian = against plain `granian --interface wsgi --workers N` with the same app.",
        "Granian's default WSGI config runs up to 256 blocking (Python) threads per worker; "
        "`--blocking-threads 1` is the one-thread-per-worker equivalent of the other rows.",
        "uWSGI --http11-socket keeps a connection until the client closes it, so a sync worker "
        "serves processes x threads of wrk's connections; the others wait in the listen queue with "
        "no response for the whole run (wrk reports no error for them, and its latency covers only "
        "the served connections).",
        "uWSGI --http11-socket with hello_nocl neither chunks nor closes: a response ends only when "
        "uWSGI drops the connection after its 4 s socket timeout, which wrk counts as a read error.",
        "uWSGI --http-socket closes the connection after each response without `Connection: close`: "
        "wrk's next request on it fails (counted as a socket read error) and wrk reconnects.",
        "Gunicorn's sync worker answers `Connection: close` and closes after every response.",
    ],
    2: ["nginx (one process, `daemon off; master_process off;`) on its own port per backend, "
        "uwsgi_pass to the server's --socket; wrk keeps its connections to nginx alive."],
    3: ["big = big.py (64 KiB body, Content-Length); echo = echo.py (reads the 1 MiB POST body "
        "from wsgi.input in 64 KiB reads and returns it with Content-Length).",
        "The echo rows move 2 MiB per request through loopback: wrk and the kernel's copies may "
        "bound them more than the servers do (similar numbers for every server suggest so)."],
    4: [f"A thread of the driver connects to the --stats socket {STATS_HZ:g} times a second and "
        "reads to EOF during the measured run; cost = 1 - polled/plain (of the medians, and of "
        "each round's two runs); the server's CPU answering = its main process's (the stats "
        "server's) extra CPU time with polling, from /proc/<pid>/task/*/schedstat, as a share of "
        "all cores."],
    5: [f"Idle server (--http-socket, --master --processes N, app preloaded); {STATS_READS} reads "
        "per server, alternating, 10 ms apart; latency = connect to EOF, measured by the driver."],
    6: [f"Started fresh each round, loaded for {RSS_WARMUP:g}s with wrk, then VmRSS "
        "(/proc/PID/status) and Pss (/proc/PID/smaps_rollup) summed over the main process and "
        "all descendants. RSS sums count shared pages once per process; PSS splits them.",
        "rwsgi and uWSGI load the app in the master before forking (no --lazy-apps); Granian "
        "loads it in each worker."],
    8: ["Files of random bytes under a temporary docroot, requested by wrk on kept-alive "
        "connections; every server also runs bench/apps/hello.py, which the static requests never "
        "reach. rwsgi: --static-map (sendfile from the worker's event loop); uWSGI: --static-map "
        "--offload-threads N; Granian: --static-path-route/--static-path-mount; nginx: "
        "worker_processes N, sendfile on, tcp_nopush on (the physical reference).",
        "Targets (issue 14): rwsgi >= 1.5x the faster of uWSGI and Granian on both files, "
        ">= 0.7x nginx."],
    7: ["file (every second) plus statsd, socket, zabbix, mongodb and carbon pushing every second "
        "to loopback ports nothing listens on (retrying with backoff); cost = 1 - with/without "
        "(of the medians, and of each round's two runs). The pushers run in their own process, "
        "never in the master or a worker; its CPU is the server's CPU outside the main process "
        "and its N busiest children (the N workers), from /proc/<pid>/task/*/schedstat."],
}


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------


def versions() -> dict:
    def first_line(argv):
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
            return (out.stdout.strip() or out.stderr.strip()).splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired) as e:
            return f"unavailable ({e})"

    return {
        "rwsgi": first_line([BINARIES["rwsgi"], "--version"]),
        "uwsgi": first_line([BINARIES["uwsgi"], "--version"]),
        "granian": first_line([BINARIES["granian"], "--version"]),
        "gunicorn": first_line([BINARIES["gunicorn"], "--version"]),
        "nginx": first_line([BINARIES["nginx"], "-v"]),
        "wrk": first_line([BINARIES["wrk"], "-v"]),
        "python": platform.python_version(),
    }


def loadavg() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def estimate_minutes(chosen: list[int]) -> float:
    """A rough duration: wrk rows x rounds x (run + warm-up), plus start-up allowances."""
    wrk_rows = {1: 13, 2: 2, 3: 8, 4: 4, 7: 2, 8: 10, 9: 4}
    seconds = sum(wrk_rows.get(n, 0) * ROUNDS * (SECONDS + WARMUP + 0.5) for n in chosen)
    seconds += 20 if any(n in wrk_rows for n in chosen) else 0
    if 5 in chosen:
        seconds += len(STATS_WORKERS) * (10 + STATS_READS * 2 * 0.012)
    if 6 in chosen:
        seconds += 3 * ROUNDS * (RSS_WARMUP + 4)
    if 10 in chosen:
        seconds += 4 * ROUNDS * 4
    return seconds / 60


def parse_scenarios(values: list[str]) -> list[int]:
    chosen = []
    for value in values:
        for part in value.split(","):
            if part.strip():
                n = int(part)
                if n not in SCENARIOS:
                    raise SystemExit(f"unknown scenario {n} (1-{len(SCENARIOS)})")
                chosen.append(n)
    # Scenario 9 compares two builds, so it runs only when asked for (with RWSGI_BASE).
    return sorted(set(chosen)) or [n for n in sorted(SCENARIOS) if n != 9]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Environment: BENCH_SECONDS (10), BENCH_WARMUP (2), BENCH_ROUNDS (3), "
        "BENCH_PROCESSES (2), BENCH_CONNECTIONS (32), BENCH_WRK_THREADS (1), BENCH_STATS_HZ (20), "
        "BENCH_STATS_READS (300), BENCH_STATS_WORKERS (8,64,256), BENCH_RSS_WARMUP (5).",
    )
    parser.add_argument("--scenario", "-s", action="append", default=[],
                        help="scenario number(s) to run, e.g. 1 or 1,3 (repeatable; default all)")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    args = parser.parse_args()
    if args.list:
        for n, (title, _) in SCENARIOS.items():
            print(f"{n}: {title}")
        return 0
    chosen = parse_scenarios(args.scenario)

    # A SIGTERM (or SIGHUP) to this script stops the servers it started, through the finally blocks.
    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    started = dt.datetime.now()
    stamp = started.strftime("%Y%m%d-%H%M%S")
    logdir = tempfile.mkdtemp(prefix=f"rwsgi-bench-{stamp}-")
    meta = {
        "started": started.isoformat(timespec="seconds"),
        "host": {"cores": os.cpu_count(), "kernel": platform.release(), "loadavg_start": loadavg()},
        "settings": {"seconds": SECONDS, "warmup": WARMUP, "rounds": ROUNDS, "processes": PROCESSES,
                     "connections": CONNECTIONS, "wrk_threads": WRK_THREADS, "stats_hz": STATS_HZ,
                     "stats_reads": STATS_READS, "stats_workers": STATS_WORKERS,
                     "rss_warmup": RSS_WARMUP},
        "versions": versions(),
        "scenarios": {},
    }
    log(f"rwsgi benchmark: scenarios {chosen}, {ROUNDS} round(s) of {SECONDS:g}s "
        f"(+{WARMUP:g}s warm-up), {PROCESSES} processes, wrk -t{WRK_THREADS} -c{CONNECTIONS}")
    log(f"load average at start: {meta['host']['loadavg_start']} (logs in {logdir}); "
        f"expect about {estimate_minutes(chosen):.0f} min")
    for name, v in meta["versions"].items():
        log(f"  {name}: {v}")

    tables = []
    failed = False
    try:
        for n in chosen:
            title, fn = SCENARIOS[n]
            log(f"\n== scenario {n}: {title}")
            t0 = time.monotonic()
            records, table = fn(logdir)
            meta["scenarios"][str(n)] = {"title": title, "rows": records, "table": table,
                                         "seconds": round(time.monotonic() - t0, 1)}
            failed |= any(r.get("error") or r.get("summary", {}).get("error") for r in records)
            tables.append((n, title, table))
    except KeyboardInterrupt:
        log("interrupted: stopping the servers")
        failed = True
    finally:
        stop_all()

    meta["finished"] = dt.datetime.now().isoformat(timespec="seconds")
    meta["host"]["loadavg_end"] = loadavg()
    os.makedirs(RESULTS_DIR, exist_ok=True)
    out_path = os.path.join(RESULTS_DIR, f"{stamp}.json")
    with open(out_path, "w") as f:
        json.dump(meta, f, indent=1)

    print(f"\n# rwsgi whole-server benchmark, {meta['started']}")
    print(f"{os.cpu_count()} cores, load average {meta['host']['loadavg_start']} at start, "
          f"{meta['host']['loadavg_end']} at end; {ROUNDS} round(s), {SECONDS:g}s runs after "
          f"{WARMUP:g}s warm-up; {PROCESSES} processes; wrk -t{WRK_THREADS} -c{CONNECTIONS}; "
          f"Python environment {VENV or 'each server its own'}")
    print("; ".join(f"{k} {v}" for k, v in meta["versions"].items()))
    for n, title, table in tables:
        print(f"\n## {n}. {title}\n")
        print(table)
        for note in NOTES.get(n, []):
            print(f"- {note}")
    print(f"\nraw results: {os.path.relpath(out_path)}")
    if failed:
        print(f"some rows failed; server logs kept in {logdir}")
    else:
        shutil.rmtree(logdir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
