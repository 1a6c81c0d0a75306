"""A Flask 3.1 app (scripts/test-requirements.txt) for the tests that check what a real framework
sees through its own request object. One route per concern; add routes for new checks.

/headers: what Flask's request.headers and request.cookies hold (issue 10 rows 1 and 2).
"""

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.route("/headers")
def headers():
    return jsonify(
        {
            # Every value Flask has for a field, as the app would iterate them.
            "x_dup": request.headers.getlist("X-Dup"),
            "x_forwarded_for": request.headers.get("X-Forwarded-For"),
            "x_auth_user": request.headers.getlist("X-Auth-User"),
            "cookies": request.cookies.to_dict(flat=False),
            "access_route": list(request.access_route),
        }
    )


application = app
