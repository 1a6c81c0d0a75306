"""The app of crates/server/tests/http_conformance.rs: logs every request it is called for.

Each call appends one JSON line to $WSGI_TEST_DIR/requests.log (the CGI vars the test looks at
and the body, or the error reading it raised) before answering with the same JSON, so a test
can tell exactly which requests reached the app, and with what environ.
"""

import json
import os


def app(environ, start_response):
    seen = {
        k: v
        for k, v in environ.items()
        if isinstance(v, str) and k.isupper()
    }
    try:
        seen["_body"] = environ["wsgi.input"].read().decode("latin-1")
    except OSError as e:
        # The client's body broke its framing: log it, then fail as a real app would.
        seen["_read_error"] = str(e)
        log(seen)
        raise
    log(seen)
    body = json.dumps(seen).encode("ascii")
    start_response(
        "200 OK",
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]


def log(seen):
    path = os.path.join(os.environ.get("WSGI_TEST_DIR", "/nonexistent"), "requests.log")
    with open(path, "a") as f:
        f.write(json.dumps(seen) + "\n")


application = app
