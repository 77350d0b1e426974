"""Identity platform v2.0 endpoints: ``/{tenant}/oauth2/v2.0/authorize`` and ``/token``.

Authorize (GET or POST, any tenant: ``common``, ``organizations``, ``consumers`` or an id):
with a ``login_hint`` naming an existing sandbox user, consent is granted at once and the browser
is redirected (302) to ``redirect_uri?code=...&state=...``; otherwise a small consent page asks for
an account (a new email creates that sandbox user) and posts back "Allow" or "Deny" (``Deny``
redirects with ``error=access_denied``). Problems found before a usable ``redirect_uri`` is known
render an HTML error page (400), as the real sign-in page does.

Token (POST form): ``authorization_code`` (PKCE S256/plain verified; ``offline_access`` in the
scope yields a refresh token) and ``refresh_token`` (rotates the refresh token, as the identity
platform does). Errors use the platform's body: ``{"error", "error_description": "AADSTSnnnnn:
...", "error_codes", "timestamp", "trace_id", "correlation_id"}``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

import orjson
from aiohttp import web

from sandboxes.oauth import OAuthError, TokenSet
from sync.providers.microsoft.wire import TokenResponse

from .errors import identity_error_body
from .sandbox import MICROSOFT_SANDBOX, MicrosoftSandbox

GRAPH_RESOURCE = "https://graph.microsoft.com/"
OIDC_SCOPES = {"openid", "profile", "email", "offline_access"}
ID_TOKEN_KEY = b"chronik-microsoft-sandbox"  # HS256 key of sandbox id_tokens (not a secret)


def _sandbox(request: web.Request) -> MicrosoftSandbox:
    return request.app[MICROSOFT_SANDBOX]


def normalise_scope(scope: str) -> str:
    """Scopes as granted internally: Graph scopes without their resource prefix."""
    out = []
    for item in scope.split():
        if item.lower().startswith(GRAPH_RESOURCE):
            item = item[len(GRAPH_RESOURCE) :]
        if item and item not in out:
            out.append(item)
    return " ".join(out)


def wire_scope(scope: str) -> str:
    """The ``scope`` a token response reports: Graph scopes with their resource URI, OIDC
    scopes bare, ``offline_access`` omitted."""
    out = []
    for item in scope.split():
        if item == "offline_access":
            continue
        out.append(item if item in OIDC_SCOPES else GRAPH_RESOURCE + item)
    return " ".join(out)


# -- authorize ------------------------------------------------------------------------------------


def _error_page(title: str, detail: str) -> web.Response:
    body = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Sign in to your account"
        "</title></head><body><h1>Sorry, but we're having trouble signing you in.</h1>"
        f"<p><b>{html.escape(title)}</b></p><p>{html.escape(detail)}</p></body></html>"
    )
    return web.Response(status=400, text=body, content_type="text/html")


def _redirect(redirect_uri: str, params: Mapping[str, str]) -> web.Response:
    separator = "&" if urlsplit(redirect_uri).query else "?"
    raise web.HTTPFound(redirect_uri + separator + urlencode(params))


def _consent_page(sandbox: MicrosoftSandbox, params: Mapping[str, str]) -> web.Response:
    hidden = "".join(
        f"<input type='hidden' name='{html.escape(k)}' value='{html.escape(v)}'>"
        for k, v in params.items()
        if k not in ("email", "decision")
    )
    options = "".join(
        f"<option value='{html.escape(u.email)}'>" for u in sandbox.store.users.values()
    )
    prefill = params.get("login_hint") or next((u.email for u in sandbox.store.users.values()), "")
    scopes = "".join(f"<li>{html.escape(s)}</li>" for s in params.get("scope", "").split())
    body = f"""<!doctype html><html><head><meta charset='utf-8'>
<title>Permissions requested - Microsoft sandbox</title></head><body>
<h1>Permissions requested</h1>
<p>The app <b>{html.escape(params.get("client_id", ""))}</b> (Chronik sandbox) would like to:</p>
<ul>{scopes}</ul>
<form method='post'>{hidden}
<label>Email <input name='email' type='email' list='users' required
 value='{html.escape(prefill)}'></label>
<datalist id='users'>{options}</datalist>
<!-- The same button names as the Google sandbox's page, so one set of instructions fits both. -->
<button type='submit' name='decision' value='allow'>Allow</button>
<button type='submit' name='decision' value='deny' formnovalidate>Deny</button>
</form><p>Microsoft sandbox: no real account is involved.</p></body></html>"""
    return web.Response(text=body, content_type="text/html")


async def authorize(request: web.Request) -> web.StreamResponse:
    """GET/POST ``/{tenant}/oauth2/v2.0/authorize``."""
    sandbox = _sandbox(request)
    params: dict[str, str] = dict(request.query)
    if request.method == "POST":
        params.update({k: str(v) for k, v in (await request.post()).items()})
    client_id = params.get("client_id", "")
    redirect_uri = params.get("redirect_uri", "")
    if not client_id:
        return _error_page(
            "AADSTS900144: The request body must contain the following parameter: 'client_id'.",
            "invalid_request",
        )
    parts = urlsplit(redirect_uri)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return _error_page(
            "AADSTS50011: The redirect URI specified in the request does not "
            "match the redirect URIs configured for the application.",
            "invalid_request",
        )
    state = {"state": params["state"]} if "state" in params else {}
    if params.get("response_type") != "code":
        return _redirect(
            redirect_uri,
            {
                "error": "unsupported_response_type",
                "error_description": "AADSTS700054: response_type 'code' is the only one the "
                "sandbox supports.",
                **state,
            },
        )
    if not params.get("scope"):
        return _redirect(
            redirect_uri,
            {
                "error": "invalid_request",
                "error_description": "AADSTS900144: The request body must contain the following "
                "parameter: 'scope'.",
                **state,
            },
        )
    method = params.get("code_challenge_method")
    if method not in (None, "", "S256", "plain"):
        return _redirect(
            redirect_uri,
            {
                "error": "invalid_request",
                "error_description": "AADSTS501491: Invalid size of Code_Challenge parameter or "
                "unsupported code_challenge_method.",
                **state,
            },
        )
    decision = params.get("decision")
    if decision == "deny":
        return _redirect(
            redirect_uri,
            {
                "error": "access_denied",
                "error_subcode": "cancel",
                "error_description": "AADSTS65004: User declined to consent to access the app.",
                **state,
            },
        )
    email = params.get("email") if decision == "allow" else None
    hint = params.get("login_hint")
    if email is None and hint and hint.lower() in sandbox.store.users:
        email = hint
    if not email:
        return _consent_page(sandbox, params)
    user = sandbox.create_user(email)
    try:
        code = sandbox.authority.issue_code(
            email=user.email,
            client_id=client_id,
            redirect_uri=redirect_uri,
            scope=normalise_scope(params["scope"]),
            code_challenge=params.get("code_challenge") or None,
            code_challenge_method=method or None,
        )
    except OAuthError as exc:
        return _redirect(
            redirect_uri, {"error": exc.error, "error_description": exc.description, **state}
        )
    return _redirect(redirect_uri, {"code": code, **state, "session_state": sandbox.ids.guid()})


# -- token ----------------------------------------------------------------------------------------

# (error, AADSTS code, description) for the shared authority's failures.
_CODE_EXPIRED = (
    70008,
    "The provided authorization code or refresh token has expired due to "
    "inactivity. Send a new interactive authorization request for this user "
    "and resource.",
)
_BAD_VERIFIER = (
    501481,
    "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
)


# What the token endpoint answers a refresh when the user must come back (quirk
# ``refreshError``): a new MFA or Conditional Access requirement, or consent withdrawn.
# https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes
_REFRESH_ERRORS = {
    "interaction_required": (
        50076,
        "Due to a configuration change made by your administrator, "
        "or because you moved to a new location, you must use "
        "multi-factor authentication to access the resource.",
    ),
    "consent_required": (
        65001,
        "The user or administrator has not consented to use the "
        "application. Send an interactive authorization request for "
        "this user and resource.",
    ),
}


def _aadsts(exc: OAuthError) -> tuple[int, str]:
    text = exc.description.lower()
    if exc.error == "invalid_grant" and "verifier" in text:
        return _BAD_VERIFIER
    if exc.error == "invalid_grant" and ("client" in text or text == "unauthorized"):
        return 700016, "The refresh token or code was issued to a different client."
    if exc.error == "invalid_grant" and text == "bad request":
        return (
            70000,
            "The provided value for the 'redirect_uri' is not valid. The value must "
            "exactly match the redirect URI used to obtain the authorization code.",
        )
    if exc.error == "invalid_scope":
        return (
            70011,
            "The provided request must include a 'scope' input parameter. The "
            "provided value for the input parameter 'scope' is not valid.",
        )
    if exc.error == "invalid_grant":
        return _CODE_EXPIRED
    return 900144, exc.description or "The request is malformed."


def _token_error(
    sandbox: MicrosoftSandbox, error: str, aadsts: int, description: str, status: int = 400
) -> web.Response:
    body = identity_error_body(
        error, aadsts, description, sandbox.now(), sandbox.ids.guid(), sandbox.ids.guid()
    )
    return web.Response(
        status=status,
        body=orjson.dumps(body),
        content_type="application/json",
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def id_token(sandbox: MicrosoftSandbox, email: str, client_id: str, scope: str) -> str:
    """An OpenID id_token for the user (HS256 with ``ID_TOKEN_KEY``; sandbox only)."""
    user = sandbox.user(email)
    now = int(sandbox.clock())
    claims: dict[str, Any] = {
        "aud": client_id,
        "iss": f"https://login.microsoftonline.com/{sandbox.tenant_id}/v2.0",
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "name": user.display_name,
        "oid": user.id,
        "preferred_username": user.email,
        "sub": _b64(hashlib.sha256(user.id.encode()).digest()),
        "tid": sandbox.tenant_id,
        "ver": "2.0",
    }
    if "email" in scope.split():
        claims["email"] = user.email
    header = _b64(orjson.dumps({"typ": "JWT", "alg": "HS256", "kid": "sandbox"}))
    payload = _b64(orjson.dumps(claims))
    signature = hmac.new(ID_TOKEN_KEY, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


def _token_body(sandbox: MicrosoftSandbox, tokens: TokenSet, client_id: str) -> TokenResponse:
    body: TokenResponse = {
        "token_type": tokens.token_type,
        "scope": wire_scope(tokens.scope),
        "expires_in": tokens.expires_in,
        "ext_expires_in": tokens.expires_in,
        "access_token": tokens.access_token,
    }
    if tokens.refresh_token:
        body["refresh_token"] = tokens.refresh_token
    email = sandbox.authority.email_for_access_token(tokens.access_token)
    if "openid" in tokens.scope.split() and email:
        body["id_token"] = id_token(sandbox, email, client_id, tokens.scope)
    return body


async def token(request: web.Request) -> web.Response:
    """POST ``/{tenant}/oauth2/v2.0/token``."""
    sandbox = _sandbox(request)
    form = {k: str(v) for k, v in (await request.post()).items()}
    grant_type = form.get("grant_type", "")
    if grant_type:
        sandbox.authority.token_requests[grant_type] += 1

    def missing(name: str) -> web.Response:
        return _token_error(
            sandbox,
            "invalid_request",
            900144,
            f"The request body must contain the following parameter: '{name}'.",
        )

    for name in ("grant_type", "client_id"):
        if not form.get(name):
            return missing(name)
    client_id = form["client_id"]
    try:
        if grant_type == "authorization_code":
            for name in ("code", "redirect_uri"):
                if not form.get(name):
                    return missing(name)
            tokens = sandbox.authority.exchange_code(
                code=form["code"],
                client_id=client_id,
                redirect_uri=form["redirect_uri"],
                code_verifier=form.get("code_verifier") or None,
            )
        elif grant_type == "refresh_token":
            if not form.get("refresh_token"):
                return missing("refresh_token")
            if sandbox.quirks.refresh_error in _REFRESH_ERRORS:
                error = sandbox.quirks.refresh_error
                return _token_error(sandbox, error, *_REFRESH_ERRORS[error])
            scope = normalise_scope(form.get("scope", ""))
            # No scope, or ".default": everything the grant holds.
            wanted = None if not scope or ".default" in scope else scope
            tokens = sandbox.authority.refresh(
                refresh_token=form["refresh_token"], client_id=client_id, scope=wanted
            )
        else:
            return _token_error(
                sandbox,
                "unsupported_grant_type",
                70003,
                f"The app requested an unsupported grant type '{grant_type}'.",
            )
    except OAuthError as exc:
        aadsts, description = _aadsts(exc)
        status = 401 if exc.error == "invalid_client" else 400
        return _token_error(sandbox, exc.error, aadsts, description, status)
    return web.Response(
        body=orjson.dumps(_token_body(sandbox, tokens, client_id)),
        content_type="application/json",
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


def add_routes(app: web.Application) -> None:
    """Mount the identity platform endpoints."""
    app.router.add_route("GET", "/{tenant}/oauth2/v2.0/authorize", authorize)
    app.router.add_route("POST", "/{tenant}/oauth2/v2.0/authorize", authorize)
    app.router.add_route("POST", "/{tenant}/oauth2/v2.0/token", token)
