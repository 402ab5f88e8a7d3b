"""The demo's simulated shop: deterministic for a seed, and every rule finds something in the
history it back-fills at start, so ``make demo`` shows each situation within its first minute.

The back-filled world is judged directly with the rules (as the daemon would once its
watermarks have caught up), on the demo's own shifts and agents, at a few times of day.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from checks.business_time import BusinessCalendar
from checks.evidence import Evidence, StreamBounds, Watermarks
from checks.registry import BY_CODE
from checks.subject import Breach, Outcome, Satisfied
from connectors.model import Message, Order
from daemon.config.settings import load
from daemon.demo import write_demo_config
from daemon.simulator.scenario import BLUNT, CLOSINGS, OTHER_CUSTOMERS_PHONE, Scenario
from daemon.simulator.world import World, message_json, order_json

NOWS = [
    datetime(2026, 11, 4, 6, 0, tzinfo=UTC),  # Wednesday 14:00 in Shanghai
    datetime(2026, 11, 8, 0, 30, tzinfo=UTC),  # Sunday 08:30, as the day shift starts
    datetime(2026, 11, 9, 15, 0, tzinfo=UTC),  # Monday 23:00, in the night shift
]


@dataclass
class Backfilled:
    world: World
    outcomes: dict[str, list[Outcome]]

    def breaches(self, code: str) -> list[Breach]:
        return [o for o in self.outcomes[code] if isinstance(o, Breach)]


@pytest.fixture(scope="module")
def demo_calendar(tmp_path_factory: pytest.TempPathFactory) -> tuple[BusinessCalendar, list[str]]:
    settings = load(write_demo_config(tmp_path_factory.mktemp("demo")))
    return settings.calendar(), [agent.id for agent in settings.agents]


def backfill(calendar: BusinessCalendar, agents: list[str], now: datetime) -> World:
    world = World()
    scenario = Scenario(world, calendar, agents)
    scenario.backfill(now)
    scenario.step(now)
    return world


def judge(world: World, calendar: BusinessCalendar, now: datetime) -> dict[str, list[Outcome]]:
    orders: dict[str, list[Order]] = defaultdict(list)
    messages: dict[str, list[Message]] = defaultdict(list)
    for order in world.orders.values():
        orders[order.buyer_id].append(order)
    for msg in world.messages.values():
        messages[msg.buyer_id].append(msg)
    bounds = StreamBounds(history_start=now - timedelta(hours=48), watermark=now)
    marks = Watermarks(orders=bounds, chat=bounds)
    found: dict[str, list[Outcome]] = defaultdict(list)
    for buyer in sorted(set(orders) | set(messages)):
        evidence = Evidence(
            buyer_id=buyer,
            orders=orders[buyer],
            messages=messages[buyer],
            calendar=calendar,
            watermarks=marks,
            now=now,
        )
        for code in ("CS101", "CS102", "CS103", "CS104", "CS105"):
            rule = BY_CODE[code]
            found[code] += rule.evaluate(evidence, rule.options_type())
    return found


@pytest.fixture(scope="module", params=NOWS, ids=lambda now: now.strftime("%a-%H%MZ"))
def backfilled(
    request: pytest.FixtureRequest, demo_calendar: tuple[BusinessCalendar, list[str]]
) -> Backfilled:
    calendar, agents = demo_calendar
    now: datetime = request.param
    world = backfill(calendar, agents, now)
    return Backfilled(world=world, outcomes=judge(world, calendar, now))


def test_the_same_seed_builds_the_same_shop(
    demo_calendar: tuple[BusinessCalendar, list[str]],
) -> None:
    calendar, agents = demo_calendar

    def snapshot() -> tuple[list[dict[str, object]], list[dict[str, object]]]:
        world = backfill(calendar, agents, NOWS[0])
        return (
            [order_json(o) for o in sorted(world.orders.values(), key=lambda o: o.id)],
            [message_json(m) for m in sorted(world.messages.values(), key=lambda m: m.id)],
        )

    assert snapshot() == snapshot()


@pytest.mark.parametrize("code", ["CS101", "CS102", "CS103", "CS105"])
def test_every_rule_finds_violations_and_subjects_in_order(
    backfilled: Backfilled, code: str
) -> None:
    outcomes = backfilled.outcomes[code]
    assert backfilled.breaches(code)
    assert any(isinstance(o, Satisfied) for o in outcomes)


def test_buyers_wait_in_time_and_at_every_tier_of_cs104(backfilled: Backfilled) -> None:
    tiers = Counter(b.tier for b in backfilled.breaches("CS104"))
    assert set(tiers) == {1, 2, 3}
    answered = [b for b in backfilled.breaches("CS104") if b.evidence.reply is not None]
    assert {b.tier for b in answered} == {1, 2, 3}  # 5, 15/25 and 40 min late
    assert any(b.evidence.reply is None and b.final for b in backfilled.breaches("CS104"))
    satisfied = [o for o in backfilled.outcomes["CS104"] if isinstance(o, Satisfied)]
    assert len(satisfied) > sum(tiers.values())  # most buyers are answered in time


def test_closing_words_are_sent_and_never_a_subject(backfilled: Backfilled) -> None:
    closing = [m for m in backfilled.world.messages.values() if m.text in CLOSINGS]
    assert closing
    subjects = {o.subject.id for o in backfilled.outcomes["CS104"]}
    subjects |= {o.subject.id for o in backfilled.outcomes["CS102"]}
    assert not subjects & {m.id for m in closing}


def test_paid_orders_are_confirmed_by_template_by_agent_or_not_at_all(
    backfilled: Backfilled,
) -> None:
    checks = [m for m in backfilled.world.messages.values() if "核对" in m.text]
    assert any(m.is_auto for m in checks) and any(m.is_agent_message for m in checks)
    assert len(backfilled.breaches("CS105")) < len(backfilled.outcomes["CS105"]) / 3


def test_agents_sometimes_answer_bluntly(backfilled: Backfilled) -> None:
    blunt = [m for m in backfilled.world.messages.values() if m.text in BLUNT]
    assert blunt and all(m.is_agent_message for m in blunt)


def test_an_agent_pastes_another_customers_phone_number(backfilled: Backfilled) -> None:
    world = backfilled.world
    digits = re.sub(r"\D", "", OTHER_CUSTOMERS_PHONE)
    pasted = [m for m in world.messages.values() if OTHER_CUSTOMERS_PHONE in m.text]
    assert pasted and all(m.is_agent_message for m in pasted)
    for msg in pasted:
        own = [o for o in world.orders.values() if o.buyer_id == msg.buyer_id]
        notes = " ".join(f"{o.buyer_message or ''} {o.seller_memo or ''}" for o in own)
        assert digits not in re.sub(r"\D", "", notes)
    # ...and sometimes the buyer's own number, from the order's memo: no disclosure.
    assert any(
        "139 " in m.text and m.is_agent_message and "电话" in m.text
        for m in world.messages.values()
    )
