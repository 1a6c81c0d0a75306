"""App of tests/it/http_router.rs (the HTTP router family, PROXY headers, limit-post).

/environ   REMOTE_ADDR, REMOTE_PORT and the request count so far, as JSON
/stream    a body from a generator, no Content-Length (chunked on HTTP/1.1 keep-alive)
/echo      the request body's length after wsgi.input.read() to the end
/hold      waits (10 s at most) until the file named by the query string exists
/calls     how many requests this worker's app saw (every path counts)
"""

import json
import os
import time

CALLS = 0


def _json(start_response, body):
    data = json.dumps(body).encode()
    start_response(
        "200 OK",
        [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
    )
    return [data]


def _stream():
    for piece in (b"first ", b"second ", b"third"):
        yield piece


def application(environ, start_response):
    global CALLS
    CALLS += 1
    path = environ.get("PATH_INFO", "")
    if path == "/environ":
        return _json(
            start_response,
            {
                "REMOTE_ADDR": environ.get("REMOTE_ADDR"),
                "REMOTE_PORT": environ.get("REMOTE_PORT"),
            },
        )
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return _stream()
    if path == "/hold":
        deadline = time.monotonic() + 10
        while not os.path.exists(environ["QUERY_STRING"]) and time.monotonic() < deadline:
            time.sleep(0.02)
        return _json(start_response, {"held": True})
    if path == "/echo":
        return _json(start_response, {"read": len(environ["wsgi.input"].read())})
    return _json(start_response, {"calls": CALLS})
