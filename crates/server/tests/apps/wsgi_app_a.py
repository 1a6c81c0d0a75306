"""Mounted app A for rwsgi's --mount tests: reports who it is and how the path was split."""

import json


def application(environ, start_response):
    body = json.dumps(
        {
            "app": "a",
            "script_name": environ.get("SCRIPT_NAME"),
            "path_info": environ.get("PATH_INFO"),
        }
    ).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
