"""WSGI entry point for gunicorn: ``gunicorn wsgi:app``.

In embedded mode (no REDIS_URL) the in-process worker starts with the app; run a single gunicorn
worker process then. With REDIS_URL, jobs run in ``hotline worker`` processes.
"""

from hotline_app.factory import create_app
from hotline_core.runtime import set_current
from hotline_core.settings import Settings

app = create_app(Settings.from_env(keep_secret=True))
_runtime = app.extensions["hotline"]
if _runtime.jobs.embedded and _runtime.settings.embedded_worker:
    set_current(_runtime)  # the in-process worker's jobs find the runtime here
    _runtime.jobs.start_embedded()
