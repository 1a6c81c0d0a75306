"""A 64 KiB response in one piece, with Content-Length (scenario 3)."""

BODY = b"x" * (64 * 1024)


def application(environ, start_response):
    start_response(
        "200 OK",
        [("Content-Type", "application/octet-stream"), ("Content-Length", str(len(BODY)))],
    )
    return [BODY]
