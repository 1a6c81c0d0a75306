"""Hello world WITHOUT Content-Length, yielded in two pieces from a generator.

A server can't learn the length up front (as it can from a one-element list), so it must
chunk the body (HTTP/1.1) or close the connection after it.
"""


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    yield b"Hello "
    yield b"World"
