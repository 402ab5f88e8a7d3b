"""The team lead's notices of the rules about people at their posts (SPEC §3 CS108, CS112):
CS112 is a warning about the team that names the agent; CS108 belongs to no shop. Neither
subject has a buyer, and the wording says so rather than "(buyer )" or "in shop :"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from checks.cs108_handover_not_written import MissingHandoverEvidence
from checks.cs112_worked_too_long import StintEvidence
from checks.subject import Breach, Subject
from daemon.alerts.notice import at_risk_notice, violation_notice

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)


def notice_of(shop: str, breach: Breach) -> dict[str, str]:
    notice = violation_notice(
        shop=shop,
        breach=breach,
        violation_id=1,
        escalated=False,
        detected_at=NOW,
        now=NOW,
        timezone=TZ,
        url=None,
    )
    return {
        "severity": notice.severity,
        "agent": str(notice.agent),
        "text": "\n".join((notice.title, notice.summary, notice.description, notice.evidence)),
    }


def test_a_stint_too_long_is_a_warning_about_the_team_naming_the_agent() -> None:
    stint = Breach(
        subject=Subject(rule="CS112", type="stint", id="a1@2026-11-10T00:00:00Z", buyer_id=""),
        deadline=NOW,
        agent=None,
        shift="day",
        tier=None,
        points=0,
        fine=Decimal(0),
        final=True,
        evidence=StintEvidence(agent="a1", start="2026-11-10T08:00:00+08:00"),
    )
    found = notice_of("s", stint)
    assert (found["severity"], found["agent"]) == ("warning", "None")
    text = found["text"]
    assert "a1 online from 08:00" in text and "team level" in text
    assert "店铺 s" in text and "in shop s:" in text
    assert "买家" not in text and "buyer" not in text


def test_a_missing_handover_note_is_the_teams_not_a_shops() -> None:
    missing = Breach(
        subject=Subject(rule="CS108", type="shift", id="night@2026-11-09", buyer_id=""),
        deadline=NOW,
        agent="a3",
        shift="night",
        tier=None,
        points=5,
        fine=Decimal(30),
        final=True,
        evidence=MissingHandoverEvidence(shift="night", day="2026-11-09"),
    )
    text = notice_of("", missing)["text"]
    assert "团队的班次 night@2026-11-09违反" in text and "in the team: shift" in text
    assert "· 团队 ·" in text
    assert "店铺" not in text and "in shop" not in text and "buyer" not in text
    due = at_risk_notice(
        shop="",
        rule="CS108",
        subject_type="shift",
        subject_id="night@2026-11-10",
        buyer_id="",
        deadline=NOW,
        warn_before=timedelta(minutes=15),
        now=NOW,
        timezone=TZ,
        url=None,
    )
    words = "\n".join((due.title, due.summary, due.description))
    assert "团队" in words and "In the team, shift night@2026-11-10 is due" in words
    assert "店铺" not in words and "buyer" not in words


def test_a_buyers_subject_still_names_its_shop_and_buyer() -> None:
    due = at_risk_notice(
        shop="s",
        rule="CS101",
        subject_type="order",
        subject_id="o-1",
        buyer_id="b-1",
        deadline=NOW,
        warn_before=timedelta(minutes=15),
        now=NOW,
        timezone=TZ,
        url=None,
    )
    assert "店铺 s 的" in due.description and "（买家 b-1）" in due.description
    assert "In shop s, " in due.description and " (buyer b-1) is due" in due.description
