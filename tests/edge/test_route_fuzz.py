"""Every public and staff route, fuzzed with hypothesis: random paths, queries and forms never get a 5xx.

The Twilio webhooks are fuzzed with signed requests in their own tests; here every other rule of
the URL map is called with random values for its path arguments (huge, negative, text), random
query strings and forms drawn from the parameter names the pages read plus values that broke
things before (dates in year 1 or 9999, 30-digit numbers, NUL bytes, control characters).
"""

from __future__ import annotations

import collections
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

PARAMS = [
    "period", "start", "end", "date", "unit", "category", "channel", "area", "by", "month", "week", "min",
    "page", "lang", "next", "state", "from", "to", "q", "action", "actor", "number", "last4", "phone",
    "description", "name", "anonymous", "username", "password", "campaign", "regenerate", "table", "role",
]  # fmt: skip
NASTY = [
    "0001-01-01", "9999-12-31", "0002-01-01", "2026-02-30", "2026-11", "9999-12", "99999999999999999999",
    "4294967296", "-1", "0", "1", "\x00", "a\x00b", "/%09/evil.example", "/\n/x", "//evil.example", "=1+1",
    "2026-000001", "+8613800138000", "custom", "unit", "day", "week", "month", "", " ", "é" * 300,
]  # fmt: skip
SKIP_PREFIXES = ("/twilio/", "/static/")


def values() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(NASTY),
        st.text(max_size=40),
        st.integers(min_value=-(10**30), max_value=10**30).map(str),
        st.dates().map(lambda d: d.isoformat()),
    )


def routes(app):  # type: ignore[no-untyped-def]
    found = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(SKIP_PREFIXES) or rule.endpoint == "staff.logout":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule, method))
    return sorted(found, key=lambda r: (r[0].rule, r[1]))


@st.composite
def requests(draw, rules):  # type: ignore[no-untyped-def]
    rule, method = draw(st.sampled_from(rules))
    path = rule.rule
    for name in rule.arguments:
        converter = rule._converters[name].__class__.__name__
        if "Integer" in converter:
            raw = str(draw(st.one_of(st.integers(0, 50), st.integers(0, 10**25))))
        else:
            raw = draw(st.one_of(st.sampled_from(["2026-000001", "x", "%00"]), st.text(min_size=1, max_size=20)))
        path = re.sub(rf"<[^>]*:?{name}>", lambda _m, raw=raw: raw.replace("/", "_").replace("?", "_"), path)
    query = draw(st.dictionaries(st.sampled_from(PARAMS), values(), max_size=4))
    form = draw(st.dictionaries(st.sampled_from(PARAMS), values(), max_size=6)) if method == "POST" else {}
    return method, path, query, form


def _check(client, request, seen: list[int]) -> None:  # type: ignore[no-untyped-def]
    method, path, query, form = request
    response = client.open(path, method=method, query_string=query, data=form)
    seen.append(response.status_code)
    assert response.status_code < 500, (method, path, query, form, response.status_code)


FUZZ = settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@pytest.fixture
def fuzz_app(app, runtime):  # type: ignore[no-untyped-def]
    import dataclasses

    # Rate limits are tested on their own; here they would answer 429 before the views are reached.
    runtime.settings = dataclasses.replace(
        runtime.settings,
        limit_login_client="100000 per minute",
        limit_track_ticket="100000 per minute",
        limit_track_client="100000 per minute",
        limit_form_client="100000 per minute",
        limit_form_phone="100000 per minute",
    )
    return app


def test_no_route_answers_a_5xx_to_anonymous_visitors(fuzz_app, city):
    rules = routes(fuzz_app)
    client = fuzz_app.test_client()

    @FUZZ
    @given(request=requests(rules))
    def run(request) -> None:  # type: ignore[no-untyped-def]
        _check(client, request, seen)

    seen: list[int] = []
    run()
    print(sorted(collections.Counter(seen).items()))
    assert 200 in seen  # the fuzz reached the pages, not only their guards


@pytest.mark.parametrize("username", ["admin", "unitstaff"])
def test_no_route_answers_a_5xx_to_signed_in_staff(fuzz_app, city, username):
    rules = routes(fuzz_app)
    client = fuzz_app.test_client()

    def sign_in() -> None:
        response = client.post("/staff/login", data={"username": username, "password": f"{username}-demo-2026"})
        assert response.status_code == 302

    sign_in()

    @FUZZ
    @given(request=requests(rules))
    def run(request) -> None:  # type: ignore[no-untyped-def]
        # Only a POST can sign the user out (a fuzzed password reset of this very user, say): the
        # sign-in is checked after each one rather than before every request.
        if posted[0] and client.get("/staff/").status_code != 200:
            sign_in()
        _check(client, request, seen)
        posted[:] = [request[0] == "POST"]

    seen: list[int] = []
    posted: list[bool] = [False]
    run()
    print(sorted(collections.Counter(seen).items()))
    assert 200 in seen  # the fuzz reached the pages, not only their guards
