// Starts GraphiQL on /graphql (a file of its own: the page's policy allows no inline script).
// Queries and mutations go over HTTP POST; subscriptions over a graphql-transport-ws websocket
// on the same /graphql, whose `connection_init` payload carries the Headers tab's
// `Authorization` (so the token put there signs in both). Put your API token in the Headers tab.
//
// Subscriptions use Chronik's own client (/static/graphql.js), not GraphiQL's graphql-ws:
// graphql-ws retries a refused token (close code 4403) five times over about 30 s before it
// shows anything, and a newcomer with a typo in the token saw a spinner. Chronik's client
// stops at once and the result pane says what to fix.
const endpoint = new URL("/graphql", location.href);
const overHttp = GraphiQL.createFetcher({ url: endpoint.toString() });

/** Whether the operation GraphiQL is about to run is a subscription (by its parsed text). */
function isSubscription(documentAST, operationName) {
  const operations = (documentAST?.definitions ?? []).filter(
    (d) => d.kind === "OperationDefinition"
  );
  const chosen = operationName
    ? operations.find((d) => d.name?.value === operationName)
    : operations[0];
  return chosen?.operation === "subscription";
}

/** The subscription's results as GraphiQL reads them: an async iterable of responses. */
async function* subscribe(params, headers) {
  const { LiveConnection } = await import("/static/graphql.js");
  const authorization = String(headers?.Authorization ?? headers?.authorization ?? "");
  const token = authorization.replace(/^Bearer\s+/i, "");
  const results = [];
  let finished = false;
  let refused = null;
  let wake = () => {};
  const notify = () => wake();
  const connection = new LiveConnection({
    token,
    onStatus: (status, detail) => {
      if (status !== "rejected") return;
      refused = new Error(
        `The API token was refused (${detail}). Put a valid one in the Headers tab: ` +
          '{"Authorization": "Bearer <your API token>"}.'
      );
      notify();
    },
  });
  const unsubscribe = connection.subscribe(params.query, params.variables ?? {}, {
    next: (data) => {
      results.push({ data });
      notify();
    },
    error: (error) => {
      results.push({ errors: error.errors });
      finished = true;
      notify();
    },
    complete: () => {
      finished = true;
      notify();
    },
  });
  try {
    for (;;) {
      if (results.length) {
        yield results.shift();
      } else if (refused) {
        throw refused;
      } else if (finished) {
        return;
      } else {
        await new Promise((resolve) => (wake = resolve));
      }
    }
  } finally {
    unsubscribe();
    connection.close();
  }
}

function fetcher(params, options) {
  if (isSubscription(options?.documentAST, params.operationName)) {
    return subscribe(params, options?.headers);
  }
  return overHttp(params, options);
}

ReactDOM.createRoot(document.getElementById("graphiql")).render(
  React.createElement(GraphiQL, {
    fetcher,
    isHeadersEditorEnabled: true,
    defaultHeaders: JSON.stringify({ Authorization: "Bearer <your API token>" }, null, 2),
    defaultQuery: "# Put your token in the Headers tab below, then run:\n{ me { email account { name } } }\n",
  })
);
