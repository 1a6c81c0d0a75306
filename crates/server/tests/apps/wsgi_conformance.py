"""PEP 3333 conformance probe for rwsgi's tests (crates/server/tests/wsgi*.rs).

The first PATH_INFO segment picks the behaviour. Files the app records (close() calls, markers)
go to the directory named by the WSGI_TEST_DIR environment variable (set with --env).
"""

import json
import os
import sys
import time


def test_dir():
    return os.environ.get("WSGI_TEST_DIR", "/nonexistent")


def record(name, line):
    with open(os.path.join(test_dir(), name), "a") as f:
        f.write(line + "\n")


def wait_for(name, limit=60.0):
    path = os.path.join(test_dir(), name)
    deadline = time.monotonic() + limit
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise RuntimeError("gave up waiting for " + path)
        time.sleep(0.01)


def query(environ):
    out = {}
    for part in environ.get("QUERY_STRING", "").split("&"):
        if "=" in part:
            k, v = part.split("=", 1)
            out[k] = v
    return out


def as_json(start_response, obj, status="200 OK"):
    body = json.dumps(obj).encode("ascii")
    start_response(status, [("Content-Type", "application/json")])
    return [body]


def describe(value):
    if isinstance(value, str):
        return {"type": "str", "value": value}
    if isinstance(value, bool):
        return {"type": "bool", "value": value}
    if isinstance(value, tuple):
        return {"type": "tuple", "value": list(value)}
    return {"type": type(value).__name__, "value": repr(value)}


def env_dump(environ, start_response):
    out = {k: describe(v) for k, v in environ.items()}
    errors = environ["wsgi.errors"]
    marker = query(environ).get("errors_marker")
    if marker:
        errors.write("wsgi.errors says " + marker + "\n")
        errors.flush()
    inp = environ["wsgi.input"]
    out["_input_methods"] = [
        m for m in ("read", "readline", "readlines", "__iter__") if callable(getattr(inp, m, None))
    ]
    out["_errors_methods"] = [
        m for m in ("write", "writelines", "flush") if callable(getattr(errors, m, None))
    ]
    out["_os_environ"] = {k: v for k, v in os.environ.items() if k.startswith("WSGI_TEST_")}
    out["_body"] = inp.read().decode("latin-1")
    return as_json(start_response, out)


def lat(chunks):
    return [c.decode("latin-1") for c in chunks]


def input_probe(environ, start_response, how):
    inp = environ["wsgi.input"]
    q = query(environ)
    n = int(q.get("n", "7"))
    pieces = []
    if how == "read":
        pieces = [inp.read(), inp.read(), inp.read(5)]
    elif how == "read_n":
        while True:
            p = inp.read(n)
            pieces.append(p)
            if not p:
                break
    elif how == "readline":
        while True:
            p = inp.readline()
            pieces.append(p)
            if not p:
                break
    elif how == "readline_n":
        while True:
            p = inp.readline(n)
            pieces.append(p)
            if not p:
                break
    elif how == "readlines":
        pieces = inp.readlines() + [inp.read()]
    elif how == "iter":
        pieces = [line for line in inp] + [inp.read()]
    elif how == "sizes":
        # read(0) and readline(0) read nothing; negative sizes and None mean "all".
        pieces = [inp.read(0), inp.readline(0), inp.readline(-1), inp.read(None), inp.read(-1)]
    elif how == "hint":
        # readlines(hint) stops once hint bytes were collected; the rest is still there.
        pieces = inp.readlines(12) + [b"|"] + [inp.read()]
    elif how == "over":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        pieces = [inp.read(length + 100), inp.read(10), inp.read(), inp.readline(), inp.read(1)]
    else:
        raise ValueError(how)
    return as_json(start_response, lat(pieces))


def echo(environ, start_response):
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return [body]


class Closing:
    """An iterable that records its close() call; optionally raises after `fail_after` items."""

    def __init__(self, tag, items, fail_after=None, wait=None):
        self.tag = tag
        self.items = items
        self.fail_after = fail_after
        self.wait = wait

    def __iter__(self):
        for i, item in enumerate(self.items):
            if self.fail_after is not None and i == self.fail_after:
                raise RuntimeError("closing-iterable failure " + self.tag)
            if self.wait is not None and i == self.wait:
                wait_for("gone-" + self.tag)
            yield item

    def close(self):
        record("closed", self.tag)


class CloseRaises:
    """A complete body whose close() raises."""

    def __init__(self, tag):
        self.tag = tag

    def __iter__(self):
        yield b"complete,"
        yield b"body"

    def close(self):
        raise ValueError("close() failed " + self.tag)


def gen_wait(tag):
    yield b"first-chunk;"
    wait_for("go-" + tag)
    yield b"second-chunk"


def gen(items):
    for item in items:
        yield item


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    parts = path.split("/")
    mode = parts[1] if len(parts) > 1 else ""
    q = query(environ)
    tag = q.get("tag", "t")

    if mode in ("", "env"):
        return env_dump(environ, start_response)
    if mode == "input":
        return input_probe(environ, start_response, parts[2])
    if mode == "echo":
        return echo(environ, start_response)
    if mode == "list":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"one,", b"two,", b"three"]
    if mode == "gen":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return gen([b"g1,", b"g2,", b"g3"])
    if mode == "gen_wait":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return gen_wait(tag)
    if mode == "write":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"w1,")
        write(b"w2")
        return []
    if mode == "write_mixed":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"w1,")
        write(b"w2,")
        return gen([b"i1,", b"i2"])
    if mode == "content_length":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
        return gen([b"he", b"llo"])
    if mode == "cl_short":
        # The app announces less than it yields: only the announced bytes may go out.
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "3")])
        return gen([b"hel", b"lo, extra bytes"])
    if mode == "cl_long":
        # The app yields less than it announced: the server must not keep the connection.
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "10")])
        return gen([b"short"])
    if mode == "lazy_start":
        # PEP 3333: start_response may be called from the iterable's first iteration.
        return lazy_start(start_response)
    if mode == "bad_item":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return gen(["a str, not bytes"])
    if mode == "big_gen":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return gen(big_pieces(q))
    if mode == "big_write":
        write = start_response("200 OK", [("Content-Type", "application/octet-stream")])
        for p in big_pieces(q):
            write(p)
        return []
    if mode == "status":
        code = q.get("code", "200")
        start_response(code + " Whatever", [("Content-Type", "text/plain")])
        return gen([b"this body must not be sent"])
    if mode == "head":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"head body must not be sent"]
    if mode == "file_wrapper":
        f = open(os.path.join(test_dir(), q["name"]), "rb")
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return environ["wsgi.file_wrapper"](f, 4096)
    if mode == "file_wrapper_offset":
        # The app read a prefix itself: the rest of the file is the body.
        f = open(os.path.join(test_dir(), q["name"]), "rb")
        f.read(int(q.get("skip", "0")))
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return environ["wsgi.file_wrapper"](f, 4096)
    if mode == "file_wrapper_bytesio":
        import io
        start_response("200 OK", [("Content-Type", "text/plain")])
        return environ["wsgi.file_wrapper"](io.BytesIO(b"from memory"), 4)
    if mode == "close_normal":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Closing(tag, [b"c1,", b"c2"])
    if mode == "close_exc":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Closing(tag, [b"c1,", b"c2"], fail_after=1)
    if mode == "close_disconnect":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Closing(tag, [b"started;"] + [b"x" * 65536] * 4096, wait=1)
    if mode == "close_raises":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return CloseRaises(tag)
    if mode == "exc_info_before":
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-First", "yes")])
        try:
            raise ValueError("handled by the app")
        except ValueError:
            start_response(
                "500 Custom Failure", [("Content-Type", "text/plain")], sys.exc_info()
            )
        return [b"custom error body"]
    if mode == "exc_info_after":
        return exc_info_after(start_response, tag)
    if mode == "bad_status":
        start_response(200, [("Content-Type", "text/plain")])
        return [b"bad status accepted"]
    if mode == "bad_header_value":
        start_response("200 OK", [("X-Bad", 5)])
        return [b"bad header accepted"]
    if mode == "bad_header_newline":
        start_response("200 OK", [("X-Bad", "a\r\nX-Injected: 1")])
        return [b"bad header accepted"]
    if mode == "raise_before":
        raise RuntimeError("boom before start_response " + tag)
    if mode == "raise_mid":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return raise_mid(tag)
    if mode == "pyinfo":
        return pyinfo(start_response)
    if mode == "whoami":
        return as_json(start_response, {"app": "conformance", "callable": "application"})
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"unknown mode " + mode.encode("latin-1")]


def exc_info_after(start_response, tag):
    start_response("200 OK", [("Content-Type", "text/plain")])
    yield b"part1;"
    try:
        raise KeyError("original " + tag)
    except KeyError:
        info = sys.exc_info()
        try:
            start_response("500 Too Late", [("Content-Type", "text/plain")], info)
            record("exc_info_after", "no exception")
        except KeyError as e:
            record("exc_info_after", "reraised same" if e is info[1] else "reraised other")
        except Exception as e:  # noqa: BLE001
            record("exc_info_after", "raised " + type(e).__name__)
    yield b"part2"


def big_pieces(q):
    size = int(q.get("size", "1048576"))
    piece = int(q.get("piece", "100000"))
    data = bytes((i * 31 + i // 977) & 0xFF for i in range(size))
    return [data[i : i + piece] for i in range(0, size, piece)]


def lazy_start(start_response):
    start_response("201 Created", [("Content-Type", "text/plain"), ("X-Lazy", "1")])
    yield b"lazy,"
    yield b"body"


def raise_mid(tag):
    yield b"partial-body;"
    raise RuntimeError("boom mid-stream " + tag)


def pyinfo(start_response):
    try:
        import wsgi_venv_probe  # noqa: F401

        probe = wsgi_venv_probe.MARKER
    except ImportError:
        probe = None
    return as_json(
        start_response,
        {"prefix": sys.prefix, "version": sys.version, "probe": probe},
    )


def other_callable(environ, start_response):
    return as_json(start_response, {"app": "conformance", "callable": "other_callable"})
