"""The shared core of hotline: settings, persistence, domain models, jobs and messaging.

Feature packages (intake, routing, responders, ...) build on this package; it imports none of them,
and it does not import the web framework.
"""
