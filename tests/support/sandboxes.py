"""The sandboxes as the tests use them: every registered provider's (sandboxes/runner.py), and
the Google and Microsoft ones' state objects and URLs at hand."""

from __future__ import annotations

from sandboxes import runner
from sandboxes.google.app import GOOGLE_SANDBOX, GoogleSandbox
from sandboxes.microsoft.app import MICROSOFT_SANDBOX, MicrosoftSandbox


class Sandboxes(runner.RunningSandboxes):
    @property
    def google(self) -> GoogleSandbox:
        return self.app("google")[GOOGLE_SANDBOX]

    @property
    def google_url(self) -> str:
        return self.url("google")

    @property
    def microsoft(self) -> MicrosoftSandbox:
        return self.app("microsoft")[MICROSOFT_SANDBOX]

    @property
    def microsoft_url(self) -> str:
        return self.url("microsoft")


async def start_sandboxes(*, seed: int = 0) -> Sandboxes:
    """Every registered provider's sandbox on an ephemeral port."""
    return Sandboxes((await runner.start_sandboxes(seed=seed)).served)
