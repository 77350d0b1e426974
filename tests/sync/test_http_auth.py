"""The token source decides the `Authorization` header: a bearer token for OAuth providers,
HTTP Basic for a provider linked with a password; a raw body goes out as given."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from sync.http import ProviderSession
from sync.tokens import AccessToken


class _Token:
    def __init__(self, token: AccessToken) -> None:
        self.token = token

    async def current(self) -> AccessToken:
        return self.token

    async def rejected(self, token: AccessToken) -> AccessToken:
        raise AssertionError("not rejected")


@pytest.fixture
async def echo() -> AsyncIterator[str]:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "authorization": request.headers.get("Authorization"),
                "contentType": request.headers.get("Content-Type"),
                "body": (await request.read()).decode(),
            }
        )

    app = web.Application()
    app.router.add_route("*", "/", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}/"
    await runner.cleanup()


@pytest.mark.parametrize(
    ("token", "header"),
    [
        (AccessToken("ya29.abc"), "Bearer ya29.abc"),
        (AccessToken("YW5hOnNlY3JldA==", scheme="Basic"), "Basic YW5hOnNlY3JldA=="),
    ],
)
async def test_the_token_source_gives_the_authorization_header(
    echo: str, token: AccessToken, header: str
) -> None:
    async with aiohttp.ClientSession() as http:
        session = ProviderSession(http, _Token(token), label="Test", metric_name="test")
        answer = (await session.request("GET", echo)).json()
    assert answer["authorization"] == header


async def test_a_raw_body_is_sent_with_the_callers_content_type(echo: str) -> None:
    xml = b'<?xml version="1.0"?><propfind xmlns="DAV:"><prop><owner/></prop></propfind>'
    async with aiohttp.ClientSession() as http:
        session = ProviderSession(
            http, _Token(AccessToken("x", scheme="Basic")), label="Test", metric_name="test"
        )
        answer = (
            await session.request(
                "PROPFIND", echo, body=xml, headers={"Content-Type": "application/xml"}
            )
        ).json()
    assert answer["body"] == xml.decode()
    assert answer["contentType"] == "application/xml"
