"""Every HTML page carries nosniff, refuses framing and has a Content-Security-Policy that
fits it; every other response carries nosniff and refuses framing too."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import TestUser
from tests.support.server import RunningChronik

HTML = {"Accept": "text/html"}
# Path -> what its policy must allow (besides refusing frames, <base> and inline scripts).
PAGES = {
    "/": ("script-src 'self'", "connect-src 'self'", "style-src 'self'"),
    "/graphql": ("script-src 'self'", "connect-src 'self'", "style-src 'self'"),
    "/oauth/google/start": ("default-src 'none'",),  # "This link is not valid."
    "/oauth/google/callback?error=access_denied&state=x": ("default-src 'none'",),
}


def directives(response: httpx.Response) -> dict[str, str]:
    policy = response.headers["content-security-policy"]
    parts = (part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    return {name: value for name, value in parts}


@pytest.mark.parametrize("path", PAGES)
async def test_each_html_page_has_its_policy_nosniff_and_no_framing(
    chronik: RunningChronik, path: str
) -> None:
    response = await chronik.http.get(f"{chronik.url}{path}", headers=HTML)
    assert response.headers["content-type"].startswith("text/html"), path
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    policy = directives(response)
    assert policy["frame-ancestors"] == "'none'"
    assert policy["base-uri"] == "'none'"
    scripts = policy.get("script-src", policy["default-src"])
    assert "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts
    for allowed in PAGES[path]:
        name, value = allowed.split(" ", 1)
        assert policy[name] == value, (path, policy)


async def test_the_oauth_result_page_runs_no_script_at_all(chronik: RunningChronik) -> None:
    response = await chronik.http.get(f"{chronik.url}/oauth/google/start", headers=HTML)
    assert response.status_code == 400
    policy = directives(response)
    assert "script-src" not in policy and policy["default-src"] == "'none'"


async def test_other_responses_are_not_sniffed_or_framed_either(
    chronik: RunningChronik, alice: TestUser
) -> None:
    answers = [
        await chronik.http.post(
            f"{chronik.url}/graphql",
            json={"query": "{ me { email } }"},
            headers={"Authorization": f"Bearer {alice.token}"},
        ),
        await chronik.http.get(f"{chronik.url}/static/timeline.js"),
        await chronik.http.get(f"{chronik.url}/healthz"),
        await chronik.http.post(
            f"{chronik.url}/graphql", content=b"<x/>", headers={"Content-Type": "text/xml"}
        ),
    ]
    assert [a.status_code for a in answers] == [200, 200, 200, 415]
    for answer in answers:
        assert answer.headers["x-content-type-options"] == "nosniff", answer.url
        assert answer.headers["x-frame-options"] == "DENY", answer.url
        assert "content-security-policy" not in answer.headers  # not a page
