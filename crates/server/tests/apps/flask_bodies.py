"""A Flask app for tests/http_bodies.rs: /login rejects with abort(401) without reading the
body (as real login views do), /scheme answers request.scheme, /external the absolute URL
of / (url_for(_external=True)), / answers "flask ok"."""

from flask import Flask, abort, request, url_for

app = Flask(__name__)


@app.post("/login")
def login():
    abort(401)


@app.get("/scheme")
def scheme():
    return request.scheme


@app.get("/external")
def external():
    return url_for("index", _external=True)


@app.get("/")
def index():
    return "flask ok"


application = app
