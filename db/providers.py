"""The calendar providers the database accepts: the registry's, upserted at every start."""

from __future__ import annotations

from collections.abc import Sequence

from db.types import Executor


async def register_providers(
    db: Executor, providers: Sequence[tuple[str, str, float | None]]
) -> None:
    """Make sure every `(name, label, poll seconds)` is a row of `calendar_providers` (labels
    and intervals kept current; a None interval: the workers' own). Rows of providers no
    longer registered stay: stored connections and meetings name them."""
    await db.execute(
        """
        INSERT INTO calendar_providers (name, label, poll_seconds)
        SELECT * FROM unnest($1::text[], $2::text[], $3::float8[])
        ON CONFLICT (name) DO UPDATE
        SET label = excluded.label, poll_seconds = excluded.poll_seconds
        WHERE (calendar_providers.label, calendar_providers.poll_seconds)
              IS DISTINCT FROM (excluded.label, excluded.poll_seconds)
        """,
        [name for name, _, _ in providers],
        [label for _, label, _ in providers],
        [poll for _, _, poll in providers],
    )
