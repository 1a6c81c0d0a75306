"""Test app for tests/it/logging.rs: /status/NNN answers NNN, /big?N sends N bytes,
/sleep?S sleeps S seconds, /wrapped sends this file through wsgi.file_wrapper; anything else
answers 'ok'."""

import time


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/wrapped":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return environ["wsgi.file_wrapper"](open(__file__, "rb"))
    query = environ.get("QUERY_STRING", "")
    body = b"ok"
    status = "200 OK"
    if path.startswith("/status/"):
        status = path[len("/status/"):] + " Status"
    elif path == "/big":
        body = b"x" * int(query or "0")
    elif path == "/sleep":
        time.sleep(float(query or "0"))
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
