// The reference graphql-transport-ws client (npm `graphql-ws`) against Chronik: subscribe to a
// contact's timeline, print each update as a JSON line, and after UPDATES of them run a query
// over the same socket. Driven by tests/js/test_js_clients.py.
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const { CHRONIK_URL, CHRONIK_TOKEN, CONTACT_ID, UPDATES } = process.env;
const print = (event, payload) => console.log(JSON.stringify({ event, payload }));

const client = createClient({
  url: CHRONIK_URL.replace(/^http/, "ws") + "/graphql",
  webSocketImpl: WebSocket,
  connectionParams: { Authorization: `Bearer ${CHRONIK_TOKEN}` },
  retryAttempts: 0,
});

const updates = client.iterate({
  query: `subscription ($id: ID!) { contactTimeline(contactId: $id) { kind meeting { title } } }`,
  variables: { id: CONTACT_ID },
});
let seen = 0;
for await (const update of updates) {
  print("next", update);
  if (++seen === Number(UPDATES)) break; // ends the subscription (a `complete` to the server)
}
for await (const answer of client.iterate({ query: "{ me { email } }" })) {
  print("query", answer);
}
await client.dispose();
