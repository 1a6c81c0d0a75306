"""Hello world that sets Content-Length (scenarios 1, 2, 4, 5, 6)."""

BODY = b"Hello World"


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))])
    return [BODY]
