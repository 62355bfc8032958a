"""URL converters and look-ups of the view a request is routed to.

``current_view`` tells the error module which operation answered, so the test suite can check
each answer against the error codes that operation declares (``api.blueprint``).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app, request
from werkzeug.routing import IntegerConverter

from api.schemas.common import MAX_ID


class IdConverter(IntegerConverter):
    r"""``<int:...>`` path parameters: ids from 1 to ``MAX_ID``.

    Anything else matches no route (404), so an id the database cannot hold never reaches a
    query; flask-smorest documents the bounds (``minimum``/``maximum``) in the spec. ASCII
    digits only: werkzeug's ``\d+`` would route ``/households/１`` (full-width) to household 1.
    """

    regex = r"[0-9]+"

    def __init__(self, map, fixed_digits=0, min=1, max=MAX_ID, signed=False) -> None:  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def current_view() -> Callable | None:
    """The function that will answer this request (a MethodView's method), if any route matched."""
    if request.url_rule is None:
        return None
    view = current_app.view_functions.get(request.url_rule.endpoint)
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        method = request.method.lower()
        if method == "head" and not hasattr(view_class, "head"):
            method = "get"
        view = getattr(view_class, method, None)
    return view
