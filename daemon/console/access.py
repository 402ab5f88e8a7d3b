"""Who sees and may do what (SPEC §8), in one place: the pages, their forms and the JSON API
with a signed-in session all ask here.

- an agent sees their own violations, their scorecard and the handover book; appeals their
  own violations and writes handover notes;
- a supervisor sees everything; confirms, waives, reviews, decides appeals; records bonuses,
  adjustments and leaves; closes a month;
- a lead does all of that, reopens a closed month and manages users
  (:mod:`daemon.console.users_page`).

Someone signed in with a one-time password a lead made for them opens nothing but the page
where they choose their own.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from daemon.store.users import User

SIGNED_IN = web.RequestKey("shopwatch.console.user", User)
"""The request key under which the console's middleware puts the signed-in :class:`User`."""
CSRF_HEADER = "X-CSRF-Token"
CSRF_SESSION_KEY = "csrf"
CSRF_CHECKED = web.RequestKey("shopwatch.console.csrf_ok", bool)
"""Set by the middleware when a request carried the session's CSRF token in its header."""


def signed_in(request: web.Request) -> User | None:
    return request.get(SIGNED_IN)


def may_see(user: User, violation: dict[str, Any]) -> bool:
    """Supervisors and leads see every violation; an agent only those attributed to them
    (never another agent's, never the team's)."""
    if user.decides:
        return True
    return user.role == "agent" and user.agent is not None and violation["agent"] == user.agent


def may_see_agent(user: User, agent: str) -> bool:
    return user.decides or (user.agent is not None and user.agent == agent)


def actions(
    user: User,
    violation: dict[str, Any],
    *,
    month_closed: bool,
    now: datetime,
    appeal_window: timedelta,
) -> list[str]:
    """What ``user`` may do to ``violation`` now: ``confirm``, ``waive`` (a supervisor's
    decision, also on a violation in review or appealed) and ``appeal`` (its agent's)."""
    if month_closed:
        return []
    status = violation["status"]
    found: list[str] = []
    if user.decides and status in ("open", "review", "appealed"):
        found += ["confirm", "waive"]
    if (
        user.role == "agent"
        and status == "open"
        and violation["agent"] is not None
        and violation["agent"] == user.agent
        and not any(e["action"] == "appealed" for e in violation.get("audit", ()))
        and now - datetime.fromisoformat(violation["detected_at"]) <= appeal_window
    ):
        found.append("appeal")
    return found


def api_user(request: web.Request, need: str) -> User | None:
    """Who a signed-in session lets through the JSON API (``_authorize`` in the shell asks):
    a supervisor or lead may read; write only with the session's CSRF token in the
    ``X-CSRF-Token`` header, since a browser sends the cookie with any site's request.
    An agent's session opens no ``/api`` request: agents use the pages, which show them
    only their own violations; nor does one signed in with a one-time password."""
    user = signed_in(request)
    if user is None or not user.decides or user.password_temporary:
        return None
    if need != "read" and not request.get(CSRF_CHECKED):
        return None
    return user
