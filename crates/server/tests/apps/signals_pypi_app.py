"""uWSGI's own uwsgidecorators (the PyPI uwsgi package's file in site-packages), loaded under
another name so rwsgi's built-in one does not shadow it: its @timer, @signal and @filemon run
on rwsgi's signal framework."""

import json
import os
import uwsgi

from pypi_decorators import pypi

DIR = os.environ["SIG_DIR"]
WATCHED = os.path.join(DIR, "watched")
with open(WATCHED, "w") as f:
    f.write("0")


def mark(name, num):
    with open(os.path.join(DIR, name), "a") as f:
        f.write("%d %d\n" % (uwsgi.worker_id(), num))


@pypi.timer(1, target="workers")
def tick(num):
    mark("pypi-timer", num)


@pypi.signal(50)
def raised(num):
    mark("pypi-signal", num)


@pypi.filemon(WATCHED)
def changed(num):
    mark("pypi-filemon", num)


def application(environ, start_response):
    path = environ["PATH_INFO"]
    body = {}
    if path == "/raise":
        uwsgi.signal(50)
    elif path == "/info":
        try:
            pypi.spool(lambda: None)(a=1)
        except Exception as e:
            body["spool"] = str(e)
        try:
            pypi.mulefunc(lambda: None)()
        except Exception as e:
            body["mulefunc"] = str(e)
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]
