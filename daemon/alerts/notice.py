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

import math
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from checks.registry import BY_CODE
from checks.subject import Breach

VIOLATION = "violation"
AT_RISK = "at_risk"
ALERT_NAMES = {VIOLATION: "ShopwatchViolation", AT_RISK: "ShopwatchAtRisk"}
TEAM_LABEL = "customer-service"
NO_AGENT = "team"

RULE_NAMES_ZH = {
    "CS101": "未及时催付",
    "CS102": "离线留言未优先回复",
    "CS103": "已付款订单未备注",
    "CS104": "买家消息未及时回复",
    "CS105": "未发送订单核对信息",
    "CS106": "使用禁用语",
    "CS107": "泄露买家信息",
    "CS108": "交接班未写交接记录",
    "CS109": "当班离岗超时",
    "CS110": "无客服在线",
}
#: What to do about an at-risk subject, per rule (zh, en).
ACTIONS = {
    "CS101": ("请联系买家催付", "chase the buyer for payment"),
    "CS102": ("请优先回复离线留言", "answer the offline message first"),
    "CS103": ("请填写卖家备注（忙时可先插旗）", "write the seller memo (or star the order first)"),
    "CS104": ("请回复买家", "reply to the buyer"),
    "CS105": ("请发送订单核对信息", "send the order check message"),
}
SUBJECT_WORDS = {
    "order": ("订单", "order"),
    "episode": ("离线留言", "offline message"),
    "message": ("消息", "message"),
    "conversation": ("会话", "conversation"),
    "shift": ("班次", "shift"),
    "agent": ("客服", "agent"),
    "subject": ("对象", "subject"),
}
#: An open item does not carry its subject's type; the rules' subjects are fixed per rule.
SUBJECT_TYPES = {"CS101": "order", "CS102": "episode", "CS103": "order", "CS105": "order"}
#: Rules whose every violation needs the team lead now (SPEC §3: data secrecy, nobody online).
CRITICAL_RULES = frozenset({"CS107", "CS110"})


def severity_of(rule: str) -> str:
    """Fixed per rule: it is a label, and a label that changed on escalation would make
    Alertmanager see a second alert next to the first."""
    return "critical" if rule in CRITICAL_RULES else "warning"


def rule_title(rule: str) -> tuple[str, str]:
    registered = BY_CODE.get(rule)
    english = registered.name if registered else rule
    return RULE_NAMES_ZH.get(rule, english), english


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
        if self.kind == VIOLATION:
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


def _clock(moment: datetime | str | None, timezone: ZoneInfo, now: datetime | None = None) -> str:
    """``10:05``, or ``11-02 10:05`` when not on the same local day as ``now``."""
    if moment is None:
        return "?"
    if isinstance(moment, str):
        try:
            instant = datetime.fromisoformat(moment)
        except ValueError:
            return moment
    else:
        instant = moment
    local = instant.astimezone(timezone)
    if now is not None and now.astimezone(timezone).date() == local.date():
        return local.strftime("%H:%M")
    return local.strftime("%m-%d %H:%M")


def _subject(subject_type: str, subject_id: str) -> tuple[str, str]:
    zh, en = SUBJECT_WORDS.get(subject_type, (subject_type, subject_type))
    return f"{zh} {subject_id}", f"{en} {subject_id}"


def _money(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


def _minutes(seconds: float) -> int:
    return max(1, math.ceil(seconds / 60))


def evidence_summary(evidence: dict[str, Any], timezone: ZoneInfo, now: datetime) -> str:
    """The facts a deduction rests on, in two short lines (the ledger has the full record)."""
    zh: list[str] = []
    en: list[str] = []

    def at(value: Any) -> str:
        return _clock(value, timezone, now)

    order = evidence.get("order")
    if isinstance(order, dict):
        versions = len(order.get("versions") or [])
        for key, word_zh, word_en in (
            ("created_at", "下单", "placed"),
            ("paid_at", "付款", "paid"),
        ):
            if order.get(key):
                zh.append(f"订单 {order.get('id')} {at(order[key])} {word_zh}")
                en.append(f"order {order.get('id')} {word_en} {at(order[key])}")
        if order.get("buyer_message"):
            zh.append(f"买家留言「{str(order['buyer_message'])[:40]}」")
            en.append(f"buyer note “{str(order['buyer_message'])[:40]}”")
        zh.append(f"观察到 {versions} 个订单版本")
        en.append(f"{versions} order version(s) observed")
    episode = evidence.get("episode")
    if isinstance(episode, list) and episode:
        first = episode[0] or {}
        zh.append(
            f"离线留言 {len(episode)} 条，首条 {first.get('id')} 于 {at(first.get('sent_at'))}"
        )
        en.append(
            f"{len(episode)} offline message(s), first {first.get('id')} at "
            f"{at(first.get('sent_at'))}"
        )
    if "reply" in evidence:
        reply = evidence["reply"]
        if isinstance(reply, dict):
            zh.append(
                f"回复 {reply.get('id')}（{reply.get('agent_id')}，{at(reply.get('sent_at'))}）"
            )
            en.append(
                f"answered by {reply.get('agent_id')} at {at(reply.get('sent_at'))} "
                f"({reply.get('id')})"
            )
        else:
            zh.append("尚未回复")
            en.append("not answered yet")
    lateness = evidence.get("lateness_seconds")
    if isinstance(lateness, int | float) and lateness > 0:
        zh.append(f"超时 {_minutes(lateness)} 分钟")
        en.append(f"{_minutes(lateness)} min late")
    state = evidence.get("state_at_deadline")
    if isinstance(state, dict):
        memo = state.get("seller_memo") or "空"
        zh.append(f"截止时卖家备注：{memo}，旗标 {state.get('seller_flag')}")
        en.append(
            f"at the deadline: seller memo {state.get('seller_memo') or 'empty'}, "
            f"flag {state.get('seller_flag')}"
        )
    if "last_agent_message" in evidence:
        last = evidence["last_agent_message"]
        if isinstance(last, dict):
            zh.append(
                f"截止前最后一条客服消息 {last.get('id')}（{last.get('agent_id')}，"
                f"{at(last.get('sent_at'))}）"
            )
            en.append(
                f"last agent message before the deadline {last.get('id')} by "
                f"{last.get('agent_id')} at {at(last.get('sent_at'))}"
            )
        else:
            zh.append("截止前无客服消息")
            en.append("no agent message before the deadline")
    known = {
        "order",
        "episode",
        "reply",
        "lateness_seconds",
        "state_at_deadline",
        "last_agent_message",
        "watermarks",
        "within_seconds",
        "first_deadline",
        "extended_to_shift_end",
    }
    for key in sorted(set(evidence) - known):  # rules added later: at least name the facts
        value = evidence[key]
        if isinstance(value, str | int | float | bool) or value is None:
            zh.append(f"{key}: {value}")
            en.append(f"{key}: {value}")
    text = "；".join(zh) + "\n" + "; ".join(en)
    return text if len(text) <= 800 else text[:797] + "…"


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
    what_zh, what_en = _subject(subject.type, subject.id)
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
    deadline = _clock(breach.deadline, timezone, now)
    title = f"【{head_zh}】{subject.rule} {name_zh} · {shop} · {what_zh}"
    summary = (
        f"【{head_zh} {head_en}】{subject.rule} {name_zh} / {name_en} — 店铺 {shop}，"
        f"{what_zh}，{who_zh}"
    )
    description = (
        f"店铺 {shop} 的{what_zh}（买家 {subject.buyer_id}）违反 {subject.rule}「{name_zh}」："
        f"截止 {deadline}，{_clock(detected_at, timezone, now)} 发现。{who_zh}{shift_zh}。"
        f"{tier_zh}扣 {breach.points} 分{fine_zh}。可在台账中确认或豁免（需填写理由）。\n"
        f"{head_en} of {subject.rule} ({name_en}) in shop {shop}: {what_en} "
        f"(buyer {subject.buyer_id}) was due at {deadline} and the breach was detected at "
        f"{_clock(detected_at, timezone, now)}; {who_en}{shift_en}; {tier_en}"
        f"{breach.points} point(s){fine_en}. Confirm or waive it (with a reason) in the ledger. "
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
        evidence=evidence_summary(breach.evidence, timezone, now),
        url=url,
        violation_id=violation_id,
        tier=breach.tier,
        points=breach.points,
        fine=fine,
        escalated=escalated,
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
    what_zh, what_en = _subject(subject_type, subject_id)
    do_zh, do_en = ACTIONS.get(rule, ("请尽快处理", "handle it now"))
    due = _clock(deadline, timezone, now)
    title = f"【即将超时】{rule} {name_zh} · {shop} · {what_zh} · {due} 到期"
    summary = (
        f"【即将超时 At risk】{rule} {name_zh} / {name_en} — 店铺 {shop}，{what_zh}，{due} 到期 due"
    )
    description = (
        f"店铺 {shop} 的{what_zh}（买家 {buyer_id}）将于 {due} 到期，届时将记为 {rule}"
        f"「{name_zh}」违规。{do_zh}。\n"
        f"In shop {shop}, {what_en} (buyer {buyer_id}) is due at {due} and becomes a "
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
        evidence=f"截止 {due}；提前 {_minutes(warn_before.total_seconds())} 分钟预警\n"
        f"due {due}; warned {_minutes(warn_before.total_seconds())} min ahead",
        url=url,
    )
