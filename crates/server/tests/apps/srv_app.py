"""Test app for tests/server.rs and tests/nginx.rs: a few routes picked by PATH_INFO.

/echo    the request body back (reads wsgi.input to the end)
/env     the environ's string values as JSON
/sleep   sleeps ?<seconds> (default 1), then answers "slept"
/conc    sleeps ?<seconds> (default 0.5) while counting concurrent requests in this process;
         answers JSON {pid, start, end, max_inflight}
/pid     JSON {pid, import_pid}
/cwd     the working directory
/alloc   ?<MB> allocates zeroed bytes of that size (calloc: pages not touched); answers "allocated" or 500 on MemoryError
/stream  ?<n> (default 256) blocks of 64 KiB from a generator, no Content-Length
other    "srv ok"

With SRV_IMPORT_LOG set, each import appends the importing pid to that file.
"""

import json
import os
import threading
import time

IMPORT_PID = os.getpid()
if os.environ.get("SRV_IMPORT_LOG"):
    # One line per import of this module (tests of --lazy-apps count the importing pids).
    with open(os.environ["SRV_IMPORT_LOG"], "a") as _f:
        _f.write("%d\n" % IMPORT_PID)

_lock = threading.Lock()
_inflight = 0
_max_inflight = 0


def _reply(start_response, body, ctype="text/plain", status="200 OK"):
    if isinstance(body, str):
        body = body.encode()
    start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(body)))])
    return [body]


def _seconds(environ, default):
    try:
        return float(environ.get("QUERY_STRING") or default)
    except ValueError:
        return default


def application(environ, start_response):
    global _inflight, _max_inflight
    path = environ.get("PATH_INFO", "")
    if path == "/echo":
        body = environ["wsgi.input"].read()
        return _reply(start_response, body, "application/octet-stream")
    if path == "/env":
        keys = {k: v for k, v in environ.items() if isinstance(v, str)}
        return _reply(start_response, json.dumps(keys), "application/json")
    if path == "/cwd":
        return _reply(start_response, os.getcwd())
    if path == "/sleep":
        time.sleep(_seconds(environ, 1.0))
        return _reply(start_response, "slept")
    if path == "/conc":
        start = time.time()
        with _lock:
            _inflight += 1
            _max_inflight = max(_max_inflight, _inflight)
        try:
            time.sleep(_seconds(environ, 0.5))
        finally:
            with _lock:
                seen = _max_inflight
                _inflight -= 1
        out = {"pid": os.getpid(), "start": start, "end": time.time(), "max_inflight": seen}
        return _reply(start_response, json.dumps(out), "application/json")
    if path == "/alloc":
        try:
            block = bytes(int(_seconds(environ, 1)) * 1024 * 1024)
        except MemoryError:
            return _reply(start_response, "MemoryError", status="500 Internal Server Error")
        del block
        return _reply(start_response, "allocated")
    if path == "/stream":
        blocks = int(_seconds(environ, 256))
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return (b"x" * 65536 for _ in range(blocks))
    if path == "/pid":
        out = {"pid": os.getpid(), "import_pid": IMPORT_PID}
        return _reply(start_response, json.dumps(out), "application/json")
    return _reply(start_response, "srv ok")
