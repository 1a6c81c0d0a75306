"""App for the stats server tests (crates/server/tests/stats_*.rs).

/boom raises; /slow waits (at most 60 s) until the file `stats-release` appears in the
current directory (the server's --chdir), so a test decides when the request ends.
"""
import os
import time


def application(environ, start_response):
    path = environ.get('PATH_INFO', '/')
    if path == '/boom':
        raise RuntimeError('boom')
    if path == '/slow':
        release = os.path.join(os.getcwd(), 'stats-release')
        for _ in range(1200):
            if os.path.exists(release):
                break
            time.sleep(0.05)
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b"Hello World"]
