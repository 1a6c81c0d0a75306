"""App of tests/config_corpus.rs, which checks what the corpus configs did.

/environ        the CORPUS_* process environment variables (set with `env = ...`) as JSON
/pid            {"pid": the worker's pid}
/import/NAME    {"imported": whether module NAME imports (checks pythonpath)}
other           {"ok": true}
"""

import importlib
import json
import os


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/environ":
        body = {k: v for k, v in os.environ.items() if k.startswith("CORPUS_")}
    elif path == "/pid":
        body = {"pid": os.getpid()}
    elif path.startswith("/import/"):
        try:
            importlib.import_module(path[len("/import/"):])
            body = {"imported": True}
        except ImportError as e:
            body = {"imported": False, "error": str(e)}
    else:
        body = {"ok": True}
    data = json.dumps(body).encode()
    start_response(
        "200 OK",
        [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
    )
    return [data]
