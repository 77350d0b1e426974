import { graphql } from "react-relay";

export const entry = graphql`
  fragment TimelineRow_entry on TimelineEntry @refetchable(queryName: "TimelineRowRefetchQuery") {
    occurredAt
    meeting { ...MeetingTitle_meeting }
  }
`;
