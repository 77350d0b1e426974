"""OAuthAuthority (provider-neutral OAuth state): codes, PKCE, refresh, revocation, expiry."""

from __future__ import annotations

import random

import pytest

from sandboxes.oauth import OAuthAuthority, OAuthError, pkce_s256


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def _authority(clock: Clock, **kwargs: object) -> OAuthAuthority:
    return OAuthAuthority(rng=random.Random(1), clock=clock, access_token_ttl=60, **kwargs)  # type: ignore[arg-type]


def _code(
    auth: OAuthAuthority,
    *,
    challenge: str | None = None,
    method: str | None = "S256",
    offline: bool | None = True,
    scope: str = "calendar",
) -> str:
    return auth.issue_code(
        email="a@x.com",
        client_id="client",
        redirect_uri="http://cb",
        scope=scope,
        code_challenge=challenge,
        code_challenge_method=method if challenge else None,
        offline=offline,
    )


def test_pkce_s256_agrees_with_authlib() -> None:
    from authlib.oauth2.rfc7636 import create_s256_code_challenge

    for verifier in ("dBjftJeZ4CVP-mJ92K9rRgR7ljjoW5C4kXKf26yv1bM", "x" * 128):
        assert pkce_s256(verifier) == create_s256_code_challenge(verifier)


def test_code_exchange_with_right_verifier_gives_tokens_once() -> None:
    clock = Clock()
    auth = _authority(clock)
    code = _code(auth, challenge=pkce_s256("verifier-1"))
    tokens = auth.exchange_code(
        code=code, client_id="client", redirect_uri="http://cb", code_verifier="verifier-1"
    )
    assert tokens.refresh_token is not None
    assert tokens.expires_in == 60
    assert auth.email_for_access_token(tokens.access_token) == "a@x.com"
    with pytest.raises(OAuthError) as again:
        auth.exchange_code(
            code=code, client_id="client", redirect_uri="http://cb", code_verifier="verifier-1"
        )
    assert again.value.error == "invalid_grant"


@pytest.mark.parametrize("verifier", ["wrong", None])
def test_code_exchange_with_wrong_or_missing_verifier_is_invalid_grant(
    verifier: str | None,
) -> None:
    auth = _authority(Clock())
    code = _code(auth, challenge=pkce_s256("verifier-1"))
    with pytest.raises(OAuthError) as caught:
        auth.exchange_code(
            code=code, client_id="client", redirect_uri="http://cb", code_verifier=verifier
        )
    assert caught.value.error == "invalid_grant"


def test_plain_pkce_and_redirect_uri_and_client_must_match() -> None:
    auth = _authority(Clock())
    code = _code(auth, challenge="plain-verifier", method="plain")
    assert auth.exchange_code(
        code=code, client_id="client", redirect_uri="http://cb", code_verifier="plain-verifier"
    ).access_token
    for client, redirect in (("other", "http://cb"), ("client", "http://elsewhere")):
        code = _code(auth)
        with pytest.raises(OAuthError):
            auth.exchange_code(
                code=code, client_id=client, redirect_uri=redirect, code_verifier=None
            )


def test_expired_code_is_rejected() -> None:
    clock = Clock()
    auth = _authority(clock)
    code = _code(auth)
    clock.now += 601
    with pytest.raises(OAuthError):
        auth.exchange_code(
            code=code, client_id="client", redirect_uri="http://cb", code_verifier=None
        )


def test_offline_decides_refresh_token_and_scope_fallback() -> None:
    auth = _authority(Clock())
    online = _code(auth, offline=False)
    assert (
        auth.exchange_code(
            code=online, client_id="client", redirect_uri="http://cb", code_verifier=None
        ).refresh_token
        is None
    )
    microsoft_style = _code(auth, offline=None, scope="Calendars.Read offline_access")
    assert auth.exchange_code(
        code=microsoft_style, client_id="client", redirect_uri="http://cb", code_verifier=None
    ).refresh_token


def test_access_tokens_expire_and_refresh_issues_new_ones() -> None:
    clock = Clock()
    auth = _authority(clock)
    tokens = auth.exchange_code(
        code=_code(auth), client_id="client", redirect_uri="http://cb", code_verifier=None
    )
    assert tokens.refresh_token is not None
    clock.now += 61
    assert auth.email_for_access_token(tokens.access_token) is None
    fresh = auth.refresh(refresh_token=tokens.refresh_token, client_id="client")
    assert fresh.refresh_token is None  # Google keeps the old refresh token in use
    assert auth.email_for_access_token(fresh.access_token) == "a@x.com"
    with pytest.raises(OAuthError) as wrong_scope:
        auth.refresh(refresh_token=tokens.refresh_token, client_id="client", scope="more")
    assert wrong_scope.value.error == "invalid_scope"


def test_rotating_refresh_tokens_hand_out_a_new_one() -> None:
    auth = _authority(Clock(), rotate_refresh_tokens=True)
    tokens = auth.exchange_code(
        code=_code(auth), client_id="client", redirect_uri="http://cb", code_verifier=None
    )
    assert tokens.refresh_token is not None
    fresh = auth.refresh(refresh_token=tokens.refresh_token, client_id="client")
    assert fresh.refresh_token not in (None, tokens.refresh_token)


def test_revoking_refresh_token_kills_its_access_tokens() -> None:
    auth = _authority(Clock())
    tokens = auth.exchange_code(
        code=_code(auth), client_id="client", redirect_uri="http://cb", code_verifier=None
    )
    assert tokens.refresh_token is not None
    assert auth.revoke(tokens.refresh_token)
    assert auth.email_for_access_token(tokens.access_token) is None
    with pytest.raises(OAuthError) as caught:
        auth.refresh(refresh_token=tokens.refresh_token, client_id="client")
    assert caught.value.description == "Token has been expired or revoked."
    assert not auth.revoke("unknown-token")


def test_revoke_user_and_expire_access_tokens_are_per_user() -> None:
    auth = _authority(Clock())
    mine = auth.issue_access_token("a@x.com")
    theirs = auth.issue_access_token("b@x.com")
    auth.expire_access_tokens("a@x.com")
    assert auth.email_for_access_token(mine) is None
    assert auth.email_for_access_token(theirs) == "b@x.com"
    tokens = auth.exchange_code(
        code=_code(auth), client_id="client", redirect_uri="http://cb", code_verifier=None
    )
    assert tokens.refresh_token is not None
    auth.revoke_user("a@x.com")
    with pytest.raises(OAuthError):
        auth.refresh(refresh_token=tokens.refresh_token, client_id="client")
    assert auth.email_for_access_token(theirs) == "b@x.com"


def test_same_seed_same_tokens() -> None:
    first = OAuthAuthority(rng=random.Random(5)).issue_access_token("a@x.com")
    second = OAuthAuthority(rng=random.Random(5)).issue_access_token("a@x.com")
    assert first == second
