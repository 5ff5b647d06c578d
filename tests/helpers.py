"""Helpers the test modules share (fixtures live in conftest.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hotline_app.demo import demo_credentials

if TYPE_CHECKING:
    from flask import Flask
    from flask.testing import FlaskClient

# The demo city's users (tests/conftest.py, ``@pytest.mark.demo_city``): username -> password, and
# the first user of each role.
DEMO_PASSWORDS = {username: password for username, _role, password in demo_credentials()}
DEMO_USERS = {role: username for username, role, _password in reversed(demo_credentials())}


def sign_in(target: Flask | FlaskClient, who: str, password: str | None = None) -> FlaskClient:
    """Sign in on the staff login form and return the signed-in test client.

    ``target`` is an app (a new client is made) or a client; ``who`` is a username or a role
    (``Role.UNIT_STAFF`` signs in the demo city's unit staff member); ``password`` defaults to the
    demo password of that user. A refused sign-in fails the test with the page it got.
    """
    client = target.test_client() if hasattr(target, "test_client") else target
    username = DEMO_USERS.get(who, who)
    if password is None:
        password = DEMO_PASSWORDS[username]
    response = client.post("/staff/login", data={"username": username, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client
