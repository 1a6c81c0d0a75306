"""A Flask app for tests/http_bodies.rs: /login rejects with abort(401) without reading the
body (as real login views do), /scheme answers request.scheme, / answers "flask ok"."""

from flask import Flask, abort, request

app = Flask(__name__)


@app.post("/login")
def login():
    abort(401)


@app.get("/scheme")
def scheme():
    return request.scheme


@app.get("/")
def index():
    return "flask ok"


application = app
