"""Deterministic identifiers in Graph's shapes, all drawn from one seeded RNG.

Outlook item ids are long URL-safe base64 strings starting ``AAMkA``; change keys are shorter
base64 strings; users and subscriptions use GUIDs. Occurrence ids are derived reversibly from the
series master id and the occurrence's original start, so the sandbox can resolve them without
keeping every expanded instance in memory.
"""

from __future__ import annotations

import base64
import binascii
import random
import uuid

_OCCURRENCE_PREFIX = "AAMkAOcc"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii")


class IdFactory:
    """Every id the Microsoft sandbox hands out."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def guid(self) -> str:
        """A random (version 4 shaped) GUID string."""
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def item_id(self) -> str:
        """An Outlook item id (``AAMkA...=``) for an event or calendar."""
        return "AAMkA" + _b64(self._rng.randbytes(45))

    def change_key(self) -> str:
        """A change key (``@odata.etag`` is ``W/"<changeKey>"``)."""
        return _b64(b"\x0f\x00\x00\x00" + self._rng.randbytes(14))

    def opaque(self, nbytes: int = 24) -> str:
        """An opaque URL-safe token (skip/delta tokens, validation tokens, request ids)."""
        return base64.urlsafe_b64encode(self._rng.randbytes(nbytes)).rstrip(b"=").decode("ascii")

    def ical_uid(self) -> str:
        """An iCalUId in Exchange's GlobalObjectId hex form (instance date 00000000)."""
        return _GOID_PREFIX + "00000000" + self._rng.randbytes(24).hex().upper()


_GOID_PREFIX = "040000008200E00074C5B7101A82E008"


def occurrence_ical_uid(master_uid: str, year: int, month: int, day: int) -> str:
    """An occurrence's iCalUId: the series' GlobalObjectId with the instance date filled in
    (Graph gives every occurrence its own iCalUId)."""
    if not master_uid.startswith(_GOID_PREFIX) or len(master_uid) < 40:
        return master_uid
    cut = len(_GOID_PREFIX)
    return f"{master_uid[:cut]}{year:04X}{month:02X}{day:02X}{master_uid[cut + 8 :]}"


def occurrence_id(master_id: str, original_start: str) -> str:
    """The id of the occurrence of ``master_id`` that originally starts at ``original_start``."""
    return _OCCURRENCE_PREFIX + _b64(f"{master_id}\x00{original_start}".encode())


def graph_occurrence_id(master_id: str, day: str) -> str:
    """Graph's ``occurrenceId`` of an instance: ``OID.{seriesMasterId}.{date}``, the date of
    its original start in the series' recurrence time zone (as ``cancelledOccurrences`` of
    the master lists its cancelled instances)."""
    return f"OID.{master_id}.{day}"


def parse_occurrence_id(event_id: str) -> tuple[str, str] | None:
    """``(master_id, original_start)`` for an occurrence id, None for any other id."""
    if not event_id.startswith(_OCCURRENCE_PREFIX):
        return None
    try:
        raw = base64.urlsafe_b64decode(event_id[len(_OCCURRENCE_PREFIX) :].encode("ascii"))
        master_id, original_start = raw.decode().split("\x00", 1)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return master_id, original_start


def etag(change_key: str) -> str:
    """The ``@odata.etag`` Graph derives from a change key."""
    return f'W/"{change_key}"'
