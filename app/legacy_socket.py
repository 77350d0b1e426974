"""The legacy `graphql-ws` protocol (strawberry's handler), with the bounds of the new one.

Strawberry's handler waits forever for `connection_init` and refuses an operation past its
limit with an untyped "Subscription limit reached". Here a socket without `connection_init`
is closed like a graphql-transport-ws one (4408 after the view's
`connection_init_wait_timeout`), and an operation past the limit is refused with the typed
TOO_MANY_OPERATIONS error that app/live_socket.py answers. What waits to be sent is bounded by
the `send` the app gives the connection (app/ws_output.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import (
    ConnectionInitMessage,
    ErrorMessage,
    StartMessage,
)

from resolvers.context import Context
from resolvers.errors import TooManyOperations


class LegacyGraphQLWSHandler(BaseGraphQLWSHandler[Context, None]):
    init_timer: asyncio.Task[None] | None = None
    # Stops watching the caller's token for revocation (set once the socket is acknowledged).
    unwatch_token: Callable[[], None] | None = None
    ending: asyncio.Task[None] | None = None

    async def handle(self) -> None:
        self.init_timer = asyncio.create_task(self.close_without_init())
        try:
            await super().handle()
        finally:
            self.init_timer.cancel()
            if self.unwatch_token is not None:
                self.unwatch_token()

    async def close_without_init(self) -> None:
        await asyncio.sleep(self.view.connection_init_wait_timeout.total_seconds())
        with contextlib.suppress(Exception):  # gone meanwhile
            await self.websocket.close(4408, "Connection initialisation timeout")

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        if self.init_timer is not None:
            self.init_timer.cancel()
        await super().handle_connection_init(message)
        viewer = self.context.known_viewer
        if self.connection_acknowledged and viewer is not None:
            # Revoking the token ends the socket too, as on graphql-transport-ws
            # (app/live_socket.py): what it subscribed to stops now.
            self.unwatch_token = self.context.services.live_feed().watch_token(
                viewer.token_id, self.token_ended
            )

    def token_ended(self) -> None:
        self.ending = asyncio.create_task(self.close_revoked())

    async def close_revoked(self) -> None:
        with contextlib.suppress(Exception):  # gone meanwhile
            await self.websocket.close(4403, "Forbidden: the API token was revoked")

    async def handle_start(self, message: StartMessage) -> None:
        limit = self.max_subscriptions_per_connection
        if (
            self.connection_acknowledged
            and limit is not None
            and message["id"] not in self.tasks  # a reused id replaces its operation
            and len(self.tasks) >= limit
        ):
            refused = TooManyOperations(limit)
            await self.send_message(
                ErrorMessage(type="error", id=message["id"], payload=refused.formatted)
            )
            return
        await super().handle_start(message)
