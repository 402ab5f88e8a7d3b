"""The console over HTTP: who sees what (an agent never another agent's violations), every
form's CSRF token, the actions with the signed-in name as ``by``, closing the month."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import aiohttp

from daemon.store.users import UserBook
from tests.conftest import FakeClock
from tests.daemon.shop import local

from .support import Console, client, console, csrf_of, sign_in

AUTH = {"Authorization": "Bearer test-token"}


async def _manual(c: Console, agent: str, hhmm: str, rule: str = "M204", points: int = 5) -> int:
    v = await c.daemon.ledger.add_manual(
        shop="s",
        rule=rule,
        agent=agent,
        at=local(c.clock.now(), hhmm),
        points=points,
        fine=Decimal(0),
        note="seen by the supervisor",
        by="chen",
        now=c.clock.now(),
    )
    return int(v["id"])


async def _post(
    http: aiohttp.ClientSession, c: Console, page: str, action: str, **form: str
) -> aiohttp.ClientResponse:
    async with http.get(c.base + page) as r:
        token = csrf_of(await r.text())
    response = await http.post(c.base + action, data={"csrf": token, **form}, allow_redirects=False)
    await response.read()
    return response


async def test_an_agent_sees_only_their_own_violations(clock: FakeClock, tmp_path: Path) -> None:
    async with console(clock, tmp_path) as c:
        own = 1  # the story's CS101 o-1, attributed to a1
        theirs = await _manual(c, "a2", "09:00")
        team = next(v["id"] for v in await c.daemon.ledger.find() if v["agent"] is None)
        async with client() as http:
            assert (await sign_in(http, c.base, "li")).status == 303
            async with http.get(f"{c.base}/ledger") as r:
                page = await r.text()
                assert r.status == 200
                assert f'href="/violations/{own}"' in page
                assert f'href="/violations/{theirs}"' not in page
                assert f'href="/violations/{team}"' not in page
            # Asking for another agent's listing still lists only their own.
            async with http.get(f"{c.base}/ledger", params={"agent": "a2"}) as r:
                page = await r.text()
                assert f'href="/violations/{theirs}"' not in page
                assert f'href="/violations/{own}"' in page
            for path in (f"/violations/{theirs}", f"/violations/{team}", "/agents/a2"):
                async with http.get(c.base + path) as r:
                    assert r.status == 404, path  # not even that it exists
            async with http.get(f"{c.base}/violations/{own}") as r:
                assert r.status == 200
            for path in ("/month", "/month/2026-11/scorecard.csv", "/leaves"):
                async with http.get(c.base + path) as r:
                    assert r.status == 403, path
            # The JSON API takes no agent's session (machines use tokens): the cookie opens
            # nothing there that a request without it would not get.
            for path in ("/api/violations", f"/api/violations/{theirs}"):
                async with aiohttp.ClientSession() as anonymous, anonymous.get(c.base + path) as r:
                    without = r.status
                async with http.get(c.base + path) as r:
                    assert r.status == without, path
            async with http.post(
                f"{c.base}/api/violations/{theirs}/appeal", json={"by": "a2", "reason": "x"}
            ) as r:
                assert r.status == 401
            # Nor may they act on another agent's violation through a forged form.
            r = await _post(
                http, c, f"/violations/{own}", f"/violations/{theirs}/appeal", reason="not me"
            )
            assert r.status == 404


async def test_the_agent_appeals_and_the_supervisor_decides(
    clock: FakeClock, tmp_path: Path
) -> None:
    async with console(clock, tmp_path) as c:
        async with client() as http:
            await sign_in(http, c.base, "li")
            page = "/violations/1"
            r = await _post(http, c, page, "/violations/1/appeal", reason="")
            assert r.status == 400  # a reason is required
            async with http.post(
                f"{c.base}/violations/1/appeal", data={"reason": "paid by phone"}
            ) as r:
                assert r.status == 403  # no CSRF token
            r = await _post(http, c, page, "/violations/1/appeal", reason="paid by phone")
            assert r.status == 303
            async with http.get(c.base + page) as r:
                text = await r.text()
                assert "已申诉" in text and "申诉中" in text
                assert 'action="/violations/1/appeal"' not in text  # once only
            r = await _post(http, c, page, "/violations/1/confirm", reason="no")
            assert r.status == 403  # an agent does not decide
        violation = await c.daemon.ledger.get(1)
        assert violation["status"] == "appealed"
        assert violation["audit"][-1]["by"] == "li"  # the signed-in name
        async with client() as http:
            await sign_in(http, c.base, "chen")
            r = await _post(http, c, page, "/violations/1/confirm", reason="")
            assert r.status == 400
            r = await _post(http, c, page, "/violations/1/waive", reason="the buyer paid by phone")
            assert r.status == 303
        decided = await c.daemon.ledger.get(1)
        assert decided["status"] == "waived"
        assert datetime.fromisoformat(decided["audit"][-1]["at"]) == c.clock.now()
        assert decided["audit"][-1] == {
            "at": decided["audit"][-1]["at"],
            "action": "waived",
            "by": "chen",
            "reason": "the buyer paid by phone",
            "details": {"from": "appealed"},
        }


async def test_a_closed_month_is_frozen_and_refuses_changes_everywhere(
    clock: FakeClock, tmp_path: Path
) -> None:
    async with console(clock, tmp_path) as c:
        target = await _manual(c, "a2", "09:00")
        async with client() as http:
            await sign_in(http, c.base, "chen")
            before = await (await http.get(f"{c.base}/api/scorecard?month=2026-11")).json()
            r = await _post(http, c, "/month?month=2026-11", "/month/2026-11/close", reason="")
            assert r.status == 400
            r = await _post(
                http, c, "/month?month=2026-11", "/month/2026-11/close", reason="pay done"
            )
            assert r.status == 303
            async with http.get(f"{c.base}/month?month=2026-11") as r:
                text = await r.text()
                assert "本月已结账" in text and "由 chen" in text
            # The page of one of its violations offers nothing to do and says why.
            async with http.get(f"{c.base}/violations/{target}") as r:
                text = await r.text()
                assert "已结账" in text and 'action="/violations/' not in text
            # A form loaded before the closing is refused, with the reason, and a 409.
            async with http.get(f"{c.base}/ledger") as r:
                token = csrf_of(await r.text())
            async with http.post(
                f"{c.base}/violations/{target}/waive",
                data={"csrf": token, "reason": "late"},
                allow_redirects=False,
            ) as r:
                assert r.status == 409
                text = await r.text()
                assert "本月已结账" in text and "month 2026-11 is closed" in text
            # The JSON API and the ledger refuse it too.
            async with http.post(
                f"{c.base}/api/violations/{target}/waive",
                json={"by": "chen", "reason": "late"},
                headers=AUTH,
            ) as r:
                assert r.status == 409
                assert (await r.json())["field"] == "month"
            # Bonuses and adjustments of the month are refused as well.
            r = await _post(
                http,
                c,
                "/ledger",
                "/month/2026-11/adjustment",
                agent="a1",
                value="2",
                reason="helped",
            )
            assert r.status == 409
            # A supervisor cannot reopen it.
            r = await _post(http, c, "/ledger", "/month/2026-11/reopen", reason="a mistake")
            assert r.status == 403
            # The scorecard is served as it was at closing, whatever is recorded later.
            await c.daemon.ledger.add_manual(
                shop="s",
                rule="M204",
                agent="a1",
                at=local(c.clock.now(), "09:30") + timedelta(days=30),
                points=5,
                fine=Decimal(0),
                note=None,
                by="chen",
                now=c.clock.now(),
            )
            after = await (await http.get(f"{c.base}/api/scorecard?month=2026-11")).json()
            assert after == before
            async with http.get(f"{c.base}/month/2026-11/scorecard.csv") as r:
                assert r.status == 200
                assert r.headers["Content-Disposition"].endswith('scorecard-2026-11.csv"')
                csv = (await r.read()).decode("utf-8-sig")
                assert csv.splitlines()[0].startswith("month,agent,name,score,grade")
        async with client() as http:
            await sign_in(http, c.base, "zhou")  # the lead
            r = await _post(http, c, "/month?month=2026-11", "/month/2026-11/reopen", reason="")
            assert r.status == 400
            r = await _post(
                http, c, "/month?month=2026-11", "/month/2026-11/reopen", reason="a wrong fine"
            )
            assert r.status == 303
        assert (
            await c.daemon.ledger.set_status(
                target, "waived", by="chen", reason="late", now=c.clock.now()
            )
        )["status"] == "waived"
        trail = await c.daemon.console.months.audit("2026-11")  # type: ignore[union-attr]
        assert [(e["action"], e["by"], e["reason"]) for e in trail] == [
            ("closed", "chen", "pay done"),
            ("reopened", "zhou", "a wrong fine"),
        ]


async def test_sign_in_is_throttled_and_sessions_end(clock: FakeClock, tmp_path: Path) -> None:
    async with console(clock, tmp_path) as c, client() as http:
        for _ in range(5):
            assert (await sign_in(http, c.base, "chen", "wrong password")).status == 401
        held = await sign_in(http, c.base, "chen")  # the right one, but held off
        assert held.status == 429 and int(held.headers["Retry-After"]) > 0
        c.clock.advance(timedelta(minutes=2))
        assert (await sign_in(http, c.base, "chen")).status == 303
        async with http.get(f"{c.base}/ledger", allow_redirects=False) as r:
            assert r.status == 200
        c.clock.advance(timedelta(hours=2, minutes=1))  # idle too long
        async with http.get(f"{c.base}/ledger", allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"].startswith("/login")
        assert (await sign_in(http, c.base, "chen")).status == 303
        book = UserBook(c.daemon.engine)
        await book.set_password("chen", "another long password", by="t", now=c.clock.now())
        async with http.get(f"{c.base}/ledger", allow_redirects=False) as r:
            assert r.status == 303  # a new password ends every session
        await book.set_active("li", False, by="t", now=c.clock.now())
        assert (await sign_in(http, c.base, "li")).status == 401


async def test_a_session_opens_the_api_only_for_deciders_with_csrf(
    clock: FakeClock, tmp_path: Path
) -> None:
    async with console(clock, tmp_path) as c, client() as http:
        await sign_in(http, c.base, "chen")
        async with http.get(f"{c.base}/ledger") as r:
            token = csrf_of(await r.text())
        async with http.get(f"{c.base}/api/violations") as r:
            assert r.status == 200
        body = {"by": "someone else", "reason": "checked"}
        async with http.post(f"{c.base}/api/violations/2/confirm", json=body) as r:
            assert r.status == 401  # a cookie alone never writes
        async with http.post(
            f"{c.base}/api/violations/2/confirm", json=body, headers={"X-CSRF-Token": token}
        ) as r:
            assert r.status == 200
            assert (await r.json())["audit"][-1]["by"] == "chen"


async def test_chinese_by_default_english_on_request(clock: FakeClock, tmp_path: Path) -> None:
    async with console(clock, tmp_path) as c, client() as http:
        async with http.get(f"{c.base}/login") as r:
            text = await r.text()
            assert 'lang="zh-CN"' in text and "登录" in text
        await sign_in(http, c.base, "chen")
        async with http.get(f"{c.base}/violations/1") as r:
            text = await r.text()
            assert "未及时催付" in text and "证据时间线" in text
            assert "2026年11月2日" in text  # Babel's zh_CN date
        async with http.get(
            f"{c.base}/lang/en", params={"next": "/violations/1"}, allow_redirects=False
        ) as r:
            assert r.headers["Location"] == "/violations/1"
        async with http.get(f"{c.base}/lang/en", params={"next": "//evil.example"}) as r:
            assert str(r.url).startswith(c.base)  # never off the site
        async with http.get(f"{c.base}/violations/1") as r:
            text = await r.text()
            assert 'lang="en"' in text and "Evidence timeline" in text
            assert "unpaid order not chased" in text.lower()
            assert "Nov 2, 2026" in text


async def test_the_timeline_shows_what_the_rule_saw(clock: FakeClock, tmp_path: Path) -> None:
    async with console(clock, tmp_path) as c:
        timeline = await _timeline(c, 1)
        kinds = [e.kind for e in timeline.entries]
        assert "deadline" in kinds and "watermark" in kinds and "order" in kinds
        messages = [e for e in timeline.entries if e.kind == "message"]
        assert any(m.title == "m-10" and m.who == "a1" and m.cited for m in messages)
        team = await _timeline(
            c, next(v["id"] for v in await c.daemon.ledger.find() if v["subject"]["id"] == "o-4")
        )
        auto = [e for e in team.entries if e.kind == "message" and e.automatic]
        assert auto and auto[0].text == "自动回复"
        assert [e.at for e in timeline.entries] == sorted(e.at for e in timeline.entries)


async def _timeline(c: Console, violation_id: int):  # type: ignore[no-untyped-def]
    from daemon.console.timeline import build_timeline

    return await build_timeline(c.daemon.engine, await c.daemon.ledger.get(violation_id))


async def test_handover_book_and_leaves(clock: FakeClock, tmp_path: Path) -> None:
    async with console(clock, tmp_path) as c:
        async with client() as http:
            await sign_in(http, c.base, "li")
            r = await _post(
                http,
                c,
                "/handovers",
                "/handovers",
                shift="day",
                day="2026-11-02",
                text="买家 b-1 等退款",
            )
            assert r.status == 303
            async with http.get(f"{c.base}/handovers") as r:
                assert "买家 b-1 等退款" in await r.text()
        async with client() as http:
            await sign_in(http, c.base, "chen")
            r = await _post(
                http,
                c,
                "/leaves",
                "/leaves",
                agent="a2",
                **{"from": "2026-11-03T08:30", "until": "2026-11-03T17:30"},
                reason="病假",
            )
            assert r.status == 303
        found = await c.daemon.console.people.leaves(agent="a2")  # type: ignore[union-attr]
        assert found[0].by == "chen" and found[0].reason == "病假"
        assert found[0].start.isoformat() == "2026-11-03T00:30:00+00:00"


async def test_a_supervisor_records_a_violation_by_hand(clock: FakeClock, tmp_path: Path) -> None:
    async with console(clock, tmp_path) as c:
        async with client() as http:
            await sign_in(http, c.base, "chen")
            page = "/month?month=2026-11"
            r = await _post(
                http,
                c,
                page,
                "/month/2026-11/violation",
                agent="a2",
                code="M204",
                at="2026-11-02T08:45",
                points="5",
                reason="迟到 15 分钟",
            )
            assert r.status == 303
            r = await _post(
                http,
                c,
                page,
                "/month/2026-11/violation",
                agent="a2",
                code="NOPE",
                at="2026-11-02T08:45",
                reason="x",
            )
            assert r.status == 400
        found = await c.daemon.ledger.find(agent="a2")
        assert [(v["rule"], v["source"], v["note"]) for v in found] == [
            ("M204", "manual", "迟到 15 分钟")
        ]
        assert found[0]["deadline"] == "2026-11-02T00:45:00+00:00"
        assert (await c.daemon.ledger.get(found[0]["id"]))["audit"][0]["by"] == "chen"


async def test_the_month_page_follows_every_change_of_the_ledger(
    clock: FakeClock, tmp_path: Path
) -> None:
    """The page keeps a computed scorecard only while nothing it reads has changed: a
    decision made elsewhere (the API, the CLI) shows at the next view."""
    async with console(clock, tmp_path) as c:
        target = await _manual(c, "a2", "09:00")
        async with client() as http:
            await sign_in(http, c.base, "chen")

            async def score() -> str:
                async with http.get(f"{c.base}/month?month=2026-11") as r:
                    page = await r.text()
                row = page[page.index('href="/agents/a2') :]
                return row[row.index('class="num score">') + 18 :].split("<", 1)[0]

            assert await score() == "75"
            assert await score() == "75"  # (kept)
            await c.daemon.ledger.set_status(
                target, "waived", by="x", reason="y", now=c.clock.now()
            )
            assert await score() == "80"
            await c.daemon.ledger.add_manual(
                shop="s",
                rule="M204",
                agent="a2",
                at=local(c.clock.now(), "09:10"),
                points=2,
                fine=Decimal(0),
                note=None,
                by="x",
                now=c.clock.now(),
            )
            assert await score() == "78"
