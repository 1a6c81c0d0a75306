"""App for the stats pusher tests (crates/server/tests/push.rs): every path answers "pushed";
/boom raises."""


def application(environ, start_response):
    if environ.get('PATH_INFO') == '/boom':
        raise RuntimeError('boom')
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b"pushed"]
