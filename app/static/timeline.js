// Chronik's live timeline page: sign in with an API token, pick a contact, watch their
// meetings arrive and change live, and schedule a new meeting with them.
//
// It is also the reference client for frontend developers. The pattern worth copying:
//   1. subscribe to `contactTimeline` first, then fetch the timeline over HTTP;
//   2. hold the updates that arrive while the fetch runs, apply them after it (each update
//      carries the entry as it is now, so the last one applied is always right);
//   3. on RESYNC, and whenever the subscription starts again after a reconnect, refetch:
//      updates may have been missed meanwhile.

import { graphql, GraphQLError, LiveConnection } from "./graphql.js";

// ---- GraphQL documents --------------------------------------------------------------------

const MEETING_FIELDS = `
  fragment MeetingFields on Meeting {
    id title startsAt endsAt allDay status source location
    attendees { email displayName response isOrganizer }
  }`;

const ME = `{ me { email account { name } } }`;

const CONTACTS = `
  query Contacts($search: String) {
    contacts(first: 20, search: $search) {
      edges { node { id name email companyName } }
    }
  }`;

const TIMELINE = `
  query Timeline($id: ID!) {
    contact(id: $id) {
      id name email companyName
      timeline(first: 50) { edges { node { occurredAt meeting { ...MeetingFields } } } }
    }
  }
  ${MEETING_FIELDS}`;

const TIMELINE_UPDATES = `
  subscription TimelineUpdates($id: ID!) {
    contactTimeline(contactId: $id) {
      kind
      entry { occurredAt }
      meeting { ...MeetingFields }
    }
  }
  ${MEETING_FIELDS}`;

const CONNECTION = `{
  calendarConnection {
    provider calendarEmail status
    syncState { phase syncing lastSyncedAt lastError }
  }
  calendarLinkAttempt { status message }
  calendarProviders {
    provider label configured linkMethod
    credentialFields { name label secret }
  }
}`;

const SYNC_STATE_UPDATES = `
  subscription { calendarSyncState { phase syncing lastSyncedAt lastError } }`;

const LINK_WITH_CREDENTIALS = `
  mutation LinkWithCredentials($provider: CalendarProvider!, $credentials: [CredentialInput!]!) {
    linkCalendarWithCredentials(provider: $provider, credentials: $credentials) { id }
  }`;

const START_LINK = `
  mutation StartLink($provider: CalendarProvider!) {
    startCalendarLink(provider: $provider) { authorizationUrl }
  }`;

const SCHEDULE = `
  mutation Schedule($input: ScheduleMeetingInput!) {
    scheduleMeeting(input: $input) { id title }
  }`;

const COMPANIES = `
  query Companies($search: String) {
    companies(first: 20, search: $search) { edges { node { id name domains } } }
  }`;

// A company's timeline (its contacts' meetings and those scheduled from it), and the deals
// and tickets a meeting scheduled from it may be logged on too.
const COMPANY = `
  query Company($id: ID!) {
    company(id: $id) {
      id name domains contacts { id name }
      timeline(first: 50) { totalCount edges { node { occurredAt meeting { ...MeetingFields } } } }
    }
    deals(first: 50) { edges { node { id name } } }
    tickets(first: 50) { edges { node { id subject } } }
  }
  ${MEETING_FIELDS}`;

// Any change of the company's timeline: the page refetches the company (a small page).
const COMPANY_UPDATES = `
  subscription CompanyUpdates($id: ID!) { companyTimeline(companyId: $id) { kind } }`;

const EXPLAIN = `
  query Explain($event: String, $meetingId: ID) {
    explainEvent(event: $event, meetingId: $meetingId) {
      reason sentence contacts { id name }
    }
  }`;

// ---- State --------------------------------------------------------------------------------

const TOKEN_KEY = "chronik.token";

const state = {
  token: null,
  live: null, // the LiveConnection while signed in
  contact: null, // {id, name, email, companyName} of the selected contact
  entries: new Map(), // meeting id → {occurredAt, meeting}, the selected contact's timeline
  stopTimelineUpdates: null,
  stopSyncStateUpdates: null,
  held: null, // while the timeline is fetched: live updates held back, applied afterwards
  fetches: 0, // numbers the timeline fetches: only the latest one is applied
  connection: null, // the calendar connection shown in the side panel
  linkAttempt: null, // the latest calendar link attempt, shown while nothing is linked
  providers: [], // the calendar providers the server knows (calendarProviders)
  why: new Map(), // meeting id → the answer of its "Why?" (kept across re-renders)
  company: null, // the selected company, as COMPANY reads it ({id} while it loads)
  companyData: null, // the whole COMPANY answer (its deals and tickets too), for re-renders
};

const $ = (id) => document.getElementById(id);

// ---- Signing in ---------------------------------------------------------------------------

// A demo keeps the token in localStorage: any script on this origin can read it. A product
// frontend would rather hold a session cookie and let the server add the API token.
async function signIn(token) {
  const data = await graphql(token, ME); // rejects with UNAUTHENTICATED for a bad token
  state.token = token;
  localStorage.setItem(TOKEN_KEY, token);
  $("who").textContent = `${data.me.email} · ${data.me.account.name}`;
  $("sign-in").hidden = true;
  $("app").hidden = false;
  $("signed-in").hidden = false;
  state.live = new LiveConnection({ token, onStatus: showLiveStatus });
  showApp().catch((error) => showNotice(error.message, true));
}

/** Fill the signed-in page: calendar panel, contact list, and the contact in the URL. */
async function showApp() {
  await Promise.all([loadConnection(), searchContacts(""), searchCompanies("")]);
  const wanted = new URLSearchParams(location.hash.slice(1)).get("contact");
  if (wanted) await selectContact(wanted);
}

function showSignIn(message = "") {
  $("sign-in").hidden = false;
  $("sign-in-error").textContent = message;
  $("sign-in-error").hidden = !message;
}

function signOut() {
  localStorage.removeItem(TOKEN_KEY);
  state.live?.close();
  location.hash = "";
  location.reload(); // the simplest way to drop every bit of the signed-in state
}

function showLiveStatus(status, detail) {
  const labels = {
    connecting: "connecting…",
    live: "live",
    reconnecting: `reconnecting in ${detail} s`,
    rejected: "token refused — sign in again",
  };
  const badge = $("live-status");
  badge.textContent = labels[status];
  badge.dataset.status = status;
}

// ---- Calendar connection ------------------------------------------------------------------

async function loadConnection() {
  const { calendarConnection, calendarLinkAttempt, calendarProviders } = await graphql(
    state.token,
    CONNECTION,
  );
  state.connection = calendarConnection;
  state.linkAttempt = calendarLinkAttempt;
  state.providers = calendarProviders;
  renderConnection();
  // Sync progress streams only for a linked calendar (otherwise the server answers NOT_FOUND).
  if (calendarConnection && !state.stopSyncStateUpdates) {
    state.stopSyncStateUpdates = state.live.subscribe(SYNC_STATE_UPDATES, {}, {
      next: (data) => {
        if (!state.connection) return;
        state.connection.syncState = data.calendarSyncState;
        renderConnection();
        // The connection's status (e.g. NEEDS_REAUTH) is not streamed: look when a run failed.
        if (data.calendarSyncState.phase === "FAILING") loadConnection();
      },
      error: () => {
        state.stopSyncStateUpdates = null;
      },
      // Nothing to refetch on (re)subscribing: the server answers with the state as it is now.
    });
  }
}

function renderConnection() {
  const box = $("connection");
  const c = state.connection;
  box.replaceChildren();
  if (!c) {
    // Why the last attempt failed (e.g. that calendar is linked in another place already).
    const failed = state.linkAttempt?.status === "FAILED" ? state.linkAttempt.message : null;
    box.append(
      el("p", {}, "No calendar linked yet."),
      ...(failed ? [el("p", { class: "error", id: "link-problem" }, failed)] : []),
      // The providers this server is configured for, as it lists them: a button to the
      // provider's sign-in page, or a form for the credentials a provider links with.
      ...state.providers.filter((p) => p.configured).map(linkControl),
    );
    return;
  }
  const s = c.syncState;
  box.append(
    el("p", {}, el("strong", {}, providerName(c.provider)), ` · ${c.calendarEmail}`),
    el(
      "dl",
      {},
      el("dt", {}, "Status"),
      el("dd", { "data-status": c.status }, c.status),
      el("dt", {}, "Sync"),
      el("dd", { id: "sync-phase" }, s.syncing ? `${s.phase} (syncing…)` : s.phase),
      el("dt", {}, "Last synced"),
      el("dd", {}, s.lastSyncedAt ? formatDateTime(s.lastSyncedAt) : "never"),
    ),
  );
  if (s.lastError) box.append(el("p", { class: "error" }, s.lastError));
}

function linkControl(provider) {
  const title = `Link ${provider.label}`;
  if (provider.linkMethod === "OAUTH") {
    return el("button", { type: "button", onclick: () => startLink(provider.provider) }, title);
  }
  const inputs = provider.credentialFields.map((field) =>
    el(
      "label",
      {},
      field.label,
      el("input", {
        name: field.name,
        type: field.secret ? "password" : "text",
        autocomplete: "off",
        required: "",
      }),
    ),
  );
  const form = el(
    "form",
    { class: "link-credentials", "data-provider": provider.provider },
    el("p", {}, title),
    ...inputs,
    el("button", { type: "submit" }, title),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const credentials = provider.credentialFields.map((field) => ({
      name: field.name,
      value: form.elements[field.name].value,
    }));
    linkWithCredentials(provider.provider, credentials);
  });
  return form;
}

async function linkWithCredentials(provider, credentials) {
  try {
    // Checked with the provider at once: linked (and syncing), or an error saying why.
    await graphql(state.token, LINK_WITH_CREDENTIALS, { provider, credentials });
    await loadConnection();
  } catch (error) {
    showNotice(error.message, true);
  }
}

async function startLink(provider) {
  try {
    const data = await graphql(state.token, START_LINK, { provider });
    // The provider's consent page; afterwards Chronik sends the browser back here
    // with ?linked=<provider>&calendar=<address>.
    location.assign(data.startCalendarLink.authorizationUrl);
  } catch (error) {
    showNotice(error.message, true);
  }
}

// ---- Contacts -----------------------------------------------------------------------------

async function searchContacts(search) {
  const data = await graphql(state.token, CONTACTS, { search: search || null });
  const list = $("contacts");
  list.replaceChildren(
    ...data.contacts.edges.map(({ node }) =>
      el(
        "li",
        {},
        el(
          "button",
          {
            type: "button",
            class: node.id === state.contact?.id ? "contact selected" : "contact",
            "data-id": node.id,
            onclick: () => selectContact(node.id),
          },
          el("span", { class: "name" }, node.name),
          el("span", { class: "email" }, node.email),
        ),
      ),
    ),
  );
  if (!data.contacts.edges.length) list.append(el("li", { class: "empty" }, "No contacts found."));
}

// ---- Companies ----------------------------------------------------------------------------

async function searchCompanies(search) {
  const data = await graphql(state.token, COMPANIES, { search: search || null });
  const list = $("companies");
  list.replaceChildren(
    ...data.companies.edges.map(({ node }) =>
      el(
        "li",
        {},
        el(
          "button",
          {
            type: "button",
            class: node.id === state.company?.id ? "contact selected" : "contact",
            "data-id": node.id,
            onclick: () => selectCompany(node.id),
          },
          el("span", { class: "name" }, node.name),
          el("span", { class: "email" }, node.domains.join(", ")),
        ),
      ),
    ),
  );
  if (!data.companies.edges.length) list.append(el("li", { class: "empty" }, "No companies."));
}

/** Show a company's timeline in place of a contact's, refetched whenever it changes. */
async function selectCompany(id) {
  state.stopTimelineUpdates?.();
  state.stopTimelineUpdates = state.live.subscribe(COMPANY_UPDATES, { id }, {
    subscribed: () => loadCompany(id),
    next: () => loadCompany(id),
    error: (error) => {
      if (error.code === "SUBSCRIPTION_CLOSED") {
        if (state.company?.id === id) selectCompany(id);
      } else {
        showNotice(`Live updates stopped: ${error.message}`, true);
      }
    },
  });
  state.contact = null;
  $("timeline-panel").hidden = true;
  for (const button of document.querySelectorAll("#contacts .contact, #companies .contact")) {
    button.classList.toggle("selected", button.dataset.id === id);
  }
  state.company = { id };
  await loadCompany(id);
}

async function loadCompany(id) {
  const ticket = ++state.fetches;
  let data;
  try {
    data = await graphql(state.token, COMPANY, { id });
  } catch (error) {
    showNotice(error.message, true);
    return;
  }
  // A newer fetch, or another company or contact, has taken over.
  if (ticket !== state.fetches || state.company?.id !== id) return;
  state.company = data.company;
  state.companyData = data;
  renderCompany(data);
}

function renderCompany(data) {
  const company = data.company;
  $("company-heading").textContent = company.name;
  $("company-details").textContent = [
    company.domains.join(", "),
    company.contacts.map((c) => c.name).join(", "),
  ].filter(Boolean).join(" · ");
  const form = $("company-schedule-form");
  const options = (select, edges, label) =>
    select.replaceChildren(
      el("option", { value: "" }, "none"),
      ...edges.map(({ node }) => el("option", { value: node.id }, label(node))),
    );
  options(form.deal, data.deals.edges, (d) => d.name);
  options(form.ticket, data.tickets.edges, (t) => t.subject);
  const entries = company.timeline.edges.map(({ node }) => node);
  const list = $("company-timeline");
  list.replaceChildren(...entries.map((entry) => renderEntry(entry, false)));
  if (!entries.length) list.append(el("li", { class: "empty" }, "No meetings yet."));
  const total = company.timeline.totalCount;
  $("company-count").textContent = `${total} meeting${total === 1 ? "" : "s"}`;
  $("company-panel").hidden = false;
}

async function scheduleForCompany(form) {
  const company = state.company;
  const button = form.querySelector("button[type=submit]");
  const start = new Date(form.startsAt.value);
  const end = new Date(start.getTime() + Number(form.duration.value) * 60_000);
  button.disabled = true;
  try {
    const data = await graphql(state.token, SCHEDULE, {
      input: {
        title: form.title.value,
        startsAt: start.toISOString(),
        endsAt: end.toISOString(),
        timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
        attendees: company.contacts.map((c) => ({ contactId: c.id })),
        companyIds: [company.id],
        dealIds: form.deal.value ? [form.deal.value] : [],
        ticketIds: form.ticket.value ? [form.ticket.value] : [],
        idempotencyKey: form.dataset.idempotencyKey,
      },
    });
    showNotice(`Scheduled “${data.scheduleMeeting.title}” for ${company.name}.`);
    form.title.value = "";
    form.dataset.idempotencyKey = newKey();
    await loadCompany(company.id);
  } catch (error) {
    const field = error instanceof GraphQLError && error.field ? ` (${error.field})` : "";
    showNotice(`Not scheduled: ${error.message}${field}`, true);
  } finally {
    button.disabled = false;
  }
}

// ---- The timeline -------------------------------------------------------------------------

async function selectContact(id) {
  state.company = null;
  $("company-panel").hidden = true;
  state.stopTimelineUpdates?.();
  state.contact = { id };
  state.entries = new Map();
  state.held = null;
  location.hash = `contact=${encodeURIComponent(id)}`;
  for (const button of document.querySelectorAll("#contacts .contact")) {
    button.classList.toggle("selected", button.dataset.id === id);
  }
  // Subscribe first, then fetch (in `subscribed`): an update committed in between is not lost.
  state.stopTimelineUpdates = state.live.subscribe(TIMELINE_UPDATES, { id }, {
    subscribed: () => loadTimeline(id),
    next: (data) => receiveUpdate(id, data.contactTimeline),
    error: (error) => {
      if (error.code === "SUBSCRIPTION_CLOSED") {
        // The server dropped us for reading too slowly: subscribe again and refetch.
        if (state.contact?.id === id) selectContact(id);
      } else {
        showNotice(`Live updates stopped: ${error.message}`, true);
      }
    },
  });
  // While the socket is still connecting, show the timeline anyway; `subscribed` fetches it
  // again once the subscription is on its way.
  if (!state.live.acknowledged) await loadTimeline(id);
}

async function loadTimeline(id) {
  const ticket = ++state.fetches;
  state.held ??= []; // a fetch already running keeps what it held: this one applies it
  const latest = () => ticket === state.fetches && state.contact?.id === id;
  let data;
  try {
    data = await graphql(state.token, TIMELINE, { id });
  } catch (error) {
    if (latest()) {
      state.held = null;
      showNotice(error.message, true);
    }
    return;
  }
  if (!latest()) return; // a newer fetch, or another contact, has taken over
  const { timeline, ...contact } = data.contact;
  state.contact = contact;
  state.entries = new Map(timeline.edges.map(({ node }) => [node.meeting.id, node]));
  for (const update of state.held) applyUpdate(update);
  state.held = null;
  renderTimeline();
}

function receiveUpdate(contactId, update) {
  if (state.contact?.id !== contactId) return;
  if (update.kind === "RESYNC") {
    loadTimeline(contactId); // the server may have missed events: start from the truth
    return;
  }
  if (state.held) {
    state.held.push(update);
    return;
  }
  applyUpdate(update);
  renderTimeline(update.meeting?.id);
}

/** ADDED / UPDATED carry the entry as it is now; REMOVED only the meeting (or nothing). */
function applyUpdate(update) {
  const meetingId = update.meeting?.id;
  if (!meetingId) return;
  state.why.delete(meetingId); // the meeting changed: an earlier "Why?" may no longer hold
  if (update.kind === "REMOVED" || !update.entry) {
    state.entries.delete(meetingId);
  } else {
    state.entries.set(meetingId, { occurredAt: update.entry.occurredAt, meeting: update.meeting });
  }
}

function renderTimeline(changedId = null) {
  const c = state.contact;
  $("contact-heading").textContent = c.name ?? "";
  $("contact-email").textContent = [c.email, c.companyName].filter(Boolean).join(" · ");
  $("timeline-panel").hidden = false;
  const entries = [...state.entries.values()].sort((a, b) =>
    b.occurredAt.localeCompare(a.occurredAt),
  ); // newest first, as the API orders them
  const list = $("timeline");
  list.replaceChildren(...entries.map((entry) => renderEntry(entry, entry.meeting.id === changedId)));
  if (!entries.length) list.append(el("li", { class: "empty" }, "No meetings yet."));
  $("timeline-count").textContent = `${entries.length} meeting${entries.length === 1 ? "" : "s"}`;
}

function renderEntry({ meeting }, justChanged) {
  const classes = ["entry", `status-${meeting.status.toLowerCase()}`];
  if (justChanged) classes.push("just-changed"); // a short highlight (see timeline.css)
  return el(
    "li",
    { class: classes.join(" "), "data-meeting-id": meeting.id },
    el(
      "div",
      { class: "entry-head" },
      el("h3", { class: "title" }, meeting.title || "(no title)"),
      el("span", { class: `badge source-${meeting.source.toLowerCase()}` }, providerName(meeting.source)),
      meeting.status === "CONFIRMED" ? "" : el("span", { class: "badge" }, meeting.status),
    ),
    el("p", { class: "when" }, formatRange(meeting)),
    meeting.location ? el("p", { class: "where" }, meeting.location) : "",
    el("button", { type: "button", class: "why", onclick: () => explainMeeting(meeting.id) }, "Why?"),
    state.why.has(meeting.id) ? renderAnswer(state.why.get(meeting.id)) : "",
    el(
      "ul",
      { class: "attendees" },
      ...meeting.attendees.map((a) =>
        el(
          "li",
          { class: `response-${a.response.toLowerCase()}`, title: a.response },
          a.displayName || a.email,
          el("span", { class: "response" }, responseLabel(a)),
        ),
      ),
    ),
  );
}

// ---- Explaining a decision ----------------------------------------------------------------

/** "Why is this meeting here?" — the sync's rules, asked about the meeting's calendar event. */
async function explainMeeting(meetingId) {
  state.why.set(meetingId, await explain({ meetingId }));
  if (state.company) renderCompany(state.companyData);
  else renderTimeline();
}

/** "Why isn't this meeting on the timeline?" — for an event link or id pasted by the user. */
async function explainPasted(form) {
  const box = $("explain-answer");
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    box.replaceChildren(renderAnswer(await explain({ event: form.event.value.trim() })));
    box.hidden = false;
  } finally {
    button.disabled = false;
  }
}

/** The answer, or the error the server gave (e.g. not an event link, no such event). */
async function explain(variables) {
  try {
    const data = await graphql(state.token, EXPLAIN, variables);
    return data.explainEvent;
  } catch (error) {
    return { reason: error.code ?? "ERROR", sentence: error.message, contacts: [], failed: true };
  }
}

function renderAnswer(answer) {
  return el(
    "p",
    { class: answer.failed ? "why-answer error" : "why-answer", "data-reason": answer.reason },
    el("span", { class: "badge reason" }, answer.reason.replaceAll("_", " ").toLowerCase()),
    " ",
    answer.sentence,
  );
}

// ---- Scheduling ---------------------------------------------------------------------------

async function scheduleMeeting(form) {
  const button = form.querySelector("button[type=submit]");
  const start = new Date(form.startsAt.value); // datetime-local: the browser's local time
  const end = new Date(start.getTime() + Number(form.duration.value) * 60_000);
  button.disabled = true;
  try {
    const data = await graphql(state.token, SCHEDULE, {
      input: {
        title: form.title.value,
        startsAt: start.toISOString(),
        endsAt: end.toISOString(),
        timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
        attendees: [{ contactId: state.contact.id }],
        // One key per submitted form: a retried or double-sent request creates one meeting.
        idempotencyKey: form.dataset.idempotencyKey,
      },
    });
    showNotice(`Scheduled “${data.scheduleMeeting.title}”; your calendar sends the invitation.`);
    form.title.value = "";
    form.dataset.idempotencyKey = newKey();
    // The subscription delivers the new entry too; fetching makes the page right even
    // when the socket is down at this moment.
    await loadTimeline(state.contact.id);
  } catch (error) {
    const field = error instanceof GraphQLError && error.field ? ` (${error.field})` : "";
    showNotice(`Not scheduled: ${error.message}${field}`, true);
  } finally {
    button.disabled = false;
  }
}

function newKey() {
  // crypto.randomUUID needs a secure context; getRandomValues works on plain http too.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function defaultStart() {
  // Tomorrow at the next full hour, as a datetime-local value (local time, no zone).
  const d = new Date(Date.now() + 24 * 3600_000);
  d.setMinutes(0, 0, 0);
  d.setHours(d.getHours() + 1);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:00`;
}

// ---- Small helpers ------------------------------------------------------------------------

/**
 * Build an element. Text always goes in as text nodes, never as HTML: meeting titles and
 * names come from other people's calendars and must not be able to inject markup.
 */
function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  node.append(...children.filter((child) => child !== ""));
  return node;
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });

function formatDateTime(iso) {
  return dateTime.format(new Date(iso));
}

function formatRange(meeting) {
  if (!meeting.startsAt) return "no time set";
  const start = new Date(meeting.startsAt);
  const end = meeting.endsAt ? new Date(meeting.endsAt) : start;
  return (meeting.allDay ? dateOnly : dateTime).formatRange(start, end);
}

function providerName(source) {
  if (source === "CRM") return "Chronik";
  return state.providers.find((p) => p.provider === source)?.label ?? source;
}

function responseLabel(attendee) {
  if (attendee.isOrganizer) return "organizer";
  return {
    ACCEPTED: "accepted",
    DECLINED: "declined",
    TENTATIVE: "maybe",
    NEEDS_ACTION: "invited",
    ORGANIZER: "organizer",
    NONE: "",
  }[attendee.response];
}

function showNotice(text, isError = false) {
  const notice = $("notice");
  notice.textContent = text;
  notice.className = isError ? "notice error" : "notice";
  notice.hidden = false;
}

function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

// ---- Wiring -------------------------------------------------------------------------------

function start() {
  $("sign-in-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    showSignIn();
    try {
      await signIn(event.target.token.value.trim());
    } catch (error) {
      showSignIn(isRefused(error) ? "That token is not valid." : error.message);
    }
  });
  $("sign-out").addEventListener("click", signOut);
  $("contact-search").addEventListener(
    "input",
    debounce((event) => searchContacts(event.target.value.trim()), 200),
  );
  $("explain-form").addEventListener("submit", (event) => {
    event.preventDefault();
    explainPasted(event.target);
  });
  const form = $("schedule-form");
  form.startsAt.value = defaultStart();
  form.dataset.idempotencyKey = newKey();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    scheduleMeeting(form);
  });
  $("company-search").addEventListener(
    "input",
    debounce((event) => searchCompanies(event.target.value.trim()), 200),
  );
  const companyForm = $("company-schedule-form");
  companyForm.startsAt.value = defaultStart();
  companyForm.dataset.idempotencyKey = newKey();
  companyForm.addEventListener("submit", (event) => {
    event.preventDefault();
    scheduleForCompany(companyForm);
  });

  // Back from the provider's consent page after linking a calendar.
  const params = new URLSearchParams(location.search);
  if (params.has("linked")) {
    showNotice(`Calendar linked: ${params.get("calendar") ?? params.get("linked")}. The first sync runs now.`);
    history.replaceState(null, "", location.pathname + location.hash);
  }

  const saved = localStorage.getItem(TOKEN_KEY);
  if (saved) {
    signIn(saved).catch((error) => {
      // Revoked, or from another server: forget it. Unreachable server: keep it for later.
      if (isRefused(error)) localStorage.removeItem(TOKEN_KEY);
      showSignIn(isRefused(error) ? "Your saved token is no longer valid." : error.message);
    });
  } else {
    showSignIn();
  }
}

function isRefused(error) {
  return error instanceof GraphQLError && error.code === "UNAUTHENTICATED";
}

start();
