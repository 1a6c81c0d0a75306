"""Test app for tests/http_bodies.rs: request bodies and the scheme, picked by PATH_INFO.

/echo     the request body back (wsgi.input.read() to the end)
/pieces   the body back, read with read(7) and readline() alternately (same bytes as /echo)
/reject   401 without reading the body
/scheme   wsgi.url_scheme
/pid      this worker's pid
"""

import os


def _reply(start_response, body, status="200 OK"):
    if isinstance(body, str):
        body = body.encode()
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    stream = environ["wsgi.input"]
    if path == "/echo":
        return _reply(start_response, stream.read())
    if path == "/pieces":
        out, turn = [], 0
        while True:
            piece = stream.read(7) if turn % 2 == 0 else stream.readline()
            turn += 1
            if not piece:
                break
            out.append(piece)
        return _reply(start_response, b"".join(out))
    if path == "/reject":
        return _reply(start_response, "no entry", "401 Unauthorized")
    if path == "/scheme":
        return _reply(start_response, environ["wsgi.url_scheme"])
    if path == "/pid":
        return _reply(start_response, str(os.getpid()))
    return _reply(start_response, "bodies ok")
