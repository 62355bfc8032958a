"""The app as gunicorn serves it, plus one bare constant-JSON route: the baseline every API
endpoint is compared with in the same run, served the same way."""

from flask import jsonify

from api.app import create_app

app = create_app()


@app.get("/bench/constant")
def constant():
    return jsonify(status="ok", items=[])
