"""Fixtures for the edge tests: signed-in clients and per-client addresses."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

PASSWORD = "{}-demo-2026"
_addresses = itertools.count(1)


@pytest.fixture
def city(demo_city_template):  # type: ignore[no-untyped-def]
    """The demo city (its directory and one user per role), from the session's template."""


def new_address() -> str:
    """A client address of its own (rate limits are per client)."""
    n = next(_addresses)
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


@pytest.fixture
def signed_in(app, city) -> Callable[..., object]:  # type: ignore[no-untyped-def]
    def sign_in(username: str, address: str | None = None):  # type: ignore[no-untyped-def]
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = address or new_address()
        response = client.post("/staff/login", data={"username": username, "password": PASSWORD.format(username)})
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return sign_in
