"""`chronik explain --user EMAIL EVENT`: the answer of the `explainEvent` query, in a terminal.

It needs what the API needs to read a calendar (the database, the secret key that decrypts the
user's tokens, the provider settings), so it runs with the deployment's settings, like
`chronik worker`; with local sandboxes it talks to the ones `chronik serve` runs.
"""

from __future__ import annotations

from typing import TextIO

from app.services import Services, running_services
from app.settings import Settings
from db import users as users_db
from resolvers.errors import ChronikError
from resolvers.explain import ClientFor, ExplainedEvent, explain_for_user


async def explain_command(
    settings: Settings, email: str, event: str, out: TextIO, err: TextIO
) -> int:
    """Print why `event` (an event id or link) of `email`'s calendar is (not) on timelines.
    0 with an answer; 1 when there is none (no such user or event, no linked calendar, the
    provider down), with the reason on `err`; 2 for an EVENT that names no event."""
    async with running_services(settings, migrate=False, own_sandboxes=False) as services:
        user = await users_db.get_user_by_email(services.pool, email.strip().lower())
        if user is None:
            print(f"chronik: no user with email {email}", file=err)
            return 1
        try:
            explained = await explain_for_user(
                services.pool,
                user_id=user.id,
                account_id=user.account_id,
                event=event,
                client_for=_clients(services),
                excluded_domains=services.engine.excluded_domains,
            )
        except ChronikError as exc:
            code = (exc.extensions or {}).get("code")
            print(f"chronik: {exc.message} ({code})", file=err)
            return 2 if code == "VALIDATION" else 1
    out.write(format_explanation(explained))
    return 0


def _clients(services: Services) -> ClientFor:
    return lambda row: services.calendar_client(row.provider, row.id)


def format_explanation(explained: ExplainedEvent) -> str:
    """The reason code, the sentence, then the contacts (name <email>), one per line."""
    lines = [f"reason: {explained.explanation.verdict.value.upper()}", explained.sentence]
    for row in explained.contacts:
        name = " ".join(p for p in (row.first_name, row.last_name) if p) or row.email
        lines.append(f"contact: {name} <{row.email}>")
    for address in explained.explanation.unmatched:
        lines.append(f"unmatched: {address}")
    return "\n".join(lines) + "\n"
