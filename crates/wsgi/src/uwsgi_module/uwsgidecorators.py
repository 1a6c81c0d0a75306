"""rwsgi's uwsgidecorators: uWSGI's decorators over rwsgi's built-in uwsgi module.

Like uWSGI's, @postfork functions are chained into uwsgi.post_fork_hook, which every worker
calls once after the fork (and after its apps are loaded), never the master.
"""

import threading

import uwsgi

if uwsgi.masterpid() == 0:
    raise Exception("you have to enable the uWSGI master process to use this module")

spooler_functions = {}
mule_functions = {}
postfork_chain = []


def postfork_chain_hook():
    for f in postfork_chain:
        f()


uwsgi.post_fork_hook = postfork_chain_hook


class postfork(object):
    """Runs the function in every worker after the fork; @postfork(N) only in worker N."""

    def __init__(self, f):
        if callable(f):
            self.wid = 0
            self.f = f
        else:
            self.f = None
            self.wid = f
        postfork_chain.append(self)

    def __call__(self, *args, **kwargs):
        if self.f:
            if self.wid > 0 and self.wid != uwsgi.worker_id():
                return
            return self.f()
        self.f = args[0]
        return self


class lock(object):
    """Runs the function holding uWSGI lock 0 (shared by every worker)."""

    def __init__(self, f):
        self.f = f

    def __call__(self, *args, **kwargs):
        if uwsgi.i_am_the_spooler():
            return
        uwsgi.lock()
        try:
            return self.f(*args, **kwargs)
        finally:
            uwsgi.unlock()


class thread(object):
    """Runs each call of the function in a new daemon thread."""

    def __init__(self, f):
        self.f = f

    def __call__(self, *args):
        t = threading.Thread(target=self.f, args=args)
        t.daemon = True
        t.start()
        return self.f


def _unsupported(name, subsystem):
    def decorator(*args, **kwargs):
        raise RuntimeError(
            "uwsgidecorators.%s needs uWSGI's %s, which rwsgi does not implement" % (name, subsystem)
        )

    decorator.__name__ = name
    return decorator


spool = _unsupported("spool", "spooler")
spoolforever = _unsupported("spoolforever", "spooler")
spoolraw = _unsupported("spoolraw", "spooler")
mulefunc = _unsupported("mulefunc", "mules")
mule_msg_dispatcher = _unsupported("mule_msg_dispatcher", "mules")
rpc = _unsupported("rpc", "RPC subsystem")
signal = _unsupported("signal", "signal framework")
timer = _unsupported("timer", "signal framework (timers)")
rbtimer = _unsupported("rbtimer", "signal framework (timers)")
cron = _unsupported("cron", "signal framework (cron)")
filemon = _unsupported("filemon", "signal framework (file monitors)")
harakiri = _unsupported("harakiri", "user harakiri (uwsgi.set_user_harakiri)")
