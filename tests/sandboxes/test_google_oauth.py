"""Google OAuth 2.0 endpoints of the sandbox over HTTP: authorize, token, revoke, userinfo."""

from __future__ import annotations

from yarl import URL

from tests.sandboxes.conftest import ALICE, CLIENT_ID, REDIRECT_URI, VERIFIER, GoogleHarness


async def test_code_flow_with_pkce_gives_working_tokens(google: GoogleHarness) -> None:
    tokens = await google.login()
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 3600
    assert tokens["access_token"].startswith("ya29.")
    assert tokens["refresh_token"].startswith("1//")
    status, calendar, _ = await google.call(
        "GET", "/calendar/v3/calendars/primary", token=tokens["access_token"]
    )
    assert status == 200
    assert calendar["id"] == ALICE  # like Google, the primary calendar's id is the email
    status, info, _ = await google.call("GET", "/oauth2/v3/userinfo", token=tokens["access_token"])
    assert status == 200
    assert info["email"] == ALICE and info["email_verified"] is True and info["sub"]


async def test_wrong_verifier_is_invalid_grant_bad_request(google: GoogleHarness) -> None:
    code = await google.authorize()
    status, body = await google.token_request(
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT_URI,
        code_verifier="not-the-verifier",
    )
    assert status == 400
    assert body == {"error": "invalid_grant", "error_description": "Bad Request"}


async def test_code_is_single_use(google: GoogleHarness) -> None:
    code = await google.authorize()
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": VERIFIER,
    }
    assert (await google.token_request(**form))[0] == 200
    status, body = await google.token_request(**form)
    assert (status, body["error"]) == (400, "invalid_grant")


async def test_without_offline_access_there_is_no_refresh_token(google: GoogleHarness) -> None:
    code = await google.authorize(offline=False)
    status, body = await google.token_request(
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT_URI,
        code_verifier=VERIFIER,
    )
    assert status == 200 and "refresh_token" not in body


async def test_refresh_and_invalid_grant_after_revoke(google: GoogleHarness) -> None:
    tokens = await google.login()
    status, fresh = await google.token_request(
        grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert status == 200
    assert fresh["access_token"] != tokens["access_token"]
    assert "refresh_token" not in fresh  # Google does not rotate refresh tokens

    async with google.http.post(
        google.url + "/revoke", params={"token": tokens["refresh_token"]}
    ) as resp:
        assert resp.status == 200
    status, body = await google.token_request(
        grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert status == 400
    assert body == {
        "error": "invalid_grant",
        "error_description": "Token has been expired or revoked.",
    }
    status, _, _ = await google.call(
        "GET", "/calendar/v3/calendars/primary", token=fresh["access_token"]
    )
    assert status == 401
    stats = await google.control("GET", "/_sandbox/oauth/stats")
    assert stats["tokenRequests"] == {"authorization_code": 1, "refresh_token": 2}


async def test_revoke_unknown_token_is_400_invalid_token(google: GoogleHarness) -> None:
    async with google.http.post(google.url + "/revoke", params={"token": "nope"}) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"] == "invalid_token"


async def test_unsupported_grant_type(google: GoogleHarness) -> None:
    status, body = await google.token_request(grant_type="password")
    assert (status, body["error"]) == (400, "unsupported_grant_type")


async def test_expired_access_token_answers_401_with_google_body(google: GoogleHarness) -> None:
    google.clock.advance(3601)
    status, body, resp = await google.call("GET", "/calendar/v3/users/me/calendarList")
    assert status == 401
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    error = body["error"]
    assert error["code"] == 401 and error["status"] == "UNAUTHENTICATED"
    assert error["errors"] == [
        {
            "message": "Invalid Credentials",
            "domain": "global",
            "reason": "authError",
            "location": "Authorization",
            "locationType": "header",
        }
    ]


async def test_expire_access_tokens_control_forces_401(google: GoogleHarness) -> None:
    await google.control("POST", "/_sandbox/oauth/expire-access-tokens", json={"email": ALICE})
    status, _, _ = await google.call("GET", "/calendar/v3/calendars/primary")
    assert status == 401


async def test_revoke_user_control_kills_refresh(google: GoogleHarness) -> None:
    tokens = await google.login()
    await google.control("POST", "/_sandbox/oauth/revoke-user", json={"email": ALICE})
    status, body = await google.token_request(
        grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert (status, body["error"]) == (400, "invalid_grant")


async def test_consent_page_allow_creates_new_user_and_redirects(google: GoogleHarness) -> None:
    params = {
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": "email https://www.googleapis.com/auth/calendar",
        "state": "s1",
        "access_type": "offline",
    }
    async with google.http.get(google.url + "/o/oauth2/v2/auth", params=params) as resp:
        assert resp.status == 200
        page = await resp.text()
    assert "https://www.googleapis.com/auth/calendar" in page and ALICE in page
    form = {**params, "email": "newbie@example.com", "decision": "allow"}
    async with google.http.post(
        google.url + "/o/oauth2/v2/auth", data=form, allow_redirects=False
    ) as resp:
        assert resp.status == 302
        location = URL(resp.headers["Location"])
    assert str(location).startswith(REDIRECT_URI)
    assert location.query["state"] == "s1" and location.query["code"]
    assert "newbie@example.com" in google.sandbox.users


async def test_consent_page_deny_redirects_access_denied(google: GoogleHarness) -> None:
    form = {
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": "email",
        "state": "s2",
        "decision": "deny",
    }
    async with google.http.post(
        google.url + "/o/oauth2/v2/auth", data=form, allow_redirects=False
    ) as resp:
        assert resp.status == 302
        location = URL(resp.headers["Location"])
    assert location.query["error"] == "access_denied" and location.query["state"] == "s2"


async def test_authorize_without_client_or_redirect_renders_html_400(
    google: GoogleHarness,
) -> None:
    async with google.http.get(
        google.url + "/o/oauth2/v2/auth", params={"redirect_uri": REDIRECT_URI}
    ) as resp:
        assert resp.status == 400 and resp.content_type == "text/html"
    async with google.http.get(
        google.url + "/o/oauth2/v2/auth", params={"client_id": CLIENT_ID}
    ) as resp:
        assert resp.status == 400 and resp.content_type == "text/html"


async def test_unknown_login_hint_falls_back_to_consent_page(google: GoogleHarness) -> None:
    params = {
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": "email",
        "login_hint": "stranger@example.com",
    }
    async with google.http.get(
        google.url + "/o/oauth2/v2/auth", params=params, allow_redirects=False
    ) as resp:
        assert resp.status == 200 and "<form" in await resp.text()


async def test_userinfo_without_token_is_401(google: GoogleHarness) -> None:
    async with google.http.get(google.url + "/oauth2/v3/userinfo") as resp:
        assert resp.status == 401


async def test_reauthorizing_without_prompt_consent_gives_no_new_refresh_token(
    google: GoogleHarness,
) -> None:
    async def exchange(prompt: str | None) -> dict[str, object]:
        code = await google.authorize(prompt=prompt)
        status, body = await google.token_request(
            grant_type="authorization_code",
            code=code,
            redirect_uri=REDIRECT_URI,
            code_verifier=VERIFIER,
        )
        assert status == 200
        return body

    assert "refresh_token" in await exchange(None)  # first offline grant
    assert "refresh_token" not in await exchange(None)  # Google's well-known gotcha
    assert "refresh_token" in await exchange("consent")
    google.sandbox.oauth.revoke_user(ALICE)
    assert "refresh_token" in await exchange(None)  # the grant is gone: first grant again


async def test_granular_consent_and_scope_enforcement(google: GoogleHarness) -> None:
    read_only = "https://www.googleapis.com/auth/calendar.readonly"
    events = "https://www.googleapis.com/auth/calendar.events"
    params = {
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": f"openid email {read_only} {events}",
        "state": "g",
    }
    async with google.http.get(google.url + "/o/oauth2/v2/auth", params=params) as resp:
        page = await resp.text()
    assert page.count('name="granted"') == 2  # only the calendar scopes can be unticked
    # A browser sends only the fields inside the form: the boxes must be in it, or `granular`
    # drops every calendar permission (the Chromium tests in tests/e2e press the real button).
    form_start, form_end = page.index("<form"), page.index("</form>")
    boxes = [i for i in range(len(page)) if page.startswith('name="granted"', i)]
    assert all(form_start < i < form_end for i in boxes)

    async def grant(*ticked: str) -> str:
        form = [
            *params.items(),
            ("email", ALICE),
            ("decision", "allow"),
            ("granular", "1"),
            *(("granted", scope) for scope in ticked),
        ]
        async with google.http.post(
            google.url + "/o/oauth2/v2/auth", data=form, allow_redirects=False
        ) as resp:
            code = URL(resp.headers["Location"]).query["code"]
        status, body = await google.token_request(
            grant_type="authorization_code", code=code, redirect_uri=REDIRECT_URI
        )
        assert status == 200
        assert body["scope"].split()[:2] == ["openid", "email"]
        return str(body["access_token"])

    reader = await grant(read_only)
    event = {
        "summary": "x",
        "start": {"dateTime": "2026-12-01T10:00:00Z"},
        "end": {"dateTime": "2026-12-01T11:00:00Z"},
    }
    path = "/calendar/v3/calendars/primary/events"
    assert (await google.call("GET", path, token=reader))[0] == 200
    status, body, _ = await google.call("POST", path, token=reader, json=event)
    assert status == 403
    assert body["error"]["errors"][0]["reason"] == "insufficientPermissions"

    nothing = await grant()
    assert (await google.call("GET", path, token=nothing))[0] == 403
    writer = await grant(read_only, events)
    assert (await google.call("POST", path, token=writer, json=event))[0] == 200


async def test_token_endpoint_accepts_json_and_rejects_garbage(google: GoogleHarness) -> None:
    code = await google.authorize()
    async with google.http.post(
        google.url + "/token",
        json={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": VERIFIER,
        },
    ) as resp:
        assert resp.status == 200 and "access_token" in await resp.json()
    async with google.http.post(
        google.url + "/token", data=b"{nope", headers={"Content-Type": "application/json"}
    ) as resp:
        assert resp.status == 400 and (await resp.json())["error"] == "invalid_request"


async def test_token_endpoint_accepts_client_secret_basic(google: GoogleHarness) -> None:
    import base64

    code = await google.authorize()
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": VERIFIER,
    }
    basic = base64.b64encode(f"{CLIENT_ID}:sandbox-secret".encode()).decode()
    async with google.http.post(
        google.url + "/token", data=form, headers={"Authorization": f"Basic {basic}"}
    ) as resp:
        assert resp.status == 200
        assert "refresh_token" in await resp.json()


async def test_redirect_uri_must_match_the_authorize_step(google: GoogleHarness) -> None:
    code = await google.authorize()
    status, body = await google.token_request(
        grant_type="authorization_code",
        code=code,
        code_verifier=VERIFIER,
        redirect_uri="http://localhost:9999/elsewhere",
    )
    assert status == 400
    assert body == {"error": "redirect_uri_mismatch", "error_description": "Bad Request"}
