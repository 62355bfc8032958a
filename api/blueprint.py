"""The Blueprint every v1 module uses: flask-smorest's, with a stricter argument parser."""

import flask_smorest
from webargs.flaskparser import FlaskParser


class StrictParser(FlaskParser):
    # webargs drops unknown query parameters by default; ours reject them (422 unknown_field)
    # like unknown JSON fields, so a misspelt filter never silently returns the wrong list.
    DEFAULT_UNKNOWN_BY_LOCATION = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": None,
        "querystring": None,
    }


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = StrictParser()
