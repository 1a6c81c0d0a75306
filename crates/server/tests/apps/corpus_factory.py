"""App factory of tests/config_corpus.rs (real_forms.ini): `module = corpus_factory:create_app()`.

The server calls create_app() once per load and serves what it returns.
"""

import json

CALLS = 0


def create_app():
    global CALLS
    CALLS += 1

    def app(environ, start_response):
        body = json.dumps({"factory": True, "calls": CALLS}).encode()
        start_response(
            "200 OK",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        )
        return [body]

    return app
