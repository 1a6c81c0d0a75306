"""uWSGI's signal framework as apps use it: handlers registered in the master at app load
(through rwsgi's uwsgidecorators and the uwsgi module directly), timers, an rb timer, cron,
a file monitor, signals raised from requests, signal_wait, user harakiri.

Every handler appends "<worker_id> <signum>" to a file named after it in $SIG_DIR."""

import json
import os
import time

import uwsgi
from uwsgidecorators import cron, filemon, harakiri, mstimer, signal, timer

DIR = os.environ["SIG_DIR"]
WATCHED = os.path.join(DIR, "watched")
with open(WATCHED, "w") as f:
    f.write("0")


def mark(name, num):
    with open(os.path.join(DIR, name), "a") as f:
        f.write("%d %d\n" % (uwsgi.worker_id(), num))


# Registered in the master: every worker knows the handler.
@timer(1, target="worker2")
def tick(num):
    mark("timer", num)


# Signal 41, every 200 ms, to worker 1.
@mstimer(200, signum=41, target="worker1")
def fast(num):
    mark("ms", num)


def rb(num):
    mark("rb", num)


uwsgi.register_signal(20, "", rb)
uwsgi.add_rb_timer(20, 1, 3)


@signal(30, target="workers")
def everyone(num):
    mark("workers", num)


@signal(31)
def anyone(num):
    mark("anyone", num)


@filemon(WATCHED, target="worker1")
def changed(num):
    mark("filemon", num)


# Any minute: fires at the first check of each minute, in each worker.
@cron(-1, -1, -1, -1, -1, target="workers")
def minute(num):
    mark("cron", num)


@signal(40, target="workers")
def waited(num):
    mark("waited", num)


@signal(42, target="worker1")
def slow(num):
    time.sleep(2)
    mark("slow", num)


@harakiri(1)
def too_slow():
    time.sleep(30)


def refusals():
    import uwsgidecorators

    out = {}
    for name in ("spool", "mulefunc"):
        try:
            getattr(uwsgidecorators, name)(lambda: None)
            out[name] = None
        except RuntimeError as e:
            out[name] = str(e)
    for target in ("spooler", "mule1", "worker9", "nonsense"):
        try:
            uwsgi.register_signal(99, target, mark)
            out[target] = None
        except ValueError as e:
            out[target] = str(e)
    return out


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path.startswith("/raise/"):
        uwsgi.signal(int(path[len("/raise/"):]))
        body = {"worker_id": uwsgi.worker_id()}
    elif path == "/wait":
        # Other signals (the timers) arriving meanwhile run their handlers; 40 ends the wait.
        uwsgi.signal_wait(40)
        body = {"worker_id": uwsgi.worker_id(), "received": uwsgi.signal_received()}
    elif path == "/harakiri":
        too_slow()
        body = {}
    elif path == "/hold":
        uwsgi.lock(1)
        try:
            time.sleep(float(environ["QUERY_STRING"] or "3"))
        finally:
            uwsgi.unlock(1)
        body = {"pid": os.getpid()}
    elif path == "/sleep":
        time.sleep(float(environ["QUERY_STRING"] or "3"))
        body = {"worker_id": uwsgi.worker_id()}
    elif path == "/info":
        body = {
            "worker_id": uwsgi.worker_id(),
            "registered": [n for n in range(256) if uwsgi.signal_registered(n)],
            "refusals": refusals(),
            "signals": [w["signals"] for w in uwsgi.workers()],
        }
    else:
        body = {}
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]
