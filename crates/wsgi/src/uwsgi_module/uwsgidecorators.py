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


def get_free_signal():
    """The lowest signal number this process has no handler for."""
    for signum in range(0, 256):
        if not uwsgi.signal_registered(signum):
            return signum
    raise Exception("No free uwsgi signal available")


class signal(object):
    """@signal(num[, target='workers']): the function handles uWSGI signal num."""

    def __init__(self, num, **kwargs):
        self.num = num
        self.target = kwargs.get("target", "")

    def __call__(self, f):
        uwsgi.register_signal(self.num, self.target, f)
        return f


class _every(object):
    """A function registered on a signal that one of uWSGI's timers raises every `period`."""

    add = None  # the uwsgi function that arms the timer: (signum, period)

    def __init__(self, period, **kwargs):
        self.num = kwargs.get("signum", get_free_signal())
        self.period = period
        self.target = kwargs.get("target", "")

    def __call__(self, f):
        uwsgi.register_signal(self.num, self.target, f)
        type(self).add(self.num, self.period)
        return f


class timer(_every):
    """@timer(secs[, signum=N, target=...]): the function runs every secs seconds."""

    add = staticmethod(lambda num, secs: uwsgi.add_timer(num, secs))


class mstimer(_every):
    """@mstimer(msecs[, signum=N, target=...]): the function runs every msecs milliseconds."""

    add = staticmethod(lambda num, msecs: uwsgi.add_ms_timer(num, msecs))


class rbtimer(_every):
    """@rbtimer(secs[, signum=N, target=...]): like @timer (uWSGI's red-black tree timer)."""

    add = staticmethod(lambda num, secs: uwsgi.add_rb_timer(num, secs))


class cron(object):
    """@cron(minute, hour, day, month, dayweek[, signum=N, target=...]): -1 is any, -N every N."""

    def __init__(self, minute, hour, day, month, dayweek, **kwargs):
        self.num = kwargs.get("signum", get_free_signal())
        self.minute = minute
        self.hour = hour
        self.day = day
        self.month = month
        self.dayweek = dayweek
        self.target = kwargs.get("target", "")

    def __call__(self, f):
        uwsgi.register_signal(self.num, self.target, f)
        uwsgi.add_cron(self.num, self.minute, self.hour, self.day, self.month, self.dayweek)
        return f


class filemon(object):
    """@filemon(path[, signum=N, target=...]): the function runs when path changes."""

    def __init__(self, fsobj, **kwargs):
        self.num = kwargs.get("signum", get_free_signal())
        self.fsobj = fsobj
        self.target = kwargs.get("target", "")

    def __call__(self, f):
        uwsgi.register_signal(self.num, self.target, f)
        uwsgi.add_file_monitor(self.num, self.fsobj)
        return f


class harakiri(object):
    """@harakiri(secs): the worker is killed if a call takes longer than secs seconds."""

    def __init__(self, seconds):
        self.s = seconds

    def real_call(self, *args, **kwargs):
        uwsgi.set_user_harakiri(self.s)
        try:
            return self.f(*args, **kwargs)
        finally:
            uwsgi.set_user_harakiri(0)

    def __call__(self, f):
        self.f = f
        return self.real_call


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
