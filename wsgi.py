"""WSGI entry point for gunicorn: ``gunicorn wsgi:app``.

In embedded mode (no REDIS_URL) the in-process worker starts with the app; run a single gunicorn
worker process then. With REDIS_URL, jobs run in ``hotline worker`` processes.
"""

from hotline_app.factory import create_app

app = create_app()
_runtime = app.extensions["hotline"]
if _runtime.jobs.embedded and _runtime.settings.embedded_worker:
    _runtime.jobs.start_embedded()
