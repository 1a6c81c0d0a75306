"""An app that talks to its server through the uwsgi module and uwsgidecorators.

Marker files go to $UMOD_DIR: 'import-<pid>' when the module is imported (in the master, or in
each worker with --lazy-apps), 'postfork-<pid>' with the worker id when @postfork runs.
"""

import json
import os
import time

import uwsgi
from uwsgidecorators import lock, postfork

DIR = os.environ["UMOD_DIR"]
IMPORT_INFO = {"pid": os.getpid(), "worker_id": uwsgi.worker_id(), "ready": uwsgi.ready()}
with open(os.path.join(DIR, "import-%d" % os.getpid()), "w") as f:
    json.dump(IMPORT_INFO, f)

POSTFORK_RUNS = []


@postfork
def after_fork():
    POSTFORK_RUNS.append(uwsgi.worker_id())
    with open(os.path.join(DIR, "postfork-%d" % os.getpid()), "a") as f:
        f.write("%d\n" % uwsgi.worker_id())


@postfork(2)
def only_in_worker_two():
    with open(os.path.join(DIR, "postfork2-%d" % os.getpid()), "a") as f:
        f.write("%d\n" % uwsgi.worker_id())


COUNTER_FILE = os.path.join(DIR, "counter")


@lock
def bump_counter():
    # A read-modify-write of a file, safe across workers only under the lock.
    try:
        with open(COUNTER_FILE) as f:
            n = int(f.read() or "0")
    except FileNotFoundError:
        n = 0
    time.sleep(0.001)
    with open(COUNTER_FILE, "w") as f:
        f.write(str(n + 1))


def opt_json():
    out = {}
    for k, v in uwsgi.opt.items():
        if isinstance(v, list):
            out[k] = [x.decode() if isinstance(x, bytes) else x for x in v]
        elif isinstance(v, bytes):
            out[k] = {"bytes": v.decode()}
        else:
            out[k] = v
    return out


def wait_for(path, limit=20.0):
    deadline = time.time() + limit
    while not os.path.exists(path):
        if time.time() > deadline:
            return False
        time.sleep(0.01)
    return True


def application(environ, start_response):
    path = environ["PATH_INFO"]
    body = {"worker_id": uwsgi.worker_id(), "pid": os.getpid()}
    if path == "/info":
        body.update(
            numproc=uwsgi.numproc,
            cores=uwsgi.cores,
            masterpid=uwsgi.masterpid(),
            mule_id=uwsgi.mule_id(),
            version=uwsgi.version.decode(),
            version_type=type(uwsgi.version).__name__,
            version_info=list(uwsgi.version_info),
            rwsgi_version=uwsgi.rwsgi_version,
            hostname=uwsgi.hostname.decode(),
            started_on=uwsgi.started_on,
            total_requests=uwsgi.total_requests(),
            workers=[
                {
                    "id": w["id"],
                    "pid": w["pid"],
                    "status": w["status"].decode(),
                    "requests": w["requests"],
                    "apps": [
                        {"id": a["id"], "mountpoint": a["mountpoint"].decode(), "requests": a["requests"]}
                        for a in w["apps"]
                    ],
                }
                for w in uwsgi.workers()
            ],
            opt=opt_json(),
            ready=uwsgi.ready(),
            request_id=uwsgi.request_id(),
            connection_fd=uwsgi.connection_fd(),
            fd_is_socket=os.path.exists("/proc/self/fd/%d" % uwsgi.connection_fd())
            and os.readlink("/proc/self/fd/%d" % uwsgi.connection_fd()).startswith("socket:"),
            postfork_runs=POSTFORK_RUNS,
            import_info=IMPORT_INFO,
            log=uwsgi.log("umod-log-line from %d" % os.getpid()),
        )
    elif path == "/logvar":
        uwsgi.set_logvar("tenant", "acme")
        uwsgi.set_logvar("tenant", "acme-" + str(uwsgi.worker_id()))
        body["get"] = uwsgi.get_logvar("tenant").decode()
        body["unset"] = uwsgi.get_logvar("nope")
    elif path == "/hold":
        # Holds lock 1 until the test creates 'release'; reports whether 'taken' appeared
        # while it held it (it must not: the other worker waits on the lock).
        uwsgi.lock(1)
        try:
            open(os.path.join(DIR, "held"), "w").close()
            body["released"] = wait_for(os.path.join(DIR, "release"))
            body["taken_while_held"] = os.path.exists(os.path.join(DIR, "taken"))
        finally:
            uwsgi.unlock(1)
    elif path == "/take":
        uwsgi.lock(1)
        try:
            body["release_seen"] = os.path.exists(os.path.join(DIR, "release"))
            open(os.path.join(DIR, "taken"), "w").close()
        finally:
            uwsgi.unlock(1)
    elif path == "/bad-lock":
        try:
            uwsgi.lock(99)
            body["error"] = None
        except ValueError as e:
            body["error"] = str(e)
    elif path == "/bump":
        bump_counter()
    elif path == "/setprocname":
        uwsgi.setprocname("shop worker %d" % uwsgi.worker_id())
        body["pid"] = os.getpid()
        body["worker_id"] = uwsgi.worker_id()
    elif path == "/reload":
        body["reload"] = uwsgi.reload()
    elif path == "/stop":
        body["stop"] = uwsgi.stop()
    data = json.dumps(body).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]
