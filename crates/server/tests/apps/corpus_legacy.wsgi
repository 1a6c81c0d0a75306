# A mod_wsgi-style app file (no .py suffix), mounted by tests/configs/real_forms.ini.
import json


def application(environ, start_response):
    body = json.dumps({"wsgi_file": True, "script_name": environ.get("SCRIPT_NAME", "")}).encode()
    start_response(
        "200 OK",
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]
