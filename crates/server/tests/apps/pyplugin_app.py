"""For tests/it/python_plugin.rs: what the environ holds, environs kept from earlier
requests, and the os.register_at_fork hooks that ran in this process."""

import json
import os

LOADED_IN = os.getpid()
AFTER_FORK = []
KEPT = []

os.register_at_fork(after_in_child=lambda: AFTER_FORK.append(os.getpid()))


def application(environ, start_response):
    if environ["PATH_INFO"] == "/keep":
        KEPT.append(environ)
    doc = {
        "file_wrapper": "wsgi.file_wrapper" in environ,
        "keys": len(environ),
        "kept": [len(e) for e in KEPT],
        "after_fork": AFTER_FORK,
        "pid": os.getpid(),
        "loaded_in": LOADED_IN,
    }
    body = json.dumps(doc).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
