"""Microsoft Graph v1.0 + identity platform v2.0 sandbox: a fake Outlook calendar in memory.

Module map (one job each):
  app             the aiohttp application, its middlewares and ``create_microsoft_sandbox``
  sandbox         ``MicrosoftSandbox``: all state, and the Python face of the control API
  oauth_routes    ``/{tenant}/oauth2/v2.0/authorize`` and ``/token``
  graph_routes    the ``/v1.0/...`` endpoints
  control_routes  the ``/_sandbox/...`` control API (documented in its docstring)
  store           users, calendars, events, exceptions, change log, invitation outbox
  resources       building/patching Graph event resources from request bodies
  recurrence      patternedRecurrence -> occurrence starts (dateutil rrule)
  delta           calendarView delta rounds, skip tokens and sync states
  subscriptions   change-notification subscriptions and their delivery worker
  schedule        getSchedule free/busy
  errors          Graph and identity-platform error bodies
  quirks          the real service's misbehaviours on demand (``/_sandbox/quirks``)
  zone_names      the time zone names Graph takes on create and update
  ids, timefmt    deterministic ids; Graph's date/time spellings and time zones
  testing         HTTP harness and webhook receiver for tests and benchmarks
"""

from .app import MICROSOFT_SANDBOX, create_microsoft_sandbox
from .sandbox import MicrosoftSandbox

__all__ = ["MICROSOFT_SANDBOX", "MicrosoftSandbox", "create_microsoft_sandbox"]
