// A contact card that refetches itself through `node(id:)`: compiled by relay-compiler
// against schema.graphql (tests/js/test_js_clients.py).
import { graphql } from "react-relay";

export const contact = graphql`
  fragment ContactCard_contact on Contact @refetchable(queryName: "ContactCardRefetchQuery") {
    name
    email
    timeline(first: 5) { edges { node { id ...TimelineRow_entry } } }
  }
`;
