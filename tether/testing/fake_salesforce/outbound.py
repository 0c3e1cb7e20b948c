"""Outbound Messages: rules, the notification queue, delivery with backoff, and a log.

A rule fires on a matching create or edit (Salesforce workflow evaluation criteria) unless
the change was made by the rule's integration user.  The queued notification references
the record, so delivery sends the record's *latest* state, as Salesforce does.  Delivery
happens when the test calls :meth:`OutboundMessenger.deliver_due` (the loopback server calls
it on a timer); failed messages are retried with exponential backoff on the org clock,
capped at two hours, and dropped after 24 hours.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field as dataclass_field
from typing import Any, Callable, Mapping, Sequence

from .outbound_soap import CONTENT_TYPE, RenderedNotification, is_ack, render_message
from .store import Change
from .table import Table
from .transports import HttpTransport, Transport
from .values import text_value

TRIGGERS = ("created", "created_or_edited", "created_or_edited_to_meet")
Criteria = Callable[[Mapping[str, Any]], bool]


@dataclass
class OutboundRule:
    """One workflow rule with its Outbound Message action."""

    name: str
    object_name: str
    fields: list[str]
    endpoint_url: str
    criteria: str | Criteria | None = None
    trigger: str = "created_or_edited"
    include_session_id: bool = False
    integration_user_id: str | None = None
    session_user_id: str | None = None
    api_version: str = "59.0"
    max_notifications: int = 100
    active: bool = True
    action_id: str = ""
    _matcher: Any = dataclass_field(default=None, repr=False)


@dataclass
class Notification:
    notification_id: str
    rule: OutboundRule
    record_id: str
    queued_ms: int
    next_attempt_ms: int
    attempts: int = 0
    state: str = "pending"  # pending | delivered | dropped


@dataclass
class DeliveryAttempt:
    """One POST of one message (or a drop decision), for tests to assert on."""

    at_ms: int
    rule: str
    endpoint_url: str
    notification_ids: list[str]
    record_ids: list[str]
    status: int | None
    acked: bool
    error: str | None = None
    request_body: bytes = b""
    response_body: bytes | None = None
    duplicate: bool = False
    dropped: bool = False
    headers: dict[str, str] = dataclass_field(default_factory=dict)


class _RecordMatcher:
    """Evaluates a SOQL WHERE fragment against a record dict (new or previous values)."""

    def __init__(self, org: Any, rule: OutboundRule) -> None:
        from .soql_eval import compile_query

        definition = org.schema.get(rule.object_name)
        self.scratch = Table(definition)
        self.scratch.append({"Id": "000000000000000AAA"})
        real = org.store

        class ScratchStore:
            schema = real.schema
            locate = staticmethod(real.locate)

            @staticmethod
            def table(name: str) -> Table:
                return self.scratch if name.lower() == definition.name.lower() else real.table(name)

        self.compiled = compile_query(f"SELECT Id FROM {definition.name} WHERE {rule.criteria}", ScratchStore, org.clock)

    def __call__(self, record: Mapping[str, Any]) -> bool:
        for name, column in self.scratch.columns.items():
            column[0] = record.get(name)
        return bool(self.compiled.predicate(0))


class OutboundMessenger:
    """Rules, queue, delivery and the delivery log of one org."""

    def __init__(self, org: Any, *, transport: Transport | None = None, seed: int = 0) -> None:
        self._org = org
        self.rules: list[OutboundRule] = []
        self.queue: list[Notification] = []
        self.log: list[DeliveryAttempt] = []
        self.transport: Transport = transport or HttpTransport()
        self.retry_base_seconds = 2.0
        self.retry_max_seconds = 7200.0
        self.ttl_seconds = 86400.0
        self.timeout_seconds = 60.0
        self.duplicate_rate = 0.0
        self.out_of_order = False
        self._random = random.Random(seed)
        self._delivery_lock = threading.Lock()

    # -------------------------------------------------------------- rules
    def add_rule(self, rule: OutboundRule) -> OutboundRule:
        """Register a rule; SOQL criteria are validated now (QueryError on a bad fragment)."""
        definition = self._org.schema.get(rule.object_name)
        if definition is None:
            raise KeyError(f"unknown object {rule.object_name}")
        if rule.trigger not in TRIGGERS:
            raise ValueError(f"trigger must be one of {TRIGGERS}")
        rule.object_name = definition.name
        canonical = []
        for name in rule.fields:
            field = definition.field(name)
            if field is None:
                raise KeyError(f"unknown field {rule.object_name}.{name}")
            canonical.append(field.name)
        rule.fields = canonical
        rule.max_notifications = max(1, min(100, rule.max_notifications))
        rule.action_id = rule.action_id or self._org.ids.next_id("04k")
        rule.session_user_id = rule.session_user_id or self._org.admin_user_id
        if isinstance(rule.criteria, str):
            rule._matcher = _RecordMatcher(self._org, rule)
        elif callable(rule.criteria):
            rule._matcher = rule.criteria
        self.rules.append(rule)
        return rule

    def on_change(self, change: Change) -> None:
        """Store listener: queue a notification for every rule the change satisfies."""
        if change.kind not in ("create", "update"):
            return
        for rule in self.rules:
            if not rule.active or rule.object_name != change.object_name:
                continue
            if rule.integration_user_id and change.user_id[:15] == rule.integration_user_id[:15]:
                continue
            if rule.trigger == "created" and change.kind != "create":
                continue
            located = self._org.store.locate(change.record_id)
            if located is None:
                continue
            table, row = located
            record = table.record(row)
            if rule._matcher is not None and not rule._matcher(record):
                continue
            if rule.trigger == "created_or_edited_to_meet" and change.kind == "update" and rule._matcher is not None \
                    and rule._matcher(change.old or {}):
                continue
            now = self._org.clock.now_ms()
            self.queue.append(Notification(self._org.ids.next_id("04l"), rule, change.record_id, now, now))

    # -------------------------------------------------------------- delivery
    def pending(self) -> list[Notification]:
        return [n for n in self.queue if n.state == "pending"]

    def deliver_due(self) -> list[DeliveryAttempt]:
        """Send every notification whose (re)try time has come; returns this round's log entries."""
        with self._delivery_lock:
            messages, round_log = self._prepare_round()
            for rule, batch, body, headers in messages:
                round_log += self._send(rule, batch, body, headers)
            return round_log

    def _prepare_round(self) -> tuple[list[tuple[OutboundRule, list[Notification], bytes, dict[str, str]]],
                                      list[DeliveryAttempt]]:
        org = self._org
        round_log: list[DeliveryAttempt] = []
        with org.lock:
            now = org.clock.now_ms()
            due: list[Notification] = []
            for notification in self.queue:
                if notification.state != "pending" or notification.next_attempt_ms > now:
                    continue
                if now - notification.queued_ms >= self.ttl_seconds * 1000:
                    notification.state = "dropped"
                    entry = DeliveryAttempt(now, notification.rule.name, notification.rule.endpoint_url,
                                            [notification.notification_id], [notification.record_id], None, False,
                                            error="older than 24 hours", dropped=True)
                    self.log.append(entry)
                    round_log.append(entry)
                    continue
                due.append(notification)
            self.queue = [n for n in self.queue if n.state == "pending"]
            if self.out_of_order:
                self._random.shuffle(due)
            messages = []
            for rule in self.rules:
                mine = [n for n in due if n.rule is rule]
                for start in range(0, len(mine), rule.max_notifications):
                    batch = mine[start:start + rule.max_notifications]
                    body = self._render(rule, batch)
                    messages.append((rule, batch, body, {"Content-Type": CONTENT_TYPE, "SOAPAction": '""'}))
            if self.out_of_order:
                self._random.shuffle(messages)
        return messages, round_log

    def _render(self, rule: OutboundRule, batch: Sequence[Notification]) -> bytes:
        org = self._org
        definition = org.schema.get(rule.object_name)
        ordered = ["Id"] + sorted((f for f in rule.fields if f != "Id"), key=str.lower)
        rendered = []
        for notification in batch:
            located = org.store.locate(notification.record_id)
            if located is None or located[0].is_deleted(located[1]):
                # "If the record is deleted before the notification is delivered, the notification contains no data".
                fields = [("Id", notification.record_id)]
            else:
                table, row = located
                fields = []
                for name in ordered:
                    value = table.columns[name][row] if name in table.columns else None
                    if value is not None:
                        fields.append((name, text_value(definition.fields[name].type, value)))
            rendered.append(RenderedNotification(notification.notification_id, fields))
        session_id = org.auth.issue_session(rule.session_user_id, "outbound") if rule.include_session_id else None
        org15 = org.org_id[:15]
        return render_message(
            organization_id=org.org_id, action_id=rule.action_id, session_id=session_id,
            enterprise_url=f"{org.instance_url}/services/Soap/c/{rule.api_version}/{org15}",
            partner_url=f"{org.instance_url}/services/Soap/u/{rule.api_version}/{org15}",
            object_name=definition.name, notifications=rendered)

    def _send(self, rule: OutboundRule, batch: list[Notification], body: bytes,
              headers: dict[str, str]) -> list[DeliveryAttempt]:
        entries = [self._post(rule, batch, body, headers, duplicate=False)]
        org = self._org
        with org.lock:
            now = org.clock.now_ms()
            for notification in batch:
                notification.attempts += 1
                if entries[0].acked:
                    notification.state = "delivered"
                else:
                    delay = min(self.retry_base_seconds * 2 ** (notification.attempts - 1), self.retry_max_seconds)
                    notification.next_attempt_ms = now + int(delay * 1000)
            if entries[0].acked:
                self.queue = [n for n in self.queue if n.state == "pending"]
        if entries[0].acked and self.duplicate_rate and self._random.random() < self.duplicate_rate:
            entries.append(self._post(rule, batch, body, headers, duplicate=True))
        return entries

    def _post(self, rule: OutboundRule, batch: list[Notification], body: bytes, headers: dict[str, str],
              duplicate: bool) -> DeliveryAttempt:
        status: int | None = None
        response: bytes | None = None
        error: str | None = None
        try:
            status, response = self.transport(rule.endpoint_url, body, headers, self.timeout_seconds)
        except Exception as exc:  # noqa: BLE001 - any transport failure is a failed delivery
            error = f"{type(exc).__name__}: {exc}"
        acked = status is not None and is_ack(status, response)
        if error is None and not acked:
            error = f"HTTP {status}: not an acknowledgement"
        entry = DeliveryAttempt(self._org.clock.now_ms(), rule.name, rule.endpoint_url,
                                [n.notification_id for n in batch], [n.record_id for n in batch], status, acked,
                                error=None if acked else error, request_body=body, response_body=response,
                                duplicate=duplicate, headers=dict(headers))
        with self._org.lock:
            self.log.append(entry)
        return entry

    # -------------------------------------------------------------- assertions
    def delivered(self) -> list[DeliveryAttempt]:
        """Log entries of acknowledged deliveries (including duplicates)."""
        return [entry for entry in self.log if entry.acked]

    def next_retry_ms(self) -> int | None:
        """When the earliest pending notification comes due (None when the queue is empty)."""
        pending = self.pending()
        return min(n.next_attempt_ms for n in pending) if pending else None
