"""App of tests/it/routing.rs: answers every path with what it saw, and headers for the rules
to keep or drop.

any path    JSON {"path": PATH_INFO, "uri": REQUEST_URI}, with the headers X-App: route_app
            and X-Powered-By: python
"""

import json


def application(environ, start_response):
    body = json.dumps(
        {"path": environ.get("PATH_INFO", ""), "uri": environ.get("REQUEST_URI", "")}
    ).encode()
    start_response(
        "200 OK",
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("X-App", "route_app"),
            ("X-Powered-By", "python"),
        ],
    )
    return [body]
