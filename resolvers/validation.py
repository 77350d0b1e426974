"""Normalising and checking user input; failures raise `ValidationFailed` naming the field."""

from __future__ import annotations

from datetime import datetime

from email_validator import EmailNotValidError, validate_email

from resolvers.errors import ValidationFailed

MAX_NAME = 200
MAX_PHONE = 50
MAX_EXTRA_EMAILS = 20


def no_nul(value: str, *, field: str) -> str:
    """`value`, unless it holds a NUL character: PostgreSQL text cannot store one, so it is
    refused as input instead of failing in SQL."""
    if "\x00" in value:
        raise ValidationFailed(f"{field}: must not contain a NUL character", field=field)
    return value


def normalize_email(value: str, *, field: str = "email") -> str:
    """A syntactically valid address, its domain lower-cased (no DNS lookup)."""
    no_nul(value, field=field)
    try:
        # test_environment admits the reserved `.test` domains used in demos and tests.
        result = validate_email(value.strip(), check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise ValidationFailed(f"{field}: {exc}", field=field) from None
    return str(result.normalized)


def normalize_domain(value: str) -> str:
    """A lower-cased domain name (as it would appear after the @ of an address)."""
    domain = value.strip().lower().lstrip("@")
    try:
        normalize_email(f"x@{domain}", field="domain")
    except ValidationFailed:
        raise ValidationFailed(
            f"domain: {value!r} is not a valid domain name", field="domain"
        ) from None
    return domain


def clean_text(
    value: str | None, *, field: str, max_length: int = MAX_NAME, blank: str | None = None
) -> str | None:
    """Trimmed text; a blank value becomes `blank`, None stays None; too long raises."""
    if value is None:
        return None
    value = no_nul(value, field=field).strip()
    if len(value) > max_length:
        raise ValidationFailed(f"{field}: at most {max_length} characters", field=field)
    return value or blank


def instant(value: datetime | None, *, field: str) -> datetime | None:
    """A point in time: a datetime without a UTC offset names none, so it is refused."""
    if value is not None and value.utcoffset() is None:
        raise ValidationFailed(f"{field}: include a UTC offset", field=field)
    return value
