"""App of tests/config_corpus.rs (harakiri_graceful.ini): /sleep never finishes in time,
anything else answers {"pid": the worker's pid}."""

import json
import os
import time


def application(environ, start_response):
    if environ.get("PATH_INFO") == "/sleep":
        time.sleep(60)
    body = json.dumps({"pid": os.getpid()}).encode()
    start_response(
        "200 OK",
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]
