// A small GraphQL client for Chronik: queries and mutations over HTTP, subscriptions over
// a WebSocket speaking graphql-transport-ws. No library, no build step: copy it, read it,
// or replace it with graphql-ws / Apollo / urql — the wire protocol is the same.
//
// Protocol summary (https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md):
//   client → connection_init {payload}     server → connection_ack
//   client → subscribe {id, payload}       server → next {id, payload} … complete {id}
//                                          server → error {id, payload: [errors]}
//   client → complete {id}  (unsubscribe)
//   either → ping, the other answers pong
// Chronik reads the API token from the connection_init payload's `Authorization` key, the
// same value as the HTTP header. A refused token closes the socket with code 4403.

/** A GraphQL response that carried errors; `code` is Chronik's `extensions.code`. */
export class GraphQLError extends Error {
  constructor(errors) {
    super(errors.map((e) => e.message).join("; ") || "GraphQL error");
    this.errors = errors;
    this.code = errors[0]?.extensions?.code ?? null;
    // VALIDATION errors name the input field they are about.
    this.field = errors[0]?.extensions?.field ?? null;
  }
}

/**
 * Run a query or mutation over HTTP; resolve to `data`, reject with GraphQLError.
 * Chronik answers errors with HTTP 200 and an `errors` list (typed by `extensions.code`).
 */
export async function graphql(token, query, variables = {}) {
  const response = await fetch("/graphql", {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      Accept: "application/json",
      Authorization: `Bearer ${token}`,
    },
    body: JSON.stringify({ query, variables }),
  });
  let body;
  try {
    body = await response.json();
  } catch {
    throw new GraphQLError([{ message: `HTTP ${response.status}`, extensions: { code: "HTTP" } }]);
  }
  if (body.errors?.length) throw new GraphQLError(body.errors);
  return body.data;
}

// Close codes after which reconnecting cannot help (graphql-transport-ws defines them).
const FATAL_CLOSE_CODES = new Set([
  4400, // the server did not understand a message: a client bug
  4403, // connection_init refused: the token is invalid or revoked
]);

/**
 * One WebSocket for all of a page's subscriptions, kept open: it reconnects with
 * exponential backoff after a drop and subscribes every active operation again.
 *
 * `onStatus(status, detail)` reports "connecting", "live", "reconnecting" (detail: seconds
 * until the next attempt) and "rejected" (the token was refused; no more attempts).
 */
export class LiveConnection {
  constructor({ token, onStatus = () => {} }) {
    this.token = token;
    this.onStatus = onStatus;
    this.url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/graphql`;
    this.operations = new Map(); // id → {query, variables, handlers}
    this.nextId = 1;
    this.attempt = 0; // failed connection attempts since the last ack
    this.acknowledged = false;
    this.closed = false;
    this.socket = null;
    this.connect();
  }

  /**
   * Start a subscription. Handlers: `next(data)`, `error(GraphQLError)` (the operation is
   * over), `complete()`, and `subscribed()`: called each time the subscribe message goes
   * out, first and after every reconnect. Fetch what you show from there: events committed
   * before it (or while the socket was down) are not delivered. Returns `unsubscribe`.
   *
   * The protocol does not confirm a subscription, so a change committed in the instant
   * between this message and the server registering it can still slip through: clients that
   * must never miss one refetch on RESYNC and after reconnects, as the timeline page does.
   */
  subscribe(query, variables, handlers) {
    const id = String(this.nextId++);
    this.operations.set(id, { query, variables, handlers });
    if (this.acknowledged) this.sendSubscribe(id);
    return () => {
      if (!this.operations.delete(id)) return;
      if (this.acknowledged) this.send({ id, type: "complete" });
    };
  }

  /** Close the socket for good (sign-out, page teardown). */
  close() {
    this.closed = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.ackTimer);
    clearInterval(this.heartbeat);
    this.operations.clear();
    this.socket?.close(1000, "client closed");
  }

  connect() {
    this.onStatus("connecting");
    this.acknowledged = false;
    const socket = new WebSocket(this.url, "graphql-transport-ws");
    this.socket = socket;
    socket.onopen = () => {
      this.send({ type: "connection_init", payload: { Authorization: `Bearer ${this.token}` } });
      // A socket that opens but never acknowledges (a stuck proxy, an overloaded server) is
      // as good as closed: give it 10 s, then start over.
      this.ackTimer = setTimeout(() => socket.close(4000, "no connection_ack"), 10_000);
    };
    socket.onmessage = (event) => this.receive(JSON.parse(event.data));
    socket.onclose = (event) => this.dropped(socket, event);
    // onerror is always followed by onclose, where the reconnect happens.
  }

  receive(message) {
    this.lastHeard = Date.now();
    const operation = this.operations.get(message.id);
    switch (message.type) {
      case "connection_ack": {
        clearTimeout(this.ackTimer);
        this.acknowledged = true;
        this.attempt = 0;
        this.startHeartbeat();
        this.onStatus("live");
        for (const id of this.operations.keys()) this.sendSubscribe(id);
        break;
      }
      case "ping":
        this.send({ type: "pong" });
        break;
      case "pong":
        break; // lastHeard is updated above; that is all a pong is for
      case "next":
        if (!operation) break; // already unsubscribed
        // A resolver error arrives as `next` with errors (and no data), then `complete`.
        if (message.payload.errors?.length && !message.payload.data) {
          this.operations.delete(message.id);
          operation.handlers.error?.(new GraphQLError(message.payload.errors));
        } else {
          operation.handlers.next?.(message.payload.data);
        }
        break;
      case "error": // the operation was refused before it started (e.g. invalid query)
        if (!operation) break;
        this.operations.delete(message.id);
        operation.handlers.error?.(new GraphQLError(message.payload));
        break;
      case "complete":
        if (!operation) break;
        this.operations.delete(message.id);
        operation.handlers.complete?.();
        break;
    }
  }

  dropped(socket, event) {
    if (socket !== this.socket) return; // an older socket we already replaced
    clearInterval(this.heartbeat);
    clearTimeout(this.ackTimer);
    this.acknowledged = false;
    if (this.closed) return;
    if (FATAL_CLOSE_CODES.has(event.code)) {
      this.closed = true;
      this.onStatus("rejected", event.reason || `closed (${event.code})`);
      return;
    }
    // 1 s, 2 s, 4 s … capped at 30 s, each scaled by a random factor in [0.5, 1) so that
    // many pages dropped by one server restart do not all come back in the same instant.
    const base = Math.min(30, 2 ** this.attempt);
    const delay = base * (0.5 + Math.random() / 2);
    this.attempt += 1;
    this.onStatus("reconnecting", Math.ceil(delay));
    this.retryTimer = setTimeout(() => this.connect(), delay * 1000);
  }

  // A dead network path can leave a socket looking open for minutes. Ping every 15 s and
  // give up on the socket when nothing at all was heard for 40 s: the reconnect follows.
  startHeartbeat() {
    this.lastHeard = Date.now();
    clearInterval(this.heartbeat);
    this.heartbeat = setInterval(() => {
      if (Date.now() - this.lastHeard > 40_000) {
        this.socket.close(4000, "no answer to ping");
        // Browsers fire onclose late for a dead peer; do not wait for it.
        this.dropped(this.socket, { code: 4000 });
        this.socket = null;
      } else {
        this.send({ type: "ping" });
      }
    }, 15_000);
  }

  sendSubscribe(id) {
    const { query, variables, handlers } = this.operations.get(id);
    this.send({ id, type: "subscribe", payload: { query, variables } });
    handlers.subscribed?.();
  }

  send(message) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }
}
