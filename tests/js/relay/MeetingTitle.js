import { graphql } from "react-relay";

export const meeting = graphql`
  fragment MeetingTitle_meeting on Meeting @refetchable(queryName: "MeetingTitleRefetchQuery") {
    title
    startsAt
  }
`;
