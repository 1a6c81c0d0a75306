"""Mounted app B for rwsgi's --mount and --module tests."""

import json


def _answer(name, environ, start_response):
    body = json.dumps(
        {
            "app": name,
            "script_name": environ.get("SCRIPT_NAME"),
            "path_info": environ.get("PATH_INFO"),
        }
    ).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def application(environ, start_response):
    return _answer("b", environ, start_response)


def named_app(environ, start_response):
    return _answer("b.named_app", environ, start_response)
