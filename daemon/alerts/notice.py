"""What shopwatch tells the team lead, worded for a team lead, in Chinese and English.

A :class:`Notice` is rendered once, when the evaluator reports a violation or an at-risk
subject, and stored as JSON with what was sent (:mod:`daemon.alerts.state`): a re-send after
a restart says exactly what the first send said. Alertmanager alerts and the webhook
messages are all built from it.

Alert labels identify an alert, so they hold only what never changes for a subject: shop,
rule, subject id, the responsible agent (roster id or ``team``), severity and team. The
subject id is fine as an alert label (alerts are not metric series; there is one per
violation anyway) and lets Alertmanager tell two violations of one rule apart. Tier, points
and times change or are details: they are annotations.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from checks.evidence_record import local_clock, minutes
from checks.registry import BY_CODE, for_review
from checks.rule import SUBJECT_WORDS, Rule, Severity
from checks.subject import Breach

VIOLATION = "violation"
AT_RISK = "at_risk"
RESOLVED = "resolved"
"""A lasting violation (nobody reachable) is over: told to webhooks, which cannot resolve
a message the way Alertmanager resolves an alert."""
ALERT_NAMES = {
    VIOLATION: "ShopwatchViolation",
    AT_RISK: "ShopwatchAtRisk",
    RESOLVED: "ShopwatchViolation",
}
TEAM_LABEL = "customer-service"
NO_AGENT = "team"


def _rule(code: str) -> Rule | None:
    return BY_CODE.get(code)


def severity_of(rule: str) -> str:
    """The rule's own, fixed severity (an alert label must not change on escalation)."""
    registered = _rule(rule)
    return registered.severity.value if registered else Severity.WARNING.value


def rule_title(rule: str) -> tuple[str, str]:
    registered = _rule(rule)
    return registered.title if registered else (rule, rule)


def subject_type_of(rule: str) -> str:
    """An open item does not carry its subject's type; each rule's subjects have one."""
    registered = _rule(rule)
    return registered.subject_type if registered else "subject"


@dataclass(frozen=True, kw_only=True)
class Notice:
    kind: str
    shop: str
    rule: str
    subject_type: str
    subject_id: str
    buyer_id: str | None
    agent: str | None
    shift: str | None
    severity: str
    deadline: datetime
    starts_at: datetime
    """Alertmanager's startsAt: detection time, or when the subject became at risk. Derived
    from stored facts only, so every re-send (also after a restart) carries the same one."""
    title: str
    summary: str
    description: str
    evidence: str
    url: str | None = None
    violation_id: int | None = None
    tier: int | None = None
    points: int | None = None
    fine: str | None = None
    escalated: bool = False

    @property
    def alertname(self) -> str:
        return ALERT_NAMES[self.kind]

    def labels(self) -> dict[str, str]:
        labels = {
            "alertname": self.alertname,
            "shop": self.shop,
            "rule": self.rule,
            "subject": self.subject_id,
            "severity": self.severity,
            "team": TEAM_LABEL,
        }
        if self.kind in (VIOLATION, RESOLVED):
            labels["agent"] = self.agent or NO_AGENT
        return labels

    def annotations(self, timezone: ZoneInfo) -> dict[str, str]:
        notes = {
            "summary": self.summary,
            "description": self.description,
            "evidence": self.evidence,
            "deadline": self.deadline.astimezone(timezone).isoformat(),
        }
        if self.buyer_id:
            notes["buyer_id"] = self.buyer_id
        for key in ("violation_id", "tier", "points", "fine"):
            value = getattr(self, key)
            if value is not None:
                notes[key] = str(value)
        return notes

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["deadline"] = self.deadline.isoformat()
        data["starts_at"] = self.starts_at.isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Notice:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["deadline"] = datetime.fromisoformat(values["deadline"])
        values["starts_at"] = datetime.fromisoformat(values["starts_at"])
        return cls(**values)


# ---- wording ----


def _clock(moment: datetime, timezone: ZoneInfo, now: datetime) -> str:
    return local_clock(timezone, now)(moment.isoformat())


def _subject(rule: str, subject_type: str, subject_id: str) -> tuple[str, str]:
    registered = _rule(rule)
    if registered is not None and registered.subject_type == subject_type:
        zh, en = registered.subject_words
    else:
        zh, en = SUBJECT_WORDS.get(subject_type, ("对象", "subject"))
    return f"{zh} {subject_id}", f"{en} {subject_id}"


def _place(shop: str, buyer_id: str | None) -> tuple[str, str, str, str]:
    """Where a subject is, in words: its shop (the team's for CS108, which has none) and,
    for a buyer's subject, the buyer (the rules about people have none)."""
    where_zh, where_en = (f"店铺 {shop}", f"shop {shop}") if shop else ("团队", "the team")
    buyer_zh, buyer_en = (f"（买家 {buyer_id}）", f" (buyer {buyer_id})") if buyer_id else ("", "")
    return where_zh, where_en, buyer_zh, buyer_en


def _of(where_zh: str) -> str:
    """``where_zh`` with 的: spaced after a shop's id ("店铺 s1 的"), not after "团队"."""
    return f"{where_zh}的" if where_zh == "团队" else f"{where_zh} 的"


def _money(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


def violation_notice(
    *,
    shop: str,
    breach: Breach,
    violation_id: int,
    escalated: bool,
    detected_at: datetime,
    now: datetime,
    timezone: ZoneInfo,
    url: str | None,
) -> Notice:
    subject = breach.subject
    name_zh, name_en = rule_title(subject.rule)
    what_zh, what_en = _subject(subject.rule, subject.type, subject.id)
    who_zh = f"责任人 {breach.agent}" if breach.agent else "责任人：当班团队（无法归属个人）"
    who_en = f"agent {breach.agent}" if breach.agent else "team level (no single agent)"
    shift_zh = f"，班次 {breach.shift}" if breach.shift else ""
    shift_en = f", shift {breach.shift}" if breach.shift else ""
    tier_zh = f"第 {breach.tier} 档，" if breach.tier else ""
    tier_en = f"tier {breach.tier}, " if breach.tier else ""
    fine = _money(breach.fine)
    fine_zh = f"，罚款 {fine} 元" if breach.fine else ""
    fine_en = f", fine {fine} CNY" if breach.fine else ""
    head_zh = "违规升级" if escalated else "违规"
    head_en = "Escalated violation" if escalated else "Violation"
    review = for_review(subject.rule)
    act_zh = "可在台账中确认或豁免（需填写理由）。"
    act_en = "Confirm or waive it (with a reason) in the ledger."
    if review:
        head_zh, head_en = f"待审核{head_zh}", f"{head_en} to review"
        act_zh = "该规则的违规需主管审核：确认后才计分，或填写理由豁免。"
        act_en = (
            "This rule's violations need a supervisor's review: they count only once "
            "confirmed, or waive it with a reason."
        )
    deadline = _clock(breach.deadline, timezone, now)
    where_zh, where_en, buyer_zh, buyer_en = _place(shop, subject.buyer_id)
    title = f"【{head_zh}】{subject.rule} {name_zh} · {shop or '团队'} · {what_zh}"
    summary = (
        f"【{head_zh} {head_en}】{subject.rule} {name_zh} / {name_en} — {where_zh}，"
        f"{what_zh}，{who_zh}"
    )
    description = (
        f"{_of(where_zh)}{what_zh}{buyer_zh}违反 {subject.rule}「{name_zh}」："
        f"截止 {deadline}，{_clock(detected_at, timezone, now)} 发现。{who_zh}{shift_zh}。"
        f"{tier_zh}扣 {breach.points} 分{fine_zh}。{act_zh}\n"
        f"{head_en} of {subject.rule} ({name_en}) in {where_en}: {what_en}"
        f"{buyer_en} was due at {deadline} and the breach was detected at "
        f"{_clock(detected_at, timezone, now)}; {who_en}{shift_en}; {tier_en}"
        f"{breach.points} point(s){fine_en}. {act_en} "
        f"Times are {timezone.key}."
    )
    return Notice(
        kind=VIOLATION,
        shop=shop,
        rule=subject.rule,
        subject_type=subject.type,
        subject_id=subject.id,
        buyer_id=subject.buyer_id,
        agent=breach.agent,
        shift=breach.shift,
        severity=severity_of(subject.rule),
        deadline=breach.deadline,
        starts_at=detected_at,
        title=title,
        summary=summary,
        description=description,
        evidence=breach.evidence.summarize(timezone, now),
        url=url,
        violation_id=violation_id,
        tier=breach.tier,
        points=breach.points,
        fine=fine,
        escalated=escalated,
    )


def resolved_notice(
    announced: Notice, *, ended_at: datetime, now: datetime, timezone: ZoneInfo
) -> Notice:
    """The end of a lasting violation whose start was announced (SPEC §3 CS110: "resolved
    when an agent comes online"), worded from what was announced."""
    name_zh, name_en = rule_title(announced.rule)
    what_zh, what_en = _subject(announced.rule, announced.subject_type, announced.subject_id)
    ended = _clock(ended_at, timezone, now)
    lasted = minutes((ended_at - announced.deadline).total_seconds())
    where_zh, where_en, _, _ = _place(announced.shop, None)
    title = f"【已恢复】{announced.rule} {name_zh} · {announced.shop or '团队'} · {what_zh}"
    summary = f"【已恢复 Resolved】{announced.rule} {name_zh} / {name_en} — {where_zh}，{what_zh}"
    review = for_review(announced.rule)
    left_zh = "违规仍在台账中，等待主管审核。" if review else "违规仍在台账中。"
    left_en = (
        "The violation stays in the ledger for a supervisor's review."
        if review
        else "The violation stays in the ledger."
    )
    description = (
        f"{_of(where_zh)}{what_zh}已结束：{ended} 起又有客服在线"
        f"（截止后又持续 {lasted} 分钟）。{left_zh}\n"
        f"Resolved: {announced.rule} ({name_en}) in {where_en}, {what_en}, ended at "
        f"{ended}, when an agent was online again ({lasted} min after its deadline). {left_en} "
        f"Times are {timezone.key}."
    )
    return replace(
        announced,
        kind=RESOLVED,
        title=title,
        summary=summary,
        description=description,
        escalated=False,
    )


def at_risk_notice(
    *,
    shop: str,
    rule: str,
    subject_type: str,
    subject_id: str,
    buyer_id: str,
    deadline: datetime,
    warn_before: timedelta,
    now: datetime,
    timezone: ZoneInfo,
    url: str | None,
) -> Notice:
    name_zh, name_en = rule_title(rule)
    what_zh, what_en = _subject(rule, subject_type, subject_id)
    registered = _rule(rule)
    do_zh, do_en = registered.action if registered else ("请尽快处理", "handle it now")
    due = _clock(deadline, timezone, now)
    where_zh, where_en, buyer_zh, buyer_en = _place(shop, buyer_id)
    title = f"【即将超时】{rule} {name_zh} · {shop or '团队'} · {what_zh} · {due} 到期"
    summary = (
        f"【即将超时 At risk】{rule} {name_zh} / {name_en} — {where_zh}，{what_zh}，{due} 到期 due"
    )
    description = (
        f"{_of(where_zh)}{what_zh}{buyer_zh}将于 {due} 到期，届时将记为 {rule}"
        f"「{name_zh}」违规。{do_zh}。\n"
        f"In {where_en}, {what_en}{buyer_en} is due at {due} and becomes a "
        f"{rule} ({name_en}) violation then: {do_en}. Times are {timezone.key}."
    )
    return Notice(
        kind=AT_RISK,
        shop=shop,
        rule=rule,
        subject_type=subject_type,
        subject_id=subject_id,
        buyer_id=buyer_id,
        agent=None,
        shift=None,
        severity="warning",
        deadline=deadline,
        starts_at=deadline - warn_before,
        title=title,
        summary=summary,
        description=description,
        evidence=f"截止 {due}；提前 {minutes(warn_before.total_seconds())} 分钟预警\n"
        f"due {due}; warned {minutes(warn_before.total_seconds())} min ahead",
        url=url,
    )
