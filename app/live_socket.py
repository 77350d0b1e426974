"""A lean graphql-transport-ws endpoint for `/graphql` websockets.

Strawberry's websocket handler keeps, per connection, a handler object, an init-timeout task,
an operation object and task, the extension stack of every operation (whose `on_operation`
hooks stay suspended as long as a subscription lives) and our HTTP middleware's frames: about
half of an idle subscription's memory (see bench/RESULTS.md, "Live fan-out"). This endpoint
serves the same protocol with one coroutine per connection (uvicorn's) plus one task per
operation, and is mounted in front of the middleware (`app/asgi.py`).

What a client sees is what strawberry's handler answered: the same close codes (4400 bad
message or unparsable document, 4401 subscribe before the ack, 4403 refused token, 4408 no
`connection_init` in time, 4409 duplicate operation id, 4429 a second `connection_init`), the
same `next`/`error`/`complete` messages; documents are checked by the same limits (tokens,
depth, aliases, introspection in production; a subscription's nodes and cost are checked
and charged once, when it starts) and errors are typed as on HTTP. Queries and mutations
sent over the socket run through the schema as usual.

Bounds per socket: at most `max_operations` operations at once (a further `subscribe` is
answered with an `error`, TOO_MANY_OPERATIONS, and the others go on), and what waits to be
sent is bounded by the `send` it is given (app/ws_output.py: a client that stops reading is
closed with 4413 and its operations end at once).

Fan-out: every subscriber of a contact receives the same `TimelineUpdate` object for a change
(resolvers/live.py). The `next` payload for it is executed AND encoded once per (query text,
operation, variables, viewer) and handed to every such subscriber, who only splices in its
operation id: at 1,000 subscribers of one contact, one execution and one JSON encoding per
change instead of 1,000.

A browser page of another origin is refused at the handshake (HTTP 403) unless its origin is in
`CHRONIK_CORS_ORIGINS` (app/cors.py), as strawberry's handler refuses it.

A client asking only for the legacy `graphql-ws` protocol is served by strawberry's handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any

import orjson
import strawberry
from graphql import (
    ASTValidationRule,
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    GraphQLSyntaxError,
    OperationType,
    get_operation_ast,
    parse,
    specified_rules,
    validate,
)
from graphql.execution import create_source_event_stream, execute_subscription_event
from starlette.types import Receive, Scope, Send
from strawberry.extensions import AddValidationRules, MaxTokensLimiter, SchemaExtension
from strawberry.schema.exceptions import CannotGetOperationTypeError
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL

from app.cors import socket_origin_allowed
from app.limits import CostGate, QueryCost
from app.ws_output import ClientNotReading
from db.once import run_once
from resolvers.context import Context, token_from_connection_params
from resolvers.errors import TooManyOperations, Unauthenticated
from schema.argument_checks import first_refusal
from schema.masking import report_and_mask
from telemetry import metrics
from telemetry.logs import bind_account_lookup, set_log_context

# Distinct documents remembered (clients send a handful of fixed ones; the bound keeps a
# stream of unique texts from growing memory).
CACHED_DOCUMENTS = 256
CONNECTION_INIT_TIMEOUT = 60.0
MAX_OPERATIONS = 100
# A websocket close reason is at most 123 bytes.
MAX_REASON_BYTES = 123


def wants_lean_socket(scope: Scope) -> bool:
    """Whether a websocket handshake picks graphql-transport-ws (the first protocol the client
    offers that Chronik speaks, as strawberry chooses)."""
    for offered in scope.get("subprotocols") or ():
        if offered == GRAPHQL_TRANSPORT_WS_PROTOCOL:
            return True
        if offered == GRAPHQL_WS_PROTOCOL:
            return False
    return False


class _Gone(Exception):
    """The client has gone: nothing more can be sent on this connection."""


class _Prepared:
    """A query text parsed and validated once: its document, or why it was refused."""

    __slots__ = ("document", "errors", "syntax_error")

    def __init__(
        self,
        document: DocumentNode | None,
        syntax_error: str | None = None,
        errors: list[Any] | None = None,
    ) -> None:
        self.document = document
        self.syntax_error = syntax_error
        self.errors = errors


class LiveSocket:
    """The ASGI endpoint (websocket scopes only); `extensions` are the schema's request limits,
    read for their parse options and validation rules."""

    def __init__(
        self,
        schema: strawberry.Schema,
        extensions: Sequence[Callable[[], SchemaExtension]] = (),
        *,
        init_timeout: float = CONNECTION_INIT_TIMEOUT,
        max_operations: int = MAX_OPERATIONS,
        allowed_origins: frozenset[str] = frozenset(),
    ) -> None:
        self.schema = schema
        self.allowed_origins = allowed_origins
        self.init_timeout = init_timeout
        self.max_operations = max_operations
        rules: list[type[ASTValidationRule]] = list(specified_rules)
        self.max_tokens: int | None = None
        self.cost_gate: CostGate | None = None
        for factory in extensions:
            extension = factory()
            if isinstance(extension, AddValidationRules):
                rules.extend(extension.validation_rules)
            if isinstance(extension, MaxTokensLimiter):
                self.max_tokens = extension.max_token_count
            if isinstance(extension, QueryCost):
                self.cost_gate = extension.gate
        self.rules = (*rules, MaybeNullValidationRule, OneOfInputValidationRule)
        self._prepared: OrderedDict[str, _Prepared] = OrderedDict()

    def prepare(self, query: str) -> _Prepared:
        """Parse and validate `query` (cached by its text)."""
        prepared = self._prepared.get(query)
        if prepared is not None:
            self._prepared.move_to_end(query)
            return prepared
        try:
            document = parse(query, max_tokens=self.max_tokens)
        except GraphQLSyntaxError as exc:
            prepared = _Prepared(None, syntax_error=exc.message)
        else:
            errors = validate(
                self.schema._schema,
                document,
                self.rules,
                hide_suggestions=getattr(self.schema, "hide_suggestions", False),
            )
            prepared = _Prepared(
                document, errors=[report_and_mask(e).formatted for e in errors] or None
            )
        self._prepared[query] = prepared
        if len(self._prepared) > CACHED_DOCUMENTS:
            self._prepared.popitem(last=False)
        return prepared

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1")
            for name, value in scope["headers"]
        }
        if not socket_origin_allowed(headers, self.allowed_origins):
            # A page of an origin not in CHRONIK_CORS_ORIGINS: refused before the handshake
            # (HTTP 403), as strawberry's endpoint does.
            await send({"type": "websocket.close", "code": 1008})
            return
        await send({"type": "websocket.accept", "subprotocol": GRAPHQL_TRANSPORT_WS_PROTOCOL})
        services = scope["app"].state.services
        connection = _Connection(self, Context(pool=services.pool, token=None, services=services))
        connection.send = send
        set_log_context(request_id=uuid.uuid4().hex)  # uvicorn runs each connection in a task
        try:
            await connection.run(receive)
        except _Gone:
            pass  # the client went away, or stopped reading (then the send is closing it)
        finally:
            await connection.shutdown()


class _Connection:
    """One websocket's state: its context (the caller), and its operations' tasks by id."""

    __slots__ = (
        "acknowledged",
        "closed",
        "context",
        "ending",
        "endpoint",
        "init_received",
        "ops",
        "send",
        "unwatch_token",
    )

    def __init__(self, endpoint: LiveSocket, context: Context) -> None:
        self.endpoint = endpoint
        self.context = context
        self.send: Send
        self.ops: dict[str, asyncio.Task[None]] = {}
        self.init_received = False
        self.acknowledged = False
        self.closed = False
        # Stops watching the caller's token for revocation (set once it is known).
        self.unwatch_token: Callable[[], None] | None = None
        self.ending: asyncio.Task[None] | None = None

    async def run(self, receive: Receive) -> None:
        try:
            async with asyncio.timeout(self.endpoint.init_timeout):
                while not self.init_received:
                    if not await self.handle(await receive()):
                        return
        except TimeoutError:
            if not self.init_received:
                await self.close(4408, "Connection initialisation timeout")
                return
            raise
        while not self.closed:
            if not await self.handle(await receive()):
                return

    async def shutdown(self) -> None:
        if self.unwatch_token is not None:
            self.unwatch_token()
        tasks = list(self.ops.values())
        self.ops.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await task

    async def close(self, code: int, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        reason = reason.encode()[:MAX_REASON_BYTES].decode(errors="ignore")
        with contextlib.suppress(Exception):
            await self.send({"type": "websocket.close", "code": code, "reason": reason})

    async def send_text(self, text: str) -> None:
        try:
            await self.send({"type": "websocket.send", "text": text})
        except ClientNotReading as exc:
            self.abandon()
            raise _Gone from exc
        except Exception as exc:  # the server's way of saying the client has gone
            raise _Gone from exc

    def token_ended(self) -> None:
        """The caller's token was revoked or deleted: what it subscribed to stops now, not when
        the client next connects (called from the live feed, once)."""
        self.ending = asyncio.create_task(self.end_revoked())

    async def end_revoked(self) -> None:
        await self.close(4403, "Forbidden: the API token was revoked")
        current = asyncio.current_task()
        for task in self.ops.values():
            if task is not current:
                task.cancel()

    def abandon(self) -> None:
        """End every operation now (the client stopped reading: what they would send has
        nowhere to go, and their memory is better returned before the socket is gone)."""
        self.closed = True
        current = asyncio.current_task()
        for task in self.ops.values():
            if task is not current:
                task.cancel()

    async def handle(self, message: Any) -> bool:
        """Act on one ASGI message; False once the connection is over."""
        if message["type"] != "websocket.receive":
            return False  # websocket.disconnect
        text = message.get("text")
        if text is None:
            await self.close(4400, "WebSocket message type must be text")
            return False
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError:
            await self.close(4400, "WebSocket message must be valid JSON")
            return False
        try:
            kind = data["type"]
            if kind == "connection_init":
                await self.on_init(data.get("payload", {}))
            elif kind == "ping":
                await self.send_text('{"type":"pong"}')
            elif kind == "pong":
                pass
            elif kind == "subscribe":
                await self.on_subscribe(data["id"], data["payload"])
            elif kind == "complete":
                task = self.ops.pop(data["id"], None)
                if task is not None:
                    task.cancel()
            else:
                await self.close(4400, f"Unknown message type: {kind}")
        except (KeyError, TypeError):
            await self.close(4400, "Failed to parse message")
        return not self.closed

    async def on_init(self, payload: Any) -> None:
        if not isinstance(payload, dict):
            await self.close(4400, "Invalid connection init payload")
            return
        if self.init_received:
            await self.close(4429, "Too many initialisation requests")
            return
        self.init_received = True
        context = self.context
        context.connection_params = payload
        context.token = token_from_connection_params(payload)
        try:
            viewer = await context.viewer()
        except Unauthenticated:
            await self.close(4403, "Forbidden")
            return
        bind_account_lookup(lambda: getattr(context.known_viewer, "account_id", None))
        self.unwatch_token = context.services.live_feed().watch_token(
            viewer.token_id, self.token_ended
        )
        await self.send_text('{"type":"connection_ack"}')
        self.acknowledged = True

    async def on_subscribe(self, op_id: Any, payload: Any) -> None:
        if not self.acknowledged:
            await self.close(4401, "Unauthorized")
            return
        if not isinstance(op_id, str):
            raise TypeError
        if op_id in self.ops:
            await self.close(4409, f"Subscriber for {op_id} already exists")
            return
        limit = self.endpoint.max_operations
        if len(self.ops) >= limit:
            refused = TooManyOperations(limit)
            message = {"id": op_id, "type": "error", "payload": [refused.formatted]}
            await self.send_text(orjson.dumps(message).decode())
            return
        query = payload["query"]
        variables = payload.get("variables")
        operation_name = payload.get("operationName")
        if not isinstance(query, str) or not isinstance(variables, dict | None):
            raise TypeError
        task = asyncio.create_task(self.operation(op_id, query, variables, operation_name))
        self.ops[op_id] = task

    def execute_event(
        self, document: DocumentNode, variables: dict[str, Any] | None, name: str | None, event: Any
    ) -> str | Awaitable[str]:
        """The encoded `next` payload of the subscription's selection over `event`: at once
        when no resolver of the selection awaits (the timeline's fields), else an awaitable."""
        schema = self.endpoint.schema
        executor = schema.execution_context_class.build(
            schema._schema, document, event, self.context, variables, name
        )
        if isinstance(executor, list):  # cannot happen: they coerced at subscribe time
            return orjson.dumps({"data": None, "errors": [e.formatted for e in executor]}).decode()
        result: Any = execute_subscription_event(executor)
        if executor.is_awaitable(result):
            return _encode_later(result)
        return _encode(result, mask_errors=True)

    def _forget(self, op_id: str) -> None:
        task = self.ops.get(op_id)
        if task is not None and task is asyncio.current_task():
            del self.ops[op_id]

    async def finish(self, op_id: str, kind: str, payload: Any = None) -> None:
        """Send the operation's last message (`complete` or `error`), forgetting its id first
        (the client may reuse it once it has the message)."""
        self._forget(op_id)
        message: dict[str, Any] = {"id": op_id, "type": kind}
        if payload is not None:
            message["payload"] = payload
        await self.send_text(orjson.dumps(message).decode())

    async def operation(
        self, op_id: str, query: str, variables: dict[str, Any] | None, name: str | None
    ) -> None:
        try:
            prepared = self.endpoint.prepare(query)
            if prepared.document is None:
                await self.close(4400, prepared.syntax_error or "Syntax Error")
                return
            operation = get_operation_ast(prepared.document, name)
            if operation is None:
                await self.close(4400, CannotGetOperationTypeError(name).as_http_error_reason())
                return
            if prepared.errors:
                await self.finish(op_id, "error", prepared.errors)
                return
            # The same argument checks as over HTTP (NUL, lone surrogates, dates out of range).
            schema = self.endpoint.schema._schema
            refusal = first_refusal(schema, prepared.document, name, variables)
            if refusal is not None:
                await self.finish(op_id, "error", [refusal.formatted])
                return
            if operation.operation is OperationType.SUBSCRIPTION:
                gate, viewer = self.endpoint.cost_gate, self.context.known_viewer
                refused = gate and gate.refusal(
                    self.endpoint.schema._schema,
                    prepared.document,
                    name,
                    variables,
                    viewer.account_id if viewer else None,
                )
                if refused:
                    await self.finish(op_id, "error", [refused.formatted])
                    return
                await self.subscription(op_id, prepared.document, query, variables, name)
            else:
                result = await self.endpoint.schema.execute(
                    query, variables, self.context, operation_name=name
                )
                await self.send_text(_next_message(op_id, _encode(result, mask_errors=False)))
                await self.finish(op_id, "complete")
        except _Gone:
            pass  # the client went away meanwhile; the connection's end cleans up
        finally:
            self._forget(op_id)

    async def subscription(
        self,
        op_id: str,
        document: DocumentNode,
        query: str,
        variables: dict[str, Any] | None,
        name: str | None,
    ) -> None:
        schema = self.endpoint.schema
        label = metrics.operation_label(name)
        failed = False
        executor = schema.execution_context_class.build(
            schema._schema, document, None, self.context, variables, name
        )
        if isinstance(executor, list):  # the variables did not coerce
            metrics.GRAPHQL_REQUESTS.labels(label, "subscription", "error").inc()
            await self.finish(op_id, "error", [report_and_mask(e).formatted for e in executor])
            return
        stream: Any = create_source_event_stream(executor)
        if executor.is_awaitable(stream):
            stream = await stream
        if isinstance(stream, ExecutionResult):
            metrics.GRAPHQL_REQUESTS.labels(label, "subscription", "error").inc()
            await self.finish(
                op_id, "error", [report_and_mask(e).formatted for e in stream.errors or ()]
            )
            return
        # Not kept: an executor is ~2 KiB, and most events are executed by another subscriber.
        del executor
        execute = partial(self.execute_event, document, variables, name)
        viewer = self.context.known_viewer
        share_key = (
            "next",
            query,
            name,
            # A str: orjson's bytes keep its 4 KiB write buffer for as long as they live.
            orjson.dumps(variables, option=orjson.OPT_SORT_KEYS).decode(),
            viewer.user_id if viewer else None,
        )
        id_json = orjson.dumps(op_id).decode()
        try:
            try:
                async for event in stream:
                    payload = await _event_payload(execute, event, share_key)
                    await self.send_text(_next_message(op_id, payload, id_json))
            finally:
                aclose = getattr(stream, "aclose", None)
                if aclose is not None:
                    await aclose()
        except _Gone:
            raise
        except Exception as exc:  # what the subscription raised: its last `next`
            failed = True
            error = (
                exc if isinstance(exc, GraphQLError) else GraphQLError(str(exc), original_error=exc)
            )
            payload = orjson.dumps(
                {"data": None, "errors": [report_and_mask(error).formatted]}
            ).decode()
            await self.send_text(_next_message(op_id, payload, id_json))
        finally:
            metrics.GRAPHQL_REQUESTS.labels(
                label, "subscription", "error" if failed else "ok"
            ).inc()
        await self.finish(op_id, "complete")


async def _event_payload(
    execute: Callable[[Any], str | Awaitable[str]], event: Any, share_key: tuple[Any, ...]
) -> str:
    """The encoded `next` payload for `event`: executed and encoded once for every subscriber
    with the same `share_key` when the event is shared (it carries `shared_results`)."""
    shared = getattr(event, "shared_results", None)
    if not isinstance(shared, dict):
        payload = execute(event)
        return payload if isinstance(payload, str) else await payload
    # Its own task when it awaits: the first subscriber leaving must not cancel it for the
    # others, who take a payload encoded at once without waiting.
    payload = run_once(shared, share_key, partial(execute, event))
    return payload if isinstance(payload, str) else str(await payload)


async def _encode_later(result: Awaitable[Any]) -> str:
    return _encode(await result, mask_errors=True)


def _encode(result: Any, *, mask_errors: bool) -> str:
    payload: dict[str, Any] = {"data": result.data}
    if result.errors:
        errors = [report_and_mask(e) for e in result.errors] if mask_errors else result.errors
        payload["errors"] = [e.formatted for e in errors]
    if result.extensions:
        payload["extensions"] = result.extensions
    return orjson.dumps(payload).decode()


def _next_message(op_id: str, payload: str, id_json: str | None = None) -> str:
    """A `next` message around an encoded payload (the same payload for many operations)."""
    if id_json is None:
        id_json = orjson.dumps(op_id).decode()
    return '{"id":' + id_json + ',"type":"next","payload":' + payload + "}"
