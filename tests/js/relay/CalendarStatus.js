import { graphql } from "react-relay";

export const connection = graphql`
  fragment CalendarStatus_connection on CalendarConnection
  @refetchable(queryName: "CalendarStatusRefetchQuery") {
    status
    lastSyncedAt
  }
`;
