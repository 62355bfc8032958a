"""gunicorn settings; the main ones can be overridden by the environment (GUNICORN_*), any other
through GUNICORN_CMD_ARGS. Deployment behind nginx: docs/deploy.md."""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
worker_class = "gthread"
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# WeChat Pay expects notification answers within 5 s; no request should ever need 30.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
max_requests = 2000  # recycle workers now and then; jitter keeps them from restarting together
max_requests_jitter = 200
accesslog = "-"
errorlog = "-"
# The access log records no query strings: they can carry codes and reasons typed by staff.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(L)ss'
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# A request gunicorn refuses never reaches the app, so its answer is gunicorn's HTML page instead
# of the API's JSON error. Catalog cursors and search terms travel in the query string: allow the
# longest request line gunicorn can take (8190, its maximum; the default is 4094) so the app
# sees them and answers in its JSON shape (422 invalid_cursor, ...). nginx in front keeps the
# same limits (large_client_header_buffers 4 8k) and answers anything longer in that shape too.
limit_request_line = 8190
# One header line (a bearer token, cookies): the same 8 KB as nginx's buffer (gunicorn's default).
limit_request_field_size = 8190
