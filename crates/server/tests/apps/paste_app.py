"""Factories for the Paste Deploy tests (tests/it/paste.rs). Each response shows the global
and local conf PasteDeploy handed the factory, so a test sees what arrived."""

import json
import logging
import os

log = logging.getLogger("pasteapp")


def _json(start_response, doc):
    body = json.dumps(doc, sort_keys=True).encode()
    start_response(
        "200 OK",
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]


def hello_factory(global_conf, **local_conf):
    """paste.app_factory: answers with its configuration and the request's path."""

    def app(environ, start_response):
        log.info("hello served %s", environ.get("PATH_INFO"))
        return _json(
            start_response,
            {
                "app": "hello",
                "global": {k: global_conf.get(k) for k in ("greeting", "here", "__file__")},
                "local": local_conf,
                "script_name": environ.get("SCRIPT_NAME"),
                "path_info": environ.get("PATH_INFO"),
            },
        )

    return app


def tag_filter_factory(global_conf, header, value="on"):
    """paste.filter_factory: adds the header HEADER: VALUE to the response."""

    def make(app):
        def wrapped(environ, start_response):
            def sr(status, headers, exc_info=None):
                return start_response(status, headers + [(header, value)], exc_info)

            return app(environ, sr)

        return wrapped

    return make


def urlmap_factory(loader, global_conf, **local_conf):
    """paste.composite_factory: the longest matching prefix's app, SCRIPT_NAME and PATH_INFO
    moved as Paste's urlmap moves them."""
    mapped = sorted(
        (
            (prefix.rstrip("/"), loader.get_app(name, global_conf=global_conf))
            for prefix, name in local_conf.items()
        ),
        key=lambda item: -len(item[0]),
    )

    def composite(environ, start_response):
        path = environ.get("PATH_INFO", "")
        for prefix, app in mapped:
            if prefix == "" or path == prefix or path.startswith(prefix + "/"):
                environ = dict(
                    environ,
                    SCRIPT_NAME=environ.get("SCRIPT_NAME", "") + prefix,
                    PATH_INFO=path[len(prefix):],
                )
                return app(environ, start_response)
        start_response("404 Not Found", [("Content-Length", "0")])
        return [b""]

    return composite


def direct(global_conf, **local_conf):
    """For `--paste call:paste_app:direct`: PasteDeploy calls it with empty confs."""

    def app(environ, start_response):
        return _json(
            start_response,
            {"app": "direct", "global": global_conf, "local": local_conf, "pid": os.getpid()},
        )

    return app
