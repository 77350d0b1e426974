"""Normalising and checking user input; failures raise `ValidationFailed` naming the field."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from email_validator import EmailNotValidError, validate_email

from resolvers.errors import ValidationFailed

MAX_NAME = 200
MAX_PHONE = 50
MAX_EXTRA_EMAILS = 20
MAX_SEARCH = 200

# Times a calendar deals in. Python and PostgreSQL reach from year 1 to 9999, but an
# instant near either end overflows once its offset is applied (year 1 at +05:00 is before
# year 1 in UTC), and no meeting, filter or free/busy query needs them.
EARLIEST_YEAR = 1900
LATEST_YEAR = 2200
# The widest UTC offset ISO 8601 tools accept (real ones reach +14:00).
MAX_UTC_OFFSET = timedelta(hours=18)

# The longest IANA zone name is 32 characters ("America/Argentina/ComodRivadavia").
MAX_ZONE_NAME = 64

# Integers in a cursor end up in bigint columns.
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1


def plain_text(value: str, *, field: str) -> str:
    """`value`, unless it holds a NUL character or a lone UTF-16 surrogate (JSON's
    `"\\ud800"`): PostgreSQL text can store neither, and a surrogate cannot even be encoded
    as UTF-8, so both are refused as input instead of failing in SQL or in the answer."""
    if "\x00" in value:
        raise ValidationFailed(f"{field}: must not contain a NUL character", field=field)
    if not is_unicode(value):
        raise ValidationFailed(
            f"{field}: must be Unicode text (it holds a lone surrogate)", field=field
        )
    return value


def is_unicode(text: str) -> bool:
    """Whether `text` has a UTF-8 form: it holds no lone surrogate."""
    if text.isascii():
        return True
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def search_text(search: str | None) -> None:
    """Refuse a `search` argument no list takes: text PostgreSQL cannot store, or longer than
    `MAX_SEARCH` (a search is a name, an address or a subject, never a document)."""
    if search is not None:
        plain_text(search, field="search")
        if len(search) > MAX_SEARCH:
            raise ValidationFailed(f"search: at most {MAX_SEARCH} characters", field="search")


def normalize_email(value: str, *, field: str = "email") -> str:
    """A syntactically valid address, its domain lower-cased (no DNS lookup)."""
    plain_text(value, field=field)
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
    value = plain_text(value, field=field).strip()
    if len(value) > max_length:
        raise ValidationFailed(f"{field}: at most {max_length} characters", field=field)
    return value or blank


def instant(value: datetime | None, *, field: str) -> datetime | None:
    """A point in time: a datetime without a UTC offset names none, so it is refused."""
    if value is not None and value.utcoffset() is None:
        raise ValidationFailed(f"{field}: include a UTC offset", field=field)
    return value


def calendar_time(value: datetime, *, field: str) -> datetime:
    """`value` if it is a time a calendar can hold: a year from EARLIEST_YEAR to LATEST_YEAR
    and, when it has one, a UTC offset of whole minutes within MAX_UTC_OFFSET. Anything
    else is refused before arithmetic or the database overflows on it."""
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValidationFailed(
            f"{field}: the year must be between {EARLIEST_YEAR} and {LATEST_YEAR}", field=field
        )
    offset = value.utcoffset()
    if offset is not None and (abs(offset) > MAX_UTC_OFFSET or offset % timedelta(minutes=1)):
        raise ValidationFailed(
            f"{field}: the UTC offset must be whole minutes between -18:00 and +18:00",
            field=field,
        )
    return value


@cache
def _zone_names() -> frozenset[str]:
    # Read once (~80 ms: it opens every zone file of the system and of tzdata).
    return frozenset(available_timezones())


def time_zone(name: str, *, field: str = "timeZone") -> ZoneInfo:
    """The IANA zone `name` names; anything else (unknown, empty, a path, 10 kB of text) is
    refused without reaching the file system with it."""
    if not name.strip():
        raise ValidationFailed(f"{field}: an IANA name is required", field=field)
    if len(name) > MAX_ZONE_NAME or name not in _zone_names():
        shown = name if len(name) <= MAX_ZONE_NAME else name[:MAX_ZONE_NAME] + "…"
        raise ValidationFailed(f"{field}: unknown time zone {shown!r}", field=field)
    return ZoneInfo(name)
