"""Aliases shared by the query modules."""

from __future__ import annotations

import asyncpg

# Every query function takes either the pool (one statement, autocommit) or a connection
# (inside a transaction the caller opened).
Executor = asyncpg.Pool | asyncpg.Connection
