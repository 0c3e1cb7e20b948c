"""Salesforce activities ⇄ Timeline activities: what the inbound and outbound transforms add.

Inbound (records already mapped to tether fields, the raw record under ``_source``):

- **OpportunityHistory** rows become milestones, subject "Stage changed to <stage>"
  (Timeline leaves out a milestone that repeats its opportunity's previous one, which is
  what a save that changed only the amount or the close date produces);
- **Events** without a Type are meetings;
- **Tasks** need nothing: ``Type`` (Call, Email, Meeting) is the activity type, else
  ``TaskSubtype`` (Call, Email), else Timeline's default (Update).

Outbound: an activity logged in tether has happened, so its Task is pushed
``Completed`` (Salesforce's default status would show it as an open to-do).
"""

from __future__ import annotations

from typing import Any

MILESTONE = "Milestone"
STAGE_SUBJECT = "Stage changed to {stage}"
COMPLETED = "Completed"


def inbound(object_name: str, records: list[dict[str, Any]]) -> None:
    name = object_name.lower()
    if name == "opportunityhistory":
        for record in records:
            stage = record.get("subject")
            if not stage:
                record["_skip"] = True  # a history row of an amount change on a record without a stage
                continue
            record["subject"] = STAGE_SUBJECT.format(stage=stage)
            record["type"] = MILESTONE
    elif name == "event":
        for record in records:
            if not record.get("type"):
                record["subtype"] = "Meeting"


def outbound(object_name: str, records: list[dict[str, Any]]) -> None:
    if object_name.lower() != "task":
        return
    for record in records:
        record.setdefault("Status", COMPLETED)
