"""A lead's user page over HTTP: only a lead gets it (403 for everyone else signed in, for
every page and form); every form needs the session's CSRF token and a reason; adding a user
shows a one-time password once, which signs in once and then must be replaced; a reset ends
the user's sessions; disable and enable; a role change; a lead never disables or demotes
themself here; bad input is a 400 naming the field; the trail names the lead."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy.exc import OperationalError

from daemon.store.users import LastLead, UserBook
from tests.conftest import FakeClock

from .support import CHEAP, PASSWORD, Console, client, console, csrf_of, sign_in

SECRET = re.compile(r'<output class="secret" id="issued-password" lang="en">([^<]+)</output>')


async def _post(
    http: aiohttp.ClientSession, c: Console, page: str, action: str, **form: str
) -> tuple[int, str]:
    async with http.get(c.base + page) as r:
        token = csrf_of(await r.text())
    async with http.post(
        c.base + action, data={"csrf": token, **form}, allow_redirects=False
    ) as response:
        return response.status, await response.text()


async def _id(c: Console, name: str) -> int:
    return (await UserBook(c.daemon.engine).by_name(name)).id


async def test_only_a_lead_gets_the_user_pages(clock: FakeClock, tmp_path: Path) -> None:
    async with console(clock, tmp_path) as c:
        li = await _id(c, "li")
        pages = ("/users", f"/users/{li}")
        forms = (
            ("/users", {"name": "x1", "role": "agent", "agent": "a3", "reason": "r"}),
            (f"/users/{li}/disable", {"reason": "r"}),
            (f"/users/{li}/password", {"reason": "r"}),
            (f"/users/{li}/role", {"role": "lead", "reason": "r"}),
        )
        for name in ("li", "chen"):
            async with client() as http:
                await sign_in(http, c.base, name)
                for path in pages:
                    async with http.get(c.base + path) as r:
                        assert r.status == 403, (name, path)
                for path, form in forms:
                    # with a valid token from a page they may open
                    status, _ = await _post(http, c, "/handovers", path, **form)
                    assert status == 403, (name, path)
                async with http.get(f"{c.base}/handovers") as r:
                    assert 'href="/users"' not in await r.text()  # not in their menu
        async with client() as anonymous:
            for path in pages:
                async with anonymous.get(c.base + path, allow_redirects=False) as r:
                    assert r.status == 303 and r.headers["Location"].startswith("/login")
            async with anonymous.post(
                f"{c.base}/users/{li}/disable", data={"reason": "r"}, allow_redirects=False
            ) as r:
                assert r.status == 303 and r.headers["Location"].startswith("/login")
        book = UserBook(c.daemon.engine)
        assert (await book.by_name("li")).active and (await book.by_name("li")).role == "agent"
        assert [u.name for u in await book.all() if u.name == "x1"] == []
        async with client() as http:
            await sign_in(http, c.base, "zhou")
            async with http.get(f"{c.base}/users") as r:
                page = await r.text()
                assert r.status == 200
            for name in ("li", "wang", "chen", "zhou"):
                assert f">{name}</a>" in page
            assert 'href="/users"' in page  # in a lead's menu


async def test_every_form_needs_the_csrf_token(clock: FakeClock, tmp_path: Path) -> None:
    async with console(clock, tmp_path) as c, client() as http:
        await sign_in(http, c.base, "zhou")
        li = await _id(c, "li")
        for path, form in (
            ("/users", {"name": "x1", "role": "supervisor", "reason": "r"}),
            (f"/users/{li}/disable", {"reason": "r"}),
            (f"/users/{li}/password", {"reason": "r"}),
            (f"/users/{li}/role", {"role": "lead", "reason": "r"}),
            ("/password", {"current": "x", "password": "y" * 12, "again": "y" * 12}),
        ):
            for token in ({}, {"csrf": "not the token"}):
                async with http.post(
                    c.base + path, data={**form, **token}, allow_redirects=False
                ) as r:
                    assert r.status == 403, path
        li_now = await UserBook(c.daemon.engine).by_name("li")
        assert li_now.active and li_now.role == "agent" and li_now.session_epoch == 0


async def test_a_lead_adds_an_agent_who_signs_in_once_with_the_one_time_password(
    clock: FakeClock, tmp_path: Path
) -> None:
    async with console(clock, tmp_path) as c:
        async with client() as http:
            await sign_in(http, c.base, "zhou")
            status, page = await _post(
                http,
                c,
                "/users",
                "/users",
                name="zhao",
                role="agent",
                agent="a3",
                reason="new hire",
            )
            assert status == 200
            match = SECRET.search(page)
            assert match, page
            password = match.group(1)
            async with http.get(f"{c.base}/users") as r:
                listed = await r.text()
            assert password not in listed  # shown once
            assert ">zhao</a>" in listed
        book = UserBook(c.daemon.engine, CHEAP)
        zhao = await book.by_name("zhao")
        assert (zhao.role, zhao.agent, zhao.password_temporary) == ("agent", "a3", True)
        assert zhao.last_signed_in_at is None
        trail = await book.audit("zhao")
        assert trail[0]["by"] == "zhou" and trail[0]["details"]["reason"] == "new hire"

        async with client() as http:
            assert (await sign_in(http, c.base, "zhao", password)).status == 303
            async with http.get(f"{c.base}/agents/a3", allow_redirects=False) as r:
                assert r.status == 303 and r.headers["Location"].startswith("/password")
            async with http.get(f"{c.base}/password") as r:
                token = csrf_of(await r.text())
            form = {"csrf": token, "current": password, "next": "/agents/a3"}
            async with http.post(
                f"{c.base}/password",
                data={**form, "password": "zhao's own password", "again": "zhao's own pass"},
                allow_redirects=False,
            ) as r:
                assert r.status == 400 and "again" in await r.text()
            async with http.post(
                f"{c.base}/password",
                data={**form, "password": "short", "again": "short"},
                allow_redirects=False,
            ) as r:
                page = await r.text()
                assert r.status == 400 and "(password: " in page
                assert 'name="next" value="/agents/a3"' in page  # kept for the next try
            async with http.post(
                f"{c.base}/password",
                data={**form, "password": "zhao's own password", "again": "zhao's own password"},
                allow_redirects=False,
            ) as r:
                assert r.status == 303 and r.headers["Location"] == "/agents/a3"
            async with http.get(f"{c.base}/agents/a3", allow_redirects=False) as r:
                assert r.status == 200  # the session goes on, renewed
        async with client() as http:
            assert (await sign_in(http, c.base, "zhao", password)).status == 401  # once only
            assert (await sign_in(http, c.base, "zhao", "zhao's own password")).status == 303
        zhao = await book.by_name("zhao")
        assert not zhao.password_temporary and zhao.last_signed_in_at == c.clock.now()


async def test_adding_refuses_bad_input_by_its_field(clock: FakeClock, tmp_path: Path) -> None:
    async with console(clock, tmp_path) as c, client() as http:
        await sign_in(http, c.base, "zhou")
        good = {"name": "zhao", "role": "agent", "agent": "a3", "reason": "new hire"}
        for change, status, field in (
            ({"name": ""}, 400, "name"),
            ({"name": "has space"}, 400, "name"),
            ({"name": "x" * 65}, 400, "name"),
            ({"role": "boss"}, 400, "role"),
            ({"agent": ""}, 400, "agent"),
            ({"agent": "a9"}, 400, "agent"),
            ({"reason": " "}, 400, "reason"),
            ({"name": "li"}, 409, "name"),
        ):
            status_got, page = await _post(http, c, "/users", "/users", **{**good, **change})
            assert status_got == status, (change, page[:300])
            assert f"({field}: " in page, (change, field)
            assert not SECRET.search(page)
        assert [u.name for u in await UserBook(c.daemon.engine).all() if u.name == "zhao"] == []


async def test_reset_disable_enable_and_role(clock: FakeClock, tmp_path: Path) -> None:
    async with console(clock, tmp_path) as c:
        li = await _id(c, "li")
        book = UserBook(c.daemon.engine, CHEAP)
        async with client() as li_http, client() as lead:
            await sign_in(li_http, c.base, "li")
            await sign_in(lead, c.base, "zhou")
            page = f"/users/{li}"

            status, body = await _post(lead, c, page, f"{page}/password", reason="")
            assert status == 400 and "(reason: " in body
            status, body = await _post(lead, c, page, f"{page}/password", reason="forgot it")
            assert status == 200
            password = SECRET.search(body).group(1)  # type: ignore[union-attr]
            async with li_http.get(f"{c.base}/ledger", allow_redirects=False) as r:
                assert r.status == 303 and r.headers["Location"].startswith("/login")
            assert (await sign_in(li_http, c.base, "li")).status == 401  # the old one
            assert (await sign_in(li_http, c.base, "li", password)).status == 303

            status, _ = await _post(lead, c, page, f"{page}/disable", reason="left the team")
            assert status == 303
            async with li_http.get(f"{c.base}/password", allow_redirects=False) as r:
                assert r.status == 303 and r.headers["Location"].startswith("/login")
            assert (await sign_in(li_http, c.base, "li", password)).status == 401
            status, body = await _post(lead, c, page, f"{page}/disable", reason="again")
            assert status == 409
            async with lead.get(f"{c.base}/users") as r:
                assert 'class="disabled"' in await r.text()
            status, _ = await _post(lead, c, page, f"{page}/enable", reason="back")
            assert status == 303
            assert (await sign_in(li_http, c.base, "li", password)).status == 303

            status, body = await _post(
                lead, c, page, f"{page}/role", role="agent", agent="a1", reason="r"
            )
            assert status == 409 and "(role: " in body  # nothing would change
            status, body = await _post(lead, c, page, f"{page}/role", role="nobody", reason="r")
            assert status == 400 and "(role: " in body
            status, body = await _post(lead, c, page, f"{page}/role", role="agent", reason="r")
            assert status == 400 and "(agent: " in body
            status, _ = await _post(
                lead, c, page, f"{page}/role", role="supervisor", agent="a1", reason="promoted"
            )
            assert status == 303
            assert ((await book.by_name("li")).role, (await book.by_name("li")).agent) == (
                "supervisor",
                None,
            )
            async with li_http.get(f"{c.base}/month") as r:
                assert r.status == 200  # from their next page on
            async with lead.get(f"{c.base}{page}") as r:
                trail = await r.text()
            for reason in ("forgot it", "left the team", "back", "promoted"):
                assert reason in trail
        actions = [(e["action"], e["by"]) for e in await book.audit("li")]
        assert actions[1:] == [
            ("password", "zhou"),
            ("disabled", "zhou"),
            ("enabled", "zhou"),
            ("role", "zhou"),
        ]


async def test_a_lead_does_not_change_their_own_account_here(
    clock: FakeClock, tmp_path: Path
) -> None:
    async with console(clock, tmp_path) as c, client() as http:
        await sign_in(http, c.base, "zhou")
        me = await _id(c, "zhou")
        page = f"/users/{me}"
        async with http.get(c.base + page) as r:
            body = await r.text()
            assert f'action="{page}/disable"' not in body
        for action, form in (
            ("disable", {"reason": "r"}),
            ("role", {"role": "supervisor", "reason": "r"}),
            ("password", {"reason": "r"}),
        ):
            status, body = await _post(http, c, page, f"{page}/{action}", **form)
            assert status == 409, action
            assert not SECRET.search(body)
        zhou = await UserBook(c.daemon.engine).by_name("zhou")
        assert (zhou.role, zhou.active, zhou.session_epoch) == ("lead", True, 0)
        async with http.get(f"{c.base}/users") as r:
            assert r.status == 200  # still signed in, still a lead


async def test_there_is_always_an_active_lead(clock: FakeClock, tmp_path: Path) -> None:
    """The store keeps the last active lead (the CLI goes through it too); a second lead
    may be disabled or demoted by the first."""
    async with console(clock, tmp_path) as c, client() as http:
        book = UserBook(c.daemon.engine, CHEAP)
        now = c.clock.now()
        with pytest.raises(LastLead):
            await book.set_active("zhou", False, by="cli", now=now)
        with pytest.raises(LastLead):
            await book.set_role("zhou", "supervisor", by="cli", now=now, roster=())
        await sign_in(http, c.base, "zhou")
        status, _ = await _post(
            http, c, "/users", "/users", name="sun", role="lead", reason="second lead"
        )
        assert status == 200
        sun = await _id(c, "sun")
        status, _ = await _post(
            http, c, f"/users/{sun}", f"/users/{sun}/role", role="supervisor", reason="r"
        )
        assert status == 303
        status, _ = await _post(
            http, c, f"/users/{sun}", f"/users/{sun}/role", role="lead", reason="r"
        )
        assert status == 303
        await book.set_active("zhou", False, by="sun", now=now)  # sun is left
        with pytest.raises(LastLead):
            await book.set_active("sun", False, by="cli", now=now)
        await book.set_active("zhou", True, by="sun", now=now)
        await book.set_active("sun", False, by="zhou", now=now)


async def test_a_one_time_password_opens_nothing_but_the_choice_of_another(
    clock: FakeClock, tmp_path: Path
) -> None:
    async with console(clock, tmp_path) as c:
        async with client() as http:
            await sign_in(http, c.base, "zhou")
            _, page = await _post(
                http, c, "/users", "/users", name="sun", role="supervisor", reason="new"
            )
        password = SECRET.search(page).group(1)  # type: ignore[union-attr]
        async with client() as http:
            response = await sign_in(http, c.base, "sun", password)
            assert response.headers["Location"].startswith("/password?next=")
            for path in ("/", "/ledger", "/month", "/users"):
                async with http.get(c.base + path, allow_redirects=False) as r:
                    assert r.status == 303 and r.headers["Location"].startswith("/password")
            async with http.get(f"{c.base}/password") as r:
                token = csrf_of(await r.text())
            async with http.get(f"{c.base}/api/violations") as r:
                assert r.status == 401  # nor the API with the session's cookie
            async with http.post(
                f"{c.base}/api/violations/1/confirm",
                json={"reason": "x"},
                headers={"X-CSRF-Token": token},
            ) as r:
                assert r.status == 401


async def test_guessing_the_current_password_is_held_off(clock: FakeClock, tmp_path: Path) -> None:
    async with console(clock, tmp_path) as c, client() as http:
        await sign_in(http, c.base, "chen")
        new = {"password": "a new long password", "again": "a new long password"}
        for _ in range(5):
            status, page = await _post(http, c, "/password", "/password", current="guess", **new)
            assert status == 400 and "(current: " in page
        status, _ = await _post(http, c, "/password", "/password", current=PASSWORD, **new)
        assert status == 429  # even the right one, for now
        c.clock.advance(timedelta(minutes=2))
        status, _ = await _post(http, c, "/password", "/password", current=PASSWORD, **new)
        assert status == 303


async def test_a_database_that_cannot_record_the_sign_in_still_lets_people_in(
    clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last sign-in time is for the users page: a database that reads but cannot be
    written (a full disk) must not turn signing in into a 500."""

    async def full(*_: object) -> None:
        raise OperationalError("UPDATE users", {}, Exception("database or disk is full"))

    async with console(clock, tmp_path) as c:
        monkeypatch.setattr(c.daemon.console.users, "signed_in", full)
        async with client() as http:
            r = await sign_in(http, c.base, "chen")
            assert r.status == 303
            async with http.get(f"{c.base}/month") as page:
                assert page.status == 200


async def test_a_lead_demoted_loses_the_user_pages_at_once(
    clock: FakeClock, tmp_path: Path
) -> None:
    """SPEC §8: only a lead manages users. A role applies from the person's next request, so
    a demoted lead's open session is refused the user pages and their forms straight away."""
    async with console(clock, tmp_path) as c:
        book = UserBook(c.daemon.engine, CHEAP)
        now = clock.now()
        roster = c.daemon.settings.roster
        await book.set_role("chen", "lead", by="zhou", now=now, roster=roster, reason="cover")
        li = await _id(c, "li")
        async with client() as chen:
            await sign_in(chen, c.base, "chen")
            async with chen.get(f"{c.base}/users") as r:
                assert r.status == 200
            await book.set_role(
                "chen", "supervisor", by="zhou", now=now, roster=roster, reason="back"
            )
            async with chen.get(f"{c.base}/users") as r:
                assert r.status == 403
            status, _ = await _post(chen, c, "/month", f"/users/{li}/disable", reason="x")
            assert status == 403
        assert (await book.by_name("li")).active
