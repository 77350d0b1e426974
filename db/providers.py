"""The calendar providers the database accepts: the registry's, upserted at every start."""

from __future__ import annotations

from collections.abc import Sequence

from db.types import Executor


async def register_providers(db: Executor, providers: Sequence[tuple[str, str]]) -> None:
    """Make sure every `(name, label)` is a row of `calendar_providers` (labels kept current).
    Rows of providers no longer registered stay: stored connections and meetings name them."""
    await db.execute(
        """
        INSERT INTO calendar_providers (name, label)
        SELECT * FROM unnest($1::text[], $2::text[])
        ON CONFLICT (name) DO UPDATE SET label = excluded.label
        WHERE calendar_providers.label IS DISTINCT FROM excluded.label
        """,
        [name for name, _ in providers],
        [label for _, label in providers],
    )
