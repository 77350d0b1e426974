// Starts GraphiQL on /graphql (a file of its own: the page's policy allows no inline script).
// Queries and mutations over HTTP POST; put your API token in the Headers tab.
const fetcher = GraphiQL.createFetcher({ url: new URL("/graphql", location.href).toString() });
ReactDOM.createRoot(document.getElementById("graphiql")).render(
  React.createElement(GraphiQL, {
    fetcher,
    isHeadersEditorEnabled: true,
    defaultHeaders: JSON.stringify({ Authorization: "Bearer <your API token>" }, null, 2),
    defaultQuery: "# Put your token in the Headers tab below, then run:\n{ me { email account { name } } }\n",
  })
);
