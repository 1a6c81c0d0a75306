"""App for the custom metrics tests (crates/server/tests/it/metrics.rs).

/inc           uwsgi.metric_inc("app.hits") after a short sleep (so concurrent requests
               spread over the workers); answers what it returned
/call?F&NAME[&N]  uwsgi.metric_F(NAME[, N]); answers {"result": ..., "value": metric_get(NAME)}
/get?NAME      {"value": uwsgi.metric_get(NAME)}
"""
import json
import time
import uwsgi


def answer(start_response, obj):
    body = json.dumps(obj).encode()
    start_response('200 OK', [('Content-Type', 'application/json'),
                              ('Content-Length', str(len(body)))])
    return [body]


def application(environ, start_response):
    path = environ.get('PATH_INFO')
    args = environ.get('QUERY_STRING', '').split('&')
    if path == '/inc':
        time.sleep(0.02)
        return answer(start_response, {"result": uwsgi.metric_inc("app.hits"),
                                       "worker": uwsgi.worker_id()})
    if path == '/call':
        func = getattr(uwsgi, 'metric_' + args[0])
        result = func(args[1], int(args[2])) if len(args) > 2 else func(args[1])
        return answer(start_response, {"result": result, "value": uwsgi.metric_get(args[1])})
    if path == '/get':
        return answer(start_response, {"value": uwsgi.metric_get(args[0])})
    start_response('404 Not Found', [('Content-Length', '0')])
    return [b""]
