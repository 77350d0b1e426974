"""Google OAuth 2.0 endpoints: authorize (+ consent page), token, revoke, userinfo.

``GET /o/oauth2/v2/auth`` with a ``login_hint`` naming an existing sandbox user redirects straight
back with a code (the non-interactive path tests use); otherwise it renders a consent page whose
"Allow" POSTs back here. Token errors use Google's token-endpoint format
(``{"error": "invalid_grant", "error_description": ...}``).
"""

from __future__ import annotations

import base64
import binascii
import html
from typing import Any, NoReturn
from urllib.parse import unquote_plus, urlencode

import orjson
from aiohttp import web

from sandboxes.google.api import GOOGLE_SANDBOX, bearer_token, json_response
from sandboxes.google.demo import seed_demo_calendar
from sandboxes.google.sandbox import GoogleSandbox
from sandboxes.oauth import OAuthError

_AUTH_PARAMS = (
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "access_type",
    "prompt",
    "code_challenge",
    "code_challenge_method",
    "include_granted_scopes",
)


def _error_page(title: str, detail: str) -> web.Response:
    """Google shows an HTML "Access blocked" page when it cannot trust the redirect_uri."""
    body = (
        "<!doctype html><html><head><title>Error 400</title></head><body>"
        f"<h1>Error 400: {html.escape(title)}</h1><p>{html.escape(detail)}</p></body></html>"
    )
    return web.Response(status=400, text=body, content_type="text/html")


def _redirect(redirect_uri: str, params: dict[str, str]) -> NoReturn:
    sep = "&" if "?" in redirect_uri else "?"
    raise web.HTTPFound(redirect_uri + sep + urlencode(params))


def _is_calendar_scope(scope: str) -> bool:
    return "/auth/calendar" in scope


def _consent_page(sandbox: GoogleSandbox, params: dict[str, str]) -> web.Response:
    hidden = "".join(
        f'<input type="hidden" name="{name}" value="{html.escape(value)}">'
        for name, value in params.items()
    )
    # Granular consent, as Google shows it: the user may untick calendar permissions; basic
    # sign-in scopes (openid, email, profile) are always granted.
    scopes = "".join(
        f'<li><label><input type="checkbox" name="granted" value="{html.escape(s)}" checked> '
        f"{html.escape(s)}</label></li>"
        if _is_calendar_scope(s)
        else f"<li>{html.escape(s)}</li>"
        for s in params.get("scope", "").split()
    )
    options = "".join(f'<option value="{html.escape(e)}">' for e in sandbox.users)
    first = next(iter(sandbox.users), "")
    body = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Sign in - Google Accounts (sandbox)</title></head>
<body style="font-family:sans-serif;max-width:32em;margin:3em auto">
<h1>Choose an account</h1>
<form method="post">
<p><b>{html.escape(params.get("client_id", ""))}</b> wants to access your Google Account:</p>
<!-- Inside the form: an unticked box is simply not sent, and `granular` says the page had
     boxes, so what is not sent is not granted. -->
<ul>{scopes}</ul>
{hidden}
<input type="hidden" name="granular" value="1">
<label>Email <input name="email" type="email" list="users" value="{html.escape(first)}"
 required></label>
<datalist id="users">{options}</datalist>
<p><label><input type="checkbox" name="demo" value="1" checked>
Fill a new account's calendar with sample meetings</label></p>
<p><button name="decision" value="allow">Allow</button>
<button name="decision" value="deny" formnovalidate>Deny</button></p>
</form>
<p><small>Provider sandbox: a new email creates that user.</small></p>
</body></html>"""
    return web.Response(text=body, content_type="text/html")


def _grant(sandbox: GoogleSandbox, params: dict[str, str], email: str) -> web.Response:
    # Google hands out a refresh token on the first offline grant only; re-authorizing an app
    # that already holds one yields none unless the app forces the consent screen again.
    offline = params.get("access_type") == "offline" and (
        "consent" in params.get("prompt", "").split()
        or not sandbox.oauth.has_grant(email, params["client_id"])
    )
    try:
        code = sandbox.oauth.issue_code(
            email=email,
            client_id=params["client_id"],
            redirect_uri=params["redirect_uri"],
            scope=params.get("scope", ""),
            code_challenge=params.get("code_challenge") or None,
            code_challenge_method=params.get("code_challenge_method") or None,
            offline=offline,
        )
    except OAuthError as exc:
        return _redirect(
            params["redirect_uri"],
            {"error": exc.error, "error_description": exc.description, **_state(params)},
        )
    answer = {**_state(params), "code": code, "scope": params.get("scope", "")}
    answer["authuser"] = "0"
    answer["prompt"] = "consent" if "consent" in params.get("prompt", "") else "none"
    return _redirect(params["redirect_uri"], answer)


def _state(params: dict[str, str]) -> dict[str, str]:
    return {"state": params["state"]} if "state" in params else {}


async def authorize(request: web.Request) -> web.Response:
    """The browser step: consent page, or an immediate redirect for a known login_hint."""
    sandbox = request.app[GOOGLE_SANDBOX]
    source: Any = request.query if request.method == "GET" else await request.post()
    params = {name: str(source[name]) for name in _AUTH_PARAMS if name in source}
    if not params.get("client_id"):
        return _error_page("invalid_request", "Missing required parameter: client_id")
    if not params.get("redirect_uri", "").startswith(("http://", "https://")):
        return _error_page("invalid_request", "Missing or invalid parameter: redirect_uri")
    if params.get("response_type") != "code":
        return _redirect(
            params["redirect_uri"], {"error": "unsupported_response_type", **_state(params)}
        )
    if not params.get("scope"):
        return _error_page("invalid_request", "Missing required parameter: scope")
    if request.method == "POST":
        if source.get("decision") != "allow":
            return _redirect(params["redirect_uri"], {"error": "access_denied", **_state(params)})
        if source.get("granular"):
            granted = set(source.getall("granted", []))
            params["scope"] = " ".join(
                s
                for s in params.get("scope", "").split()
                if not _is_calendar_scope(s) or s in granted
            )
        email = str(source.get("email", "")).strip().lower()
        if "@" not in email:
            return _consent_page(sandbox, params)
        is_new = email not in sandbox.users
        sandbox.create_user(email)
        if is_new and source.get("demo"):
            seed_demo_calendar(sandbox, email)
        return _grant(sandbox, params, email)
    hint = request.query.get("login_hint", "").strip().lower()
    if hint in sandbox.users:
        return _grant(sandbox, params, hint)
    return _consent_page(sandbox, params)


def _token_error(error: str, description: str, status: int = 400) -> web.Response:
    return web.Response(
        status=status,
        body=orjson.dumps({"error": error, "error_description": description}),
        content_type="application/json",
        charset="utf-8",
    )


def _basic_client_id(request: web.Request) -> str | None:
    """The client id of ``Authorization: Basic base64(client_id:client_secret)``
    (client_secret_basic, which Google accepts besides credentials in the form)."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, _secret = decoded.partition(":")
    return unquote_plus(client_id) if sep and client_id else None


async def token(request: web.Request) -> web.Response:
    """``POST /token``: authorization_code (with PKCE) and refresh_token grants."""
    sandbox = request.app[GOOGLE_SANDBOX]
    if request.content_type == "application/json":
        try:
            loaded = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            loaded = None
        if not isinstance(loaded, dict):
            return _token_error("invalid_request", "Invalid JSON payload received.")
        form: dict[str, str] = {k: str(v) for k, v in loaded.items()}
    else:
        form = {k: str(v) for k, v in (await request.post()).items()}
    grant_type = form.get("grant_type", "")
    sandbox.oauth.token_requests[grant_type or "missing"] += 1
    client_id = form.get("client_id") or _basic_client_id(request)
    if not client_id:
        return _token_error("invalid_request", "Could not determine client ID from request.")
    try:
        if grant_type == "authorization_code":
            if not form.get("code"):
                return _token_error("invalid_request", "Missing required parameter: code")
            try:
                tokens = sandbox.oauth.exchange_code(
                    code=form["code"],
                    client_id=client_id,
                    redirect_uri=form.get("redirect_uri", ""),
                    code_verifier=form.get("code_verifier"),
                )
            except OAuthError as exc:
                if exc.reason == "redirect_uri_mismatch":
                    raise OAuthError("redirect_uri_mismatch", "Bad Request") from exc
                if exc.error == "invalid_grant":
                    # Google answers every bad code/redirect/verifier with the same body.
                    raise OAuthError("invalid_grant", "Bad Request") from exc
                raise
        elif grant_type == "refresh_token":
            if not form.get("refresh_token"):
                return _token_error("invalid_request", "Missing required parameter: refresh_token")
            tokens = sandbox.oauth.refresh(
                refresh_token=form["refresh_token"],
                client_id=client_id,
                scope=form.get("scope"),
            )
        else:
            return _token_error("unsupported_grant_type", f"Invalid grant_type: {grant_type}")
    except OAuthError as exc:
        return _token_error(exc.error, exc.description)
    body: dict[str, Any] = {
        "access_token": tokens.access_token,
        "expires_in": tokens.expires_in,
    }
    if tokens.refresh_token is not None:
        body["refresh_token"] = tokens.refresh_token
    body["scope"] = tokens.scope
    body["token_type"] = tokens.token_type
    response = json_response(body)
    response.headers["Cache-Control"] = "no-cache, no-store, max-age=0, must-revalidate"
    response.headers["Pragma"] = "no-cache"
    return response


async def revoke(request: web.Request) -> web.Response:
    """``POST /revoke?token=``: 200 on success, 400 ``invalid_token`` otherwise."""
    sandbox = request.app[GOOGLE_SANDBOX]
    value = request.query.get("token")
    if value is None:
        value = str((await request.post()).get("token", ""))
    if not value or not sandbox.oauth.revoke(value):
        return _token_error("invalid_token", "Token expired or revoked")
    return json_response({})


async def userinfo(request: web.Request) -> web.Response:
    """``GET /oauth2/v3/userinfo``: the signed-in user's sub and email."""
    sandbox = request.app[GOOGLE_SANDBOX]
    value = bearer_token(request)
    email = sandbox.oauth.email_for_access_token(value) if value else None
    if email is None:
        response = _token_error("invalid_request", "Invalid Credentials", status=401)
        response.headers["WWW-Authenticate"] = (
            'Bearer realm="https://accounts.google.com/", error="invalid_token"'
        )
        return response
    user = sandbox.users[email]
    return json_response(
        {
            "sub": user.sub,
            "name": user.display_name,
            "email": user.email,
            "email_verified": True,
        }
    )


def add_routes(app: web.Application) -> None:
    """Register the OAuth endpoints."""
    app.router.add_get("/o/oauth2/v2/auth", authorize)
    app.router.add_post("/o/oauth2/v2/auth", authorize)
    app.router.add_post("/token", token)
    app.router.add_post("/revoke", revoke)
    app.router.add_get("/oauth2/v3/userinfo", userinfo)
