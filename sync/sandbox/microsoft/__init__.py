"""Microsoft Graph v1.0 / identity platform v2.0 sandbox (see ``app`` and ``control_routes``)."""

from .app import MICROSOFT_SANDBOX, create_microsoft_sandbox
from .sandbox import MicrosoftSandbox

__all__ = ["MICROSOFT_SANDBOX", "MicrosoftSandbox", "create_microsoft_sandbox"]
