"""The bundled example app: `rwsgi --http-socket :9090 --module welcome --chdir examples`."""


def application(environ, start_response):
    body = b"Hello World"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
