// Starts GraphiQL on /graphql (a file of its own: the page's policy allows no inline script).
// Queries and mutations go over HTTP POST; subscriptions over a graphql-transport-ws websocket
// on the same /graphql, whose `connection_init` payload carries the Headers tab's values
// (so the `Authorization` put there signs in both). Put your API token in the Headers tab.
const endpoint = new URL("/graphql", location.href);
const socketEndpoint = new URL(endpoint);
socketEndpoint.protocol = endpoint.protocol === "https:" ? "wss:" : "ws:";
const fetcher = GraphiQL.createFetcher({
  url: endpoint.toString(),
  subscriptionUrl: socketEndpoint.toString(),
});
ReactDOM.createRoot(document.getElementById("graphiql")).render(
  React.createElement(GraphiQL, {
    fetcher,
    isHeadersEditorEnabled: true,
    defaultHeaders: JSON.stringify({ Authorization: "Bearer <your API token>" }, null, 2),
    defaultQuery: "# Put your token in the Headers tab below, then run:\n{ me { email account { name } } }\n",
  })
);
