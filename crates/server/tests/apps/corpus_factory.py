"""App factory of tests/config_corpus.rs (real_forms.ini): `module = corpus_factory:create_app()`.

The server calls create_app() once per load and serves what it returns.
"""

import json
import os

CALLS = 0
# py-call-uwsgi-fork-hooks: the worker was forked the way os.fork() forks, so this ran in it
FORKED_CHILD = False


def _after_in_child():
    global FORKED_CHILD
    FORKED_CHILD = True


os.register_at_fork(after_in_child=_after_in_child)


def create_app():
    global CALLS
    CALLS += 1

    def app(environ, start_response):
        body = json.dumps(
            {"factory": True, "calls": CALLS, "forked_child": FORKED_CHILD}
        ).encode()
        start_response(
            "200 OK",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        )
        return [body]

    return app
