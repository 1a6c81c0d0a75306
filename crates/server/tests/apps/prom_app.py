"""App for the Prometheus tests (crates/server/tests/it/prometheus.rs).

/missing answers 404; /boom raises (500); /slow?<path> waits (at most 60 s) until the file
<path> exists, so a test decides when the request ends; anything else answers 200 "ok".
"""
import os
import time


def application(environ, start_response):
    path = environ.get('PATH_INFO', '/')
    if path == '/missing':
        start_response('404 Not Found', [('Content-Type', 'text/plain')])
        return [b"not here"]
    if path == '/boom':
        raise RuntimeError('boom')
    if path == '/slow':
        release = environ.get('QUERY_STRING', '')
        for _ in range(1200):
            if release and os.path.exists(release):
                break
            time.sleep(0.05)
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b"ok"]
