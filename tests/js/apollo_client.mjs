// Apollo Client as a frontend sets it up against Chronik: queries and mutations over HTTP,
// subscriptions through its GraphQLWsLink (graphql-ws). Prints each step's answer as a JSON
// line. Driven by tests/js/test_js_clients.py.
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions";
import { getMainDefinition } from "@apollo/client/utilities";
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const { CHRONIK_URL, CHRONIK_TOKEN, CONTACT_ID } = process.env;
const print = (event, payload) => console.log(JSON.stringify({ event, payload }));
const authorization = `Bearer ${CHRONIK_TOKEN}`;

const http = new HttpLink({ uri: `${CHRONIK_URL}/graphql`, headers: { authorization } });
const socket = createClient({
  url: CHRONIK_URL.replace(/^http/, "ws") + "/graphql",
  webSocketImpl: WebSocket,
  connectionParams: { Authorization: authorization },
  retryAttempts: 0,
});
const isSubscription = ({ query }) => {
  const definition = getMainDefinition(query);
  return definition.kind === "OperationDefinition" && definition.operation === "subscription";
};
const client = new ApolloClient({
  link: ApolloLink.split(isSubscription, new GraphQLWsLink(socket), http),
  cache: new InMemoryCache(),
});

const contact = await client.query({
  query: gql`query ($id: ID!) { contact(id: $id) { id name email } }`,
  variables: { id: CONTACT_ID },
});
print("query", contact.data);

const created = await client.mutate({
  mutation: gql`mutation { createContact(input: {email: "dan@partner.test", firstName: "Dan"}) { id name } }`,
});
print("mutation", created.data);

// Normalized by `__typename` and `id`: the contact read above is in the cache under its Node id.
print("cached", client.cache.extract()[`Contact:${CONTACT_ID}`]?.email ?? null);

await new Promise((resolve, reject) => {
  const subscription = client
    .subscribe({
      query: gql`subscription ($id: ID!) { contactTimeline(contactId: $id) { kind meeting { title } } }`,
      variables: { id: CONTACT_ID },
    })
    .subscribe({
      next(update) {
        print("next", update.data);
        subscription.unsubscribe();
        resolve();
      },
      error: reject,
    });
});
await socket.dispose();
