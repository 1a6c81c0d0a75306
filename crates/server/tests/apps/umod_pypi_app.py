"""uWSGI's own uwsgidecorators (the PyPI uwsgi package's file in site-packages), loaded under
another name so rwsgi's built-in one does not shadow it: its @postfork must run in every worker."""

import json
import os
import uwsgi

from pypi_decorators import PYPI_FILE, pypi

DIR = os.environ["UMOD_DIR"]


@pypi.postfork
def after_fork():
    with open(os.path.join(DIR, "postfork-%d" % os.getpid()), "a") as f:
        f.write("%d\n" % uwsgi.worker_id())


@pypi.lock
def locked():
    return uwsgi.is_locked(0)


def application(environ, start_response):
    body = json.dumps(
        {
            "file": PYPI_FILE,
            "hook_is_pypi": uwsgi.post_fork_hook is pypi.postfork_chain_hook,
            "spooler_set": uwsgi.spooler is pypi.manage_spool_request,
            "locked_inside": locked(),
            "locked_after": uwsgi.is_locked(0),
        }
    ).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
