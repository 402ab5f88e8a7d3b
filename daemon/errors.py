"""The refusals a person can be given, shared by the HTTP API, the console and the CLI.

A user-facing refusal is one of three things, and every edge maps them the same way:

- :class:`BadInput` — what the person sent is wrong; names the field (HTTP 400, exit 1);
- :class:`NotFound` — what they asked for does not exist (HTTP 404, exit 1);
- :class:`Conflict` — it exists but its state does not allow that now (HTTP 409, exit 1).

Anything else raised while serving a request is a bug: it stays a 500 with a log line, never
a 400 that would tell the person their input was at fault. This module imports nothing of
the project so every layer may raise these.
"""

from __future__ import annotations


class Refused(Exception):
    """A request refused for a reason the person can act on."""

    status = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.message = message
        self.field = field

    def to_json(self) -> dict[str, str]:
        body = {"error": str(self)}
        if self.field:
            body["field"] = self.field
        return body


class BadInput(Refused):
    """The request's own content is wrong: ``field`` names what to fix."""

    status = 400


class NotFound(Refused):
    status = 404


class Conflict(Refused):
    """The thing exists, but its current state forbids the change (e.g. already decided)."""

    status = 409
