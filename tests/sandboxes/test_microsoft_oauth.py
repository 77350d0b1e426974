"""Microsoft identity platform v2.0 in the sandbox: authorize, code + PKCE, refresh, revocation,
and Graph's 401 for missing/expired tokens — all over real HTTP."""

from __future__ import annotations

import base64

import orjson
from yarl import URL

from sandboxes.microsoft.testing import CLIENT_ID, REDIRECT_URI, SCOPE, VERIFIER


def _claims(jwt: str) -> dict:
    payload = jwt.split(".")[1]
    return orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


async def test_code_with_right_verifier_yields_tokens_that_work_on_graph(microsoft):
    body = await microsoft.login()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600 and body["ext_expires_in"] == 3600
    assert body["refresh_token"]
    assert "https://graph.microsoft.com/Calendars.ReadWrite" in body["scope"].split()
    assert "offline_access" not in body["scope"].split()
    assert _claims(body["id_token"])["preferred_username"] == microsoft.email
    status, me, _ = await microsoft.call("GET", "/v1.0/me", token=body["access_token"])
    assert status == 200
    assert me["mail"] == microsoft.email and me["userPrincipalName"] == microsoft.email
    assert me["id"] and me["displayName"] == "Alice Contoso"


async def test_wrong_verifier_is_invalid_grant_in_identity_platform_format(microsoft):
    code = await microsoft.authorize()
    status, body = await microsoft.token_request(
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT_URI,
        code_verifier="not-the-verifier-" + "x" * 40,
    )
    assert status == 400
    assert body["error"] == "invalid_grant"
    assert body["error_description"].startswith("AADSTS501481:")
    assert body["error_codes"] == [501481]
    assert {"timestamp", "trace_id", "correlation_id"} <= body.keys()


async def test_code_is_single_use(microsoft):
    code = await microsoft.authorize()
    form = dict(
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT_URI,
        code_verifier=VERIFIER,
    )
    assert (await microsoft.token_request(**form))[0] == 200
    status, body = await microsoft.token_request(**form)
    assert status == 400 and body["error"] == "invalid_grant"
    assert body["error_codes"] == [70008]


async def test_without_offline_access_there_is_no_refresh_token(microsoft):
    body = await microsoft.login(scope="Calendars.ReadWrite User.Read")
    assert "refresh_token" not in body and "id_token" not in body


async def test_refresh_rotates_and_counts_token_requests(microsoft):
    first = await microsoft.login()
    status, body = await microsoft.token_request(
        grant_type="refresh_token", refresh_token=first["refresh_token"], scope=SCOPE
    )
    assert status == 200
    assert body["access_token"] != first["access_token"]
    assert body["refresh_token"] != first["refresh_token"]
    assert (await microsoft.call("GET", "/v1.0/me", token=body["access_token"]))[0] == 200
    stats = await microsoft.control("GET", "/_sandbox/oauth/stats")
    assert stats["tokenRequests"] == {"authorization_code": 1, "refresh_token": 1}


async def test_revoke_sign_in_sessions_makes_refresh_invalid_grant(microsoft):
    tokens = await microsoft.login()
    status, body, _ = await microsoft.call(
        "POST", "/v1.0/me/revokeSignInSessions", token=tokens["access_token"]
    )
    assert status == 200 and body["value"] is True
    status, body = await microsoft.token_request(
        grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert status == 400 and body["error"] == "invalid_grant"
    assert body["error_description"].startswith("AADSTS")


async def test_control_revoke_user_kills_refresh_tokens(microsoft):
    tokens = await microsoft.login()
    await microsoft.control("POST", "/_sandbox/oauth/revoke-user", json={"email": microsoft.email})
    status, body = await microsoft.token_request(
        grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert status == 400 and body["error"] == "invalid_grant"


async def test_expired_access_token_is_401_with_graph_body_and_www_authenticate(microsoft):
    assert (await microsoft.call("GET", "/v1.0/me"))[0] == 200
    microsoft.clock.advance(3601)
    status, body, resp = await microsoft.call("GET", "/v1.0/me")
    assert status == 401
    assert body["error"]["code"] == "InvalidAuthenticationToken"
    assert body["error"]["innerError"]["request-id"] == resp.headers["request-id"]
    assert resp.headers["WWW-Authenticate"].startswith("Bearer ")


async def test_control_expire_access_tokens_forces_401(microsoft):
    await microsoft.control("POST", "/_sandbox/oauth/expire-access-tokens", json={})
    assert (await microsoft.call("GET", "/v1.0/me"))[0] == 401


async def test_missing_token_is_401(microsoft):
    async with microsoft.http.get(microsoft.url + "/v1.0/me") as resp:
        body = await resp.json()
    assert resp.status == 401
    assert body["error"]["code"] == "InvalidAuthenticationToken"
    assert body["error"]["message"] == "Access token is empty."


async def test_consent_page_then_allow_creates_user_and_redirects_with_code(microsoft):
    params = {
        "client_id": CLIENT_ID,
        "response_type": "code",
        "redirect_uri": REDIRECT_URI,
        "scope": SCOPE,
        "state": "s1",
    }
    async with microsoft.http.get(
        microsoft.url + "/organizations/oauth2/v2.0/authorize", params=params
    ) as resp:
        page = await resp.text()
    assert resp.status == 200 and "text/html" in resp.headers["Content-Type"]
    assert "Calendars.ReadWrite" in page and "<form" in page
    async with microsoft.http.post(
        microsoft.url + "/organizations/oauth2/v2.0/authorize",
        data={**params, "email": "bob@fabrikam.example", "decision": "allow"},
        allow_redirects=False,
    ) as resp:
        location = URL(resp.headers["Location"])
    assert resp.status == 302 and location.query["state"] == "s1"
    assert str(location).startswith(REDIRECT_URI)
    users = await microsoft.control("GET", "/_sandbox/users")
    assert "bob@fabrikam.example" in [u["email"] for u in users["value"]]
    status, body = await microsoft.token_request(
        grant_type="authorization_code", code=location.query["code"], redirect_uri=REDIRECT_URI
    )
    assert status == 200 and body["refresh_token"]


async def test_deny_redirects_with_access_denied(microsoft):
    params = {
        "client_id": CLIENT_ID,
        "response_type": "code",
        "redirect_uri": REDIRECT_URI,
        "scope": SCOPE,
        "state": "s2",
        "decision": "deny",
    }
    async with microsoft.http.post(
        microsoft.url + "/common/oauth2/v2.0/authorize", data=params, allow_redirects=False
    ) as resp:
        location = URL(resp.headers["Location"])
    assert resp.status == 302
    assert location.query["error"] == "access_denied" and location.query["state"] == "s2"


async def test_missing_client_id_renders_an_html_error_page(microsoft):
    async with microsoft.http.get(
        microsoft.url + "/common/oauth2/v2.0/authorize",
        params={"redirect_uri": REDIRECT_URI, "response_type": "code", "scope": SCOPE},
        allow_redirects=False,
    ) as resp:
        text = await resp.text()
    assert resp.status == 400 and "AADSTS900144" in text


async def test_unsupported_grant_type(microsoft):
    status, body = await microsoft.token_request(grant_type="password")
    assert status == 400 and body["error"] == "unsupported_grant_type"
    assert body["error_codes"] == [70003]


async def test_refresh_with_default_scope_or_unconsented_scope(microsoft):
    tokens = await microsoft.login()
    status, body = await microsoft.token_request(
        grant_type="refresh_token",
        refresh_token=tokens["refresh_token"],
        scope="https://graph.microsoft.com/.default",
    )
    assert status == 200 and "https://graph.microsoft.com/User.Read" in body["scope"].split()
    status, body = await microsoft.token_request(
        grant_type="refresh_token", refresh_token=body["refresh_token"], scope="Mail.Read"
    )
    assert status == 400 and body["error"] == "invalid_scope"
