"""An app importable only through --pythonpath (rwsgi's tests/wsgi_apps.rs)."""

import json
import sys


def application(environ, start_response):
    body = json.dumps({"app": "pythonpath", "file": __file__, "sys_path0": sys.path[0]}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
