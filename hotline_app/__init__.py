"""Wires hotline together: the runtime, the Flask application, the worker and the CLI."""

from hotline_app.factory import create_app

__all__ = ["create_app"]
