"""Reproducible, realistic org data: account hierarchies, opportunity lifecycles, history, activities.

Each account gets a *story*: a new-business opportunity; if won, a renewal every year after
(the latest one still open when it closes in the future) and occasional upsells.  Every
opportunity gets its stage history (``OpportunityHistory``) and some tasks and events.
Accounts form hierarchies up to five levels deep.  The same ``seed`` and clock give the
same org.  Rows are built as tuples and loaded column-wise, which is what makes a
million opportunities take seconds rather than minutes.
"""

from __future__ import annotations

import gc
import random
import time
from dataclasses import dataclass, field as dataclass_field
from datetime import datetime, timedelta, timezone
from operator import itemgetter
from typing import Any

DAY_MS = 86_400_000
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_PREFIXES = ["Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Tyrell", "Cyberdyne", "Soylent", "Vandelay",
             "Hooli", "Pied Piper", "Aperture", "Black Mesa", "Wonka", "Gringotts", "Oscorp", "Nakatomi", "Massive",
             "Dunder", "Sterling", "Prestige", "Monarch", "Blue Sun", "Virtucon", "Gekko", "Bluth", "Sirius", "Zorg",
             "Nimbus", "Vector", "Orbit", "Summit", "Harbor", "Granite", "Juniper", "Falcon", "Atlas", "Beacon"]
_CORES = ["Logistics", "Analytics", "Foods", "Robotics", "Health", "Energy", "Systems", "Media", "Capital",
          "Biotech", "Retail", "Aerospace", "Software", "Manufacturing", "Telecom", "Insurance", "Motors", "Labs"]
_SUFFIXES = ["Inc.", "LLC", "Ltd", "GmbH", "SA", "Corp.", "Group", "Holdings", "plc", "AG"]
_REGIONS = ["EMEA", "APAC", "North America", "LATAM", "Nordics", "DACH", "UK&I", "France", "Japan", "ANZ",
            "West", "East", "Central", "Benelux", "Iberia"]
_CITIES = [("San Francisco", "CA", "USA"), ("New York", "NY", "USA"), ("Austin", "TX", "USA"),
           ("London", None, "United Kingdom"), ("Paris", None, "France"), ("Berlin", None, "Germany"),
           ("Tokyo", None, "Japan"), ("Sydney", "NSW", "Australia"), ("Toronto", "ON", "Canada"),
           ("São Paulo", "SP", "Brazil"), ("Madrid", None, "Spain"), ("Stockholm", None, "Sweden")]
_PRODUCTS = ["Platform", "Analytics Add-on", "Premium Support", "Seats Expansion", "Data Cloud", "Integration Pack"]
_TASK_SUBJECTS = ["Call", "Send quote", "Follow up", "Email", "Demo", "QBR prep", "Send contract", "Check in"]
_FIRST = ["Ada", "Grace", "Alan", "Linus", "Margaret", "Ken", "Barbara", "Dennis", "Frances", "Edsger", "Radia",
          "Guido", "Katherine", "Tim", "Hedy", "Donald", "Anita", "Bjarne", "Sophie", "Yukihiro"]
_LAST = ["Lovelace", "Hopper", "Turing", "Torvalds", "Hamilton", "Thompson", "Liskov", "Ritchie", "Allen",
         "Dijkstra", "Perlman", "van Rossum", "Johnson", "Berners-Lee", "Lamarr", "Knuth", "Borg", "Stroustrup",
         "Wilson", "Matsumoto"]
_OPEN_PATH = ["Prospecting", "Qualification", "Needs Analysis", "Value Proposition", "Id. Decision Makers",
              "Perception Analysis", "Proposal/Price Quote", "Negotiation/Review"]


def _gather(values: list[Any], indexes: list[int]) -> list[Any]:
    """``[values[i] for i in indexes]`` at C speed."""
    if len(indexes) < 2:
        return [values[i] for i in indexes]
    return list(itemgetter(*indexes)(values))


@dataclass
class SeedSummary:
    """What was generated, and how long it took."""

    counts: dict[str, int] = dataclass_field(default_factory=dict)
    seconds: float = 0.0


class _Stamps:
    """Epoch ms → stored datetime text from cached day prefixes and time-of-day pieces
    (``strftime`` per row would dominate seeding); date strings are shared per day."""

    _seconds: list[str] = []
    _millis = [f"{i:03d}Z" for i in range(1000)]

    def __init__(self) -> None:
        if not _Stamps._seconds:
            _Stamps._seconds = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}." for s in range(86400)]
        self._days: dict[int, str] = {}
        self._dates: dict[int, str] = {}

    def __call__(self, ms: int) -> str:
        day, rest = divmod(ms, DAY_MS)
        prefix = self._days.get(day)
        if prefix is None:
            prefix = self._days[day] = (_EPOCH + timedelta(days=day)).strftime("%Y-%m-%dT")
        second, millis = divmod(rest, 1000)
        return prefix + self._seconds[second] + self._millis[millis]

    def date(self, ms: int) -> str:
        day = ms // DAY_MS
        text = self._dates.get(day)
        if text is None:
            text = self._dates[day] = (_EPOCH + timedelta(days=day)).strftime("%Y-%m-%d")
        return text


def generate(org: Any, *, seed: int = 0, opportunities: int = 1000, accounts: int | None = None,
             users: int = 20, max_depth: int = 5, years: float = 3.0, contacts_per_account: float = 1.0,
             tasks_per_opportunity: float = 0.5, events_per_opportunity: float = 0.1,
             stage_history: bool = True) -> SeedSummary:
    """Fill ``org`` with a realistic, reproducible book of business (bypasses API checks and events)."""
    started = time.perf_counter()
    rng = random.Random(seed)
    stamps = _Stamps()
    now = org.clock.now_ms()
    accounts = accounts if accounts is not None else max(10, opportunities // 8)
    summary = SeedSummary()
    # Millions of new tuples would trigger the cyclic GC over and over; none of them form cycles.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        _fill(org, rng, stamps, now, summary, opportunities, accounts, users, max_depth, years, contacts_per_account,
              tasks_per_opportunity, events_per_opportunity, stage_history)
    finally:
        if gc_was_enabled:
            gc.enable()
    summary.seconds = time.perf_counter() - started
    return summary


def _fill(org: Any, rng: random.Random, stamps: "_Stamps", now: int, summary: SeedSummary, opportunities: int,
          accounts: int, users: int, max_depth: int, years: float, contacts_per_account: float,
          tasks_per_opportunity: float, events_per_opportunity: float, stage_history: bool) -> None:
    with org.lock:
        owner_ids = [org.add_user(f"rep{i}@fake-org.tether.test", first_name=rng.choice(_FIRST),
                                  last_name=rng.choice(_LAST)) for i in range(users)]
        record_types = {name: org.add_record_type("Opportunity", name)
                        for name in ("New Business", "Renewal", "Upsell")}
        account_ids, account_created = _accounts(org, rng, stamps, now, accounts, owner_ids, max_depth, years)
        summary.counts["Account"] = len(account_ids)
        summary.counts["Contact"] = _contacts(org, rng, stamps, account_ids, account_created, owner_ids,
                                              contacts_per_account, now)
        opps = _opportunities(org, rng, stamps, now, opportunities, account_ids, account_created, owner_ids,
                              record_types, stage_history)
        summary.counts.update(opps)
        summary.counts.update(_activities(org, rng, stamps, now, owner_ids, tasks_per_opportunity,
                                          events_per_opportunity))


def _system(ids: list[str], created: list[str], modified: list[str], by: list[str]) -> dict[str, list[Any]]:
    return {"Id": ids, "IsDeleted": [False] * len(ids), "CreatedDate": created, "LastModifiedDate": modified,
            "SystemModstamp": modified, "CreatedById": by, "LastModifiedById": by}


def _accounts(org: Any, rng: random.Random, stamps: _Stamps, now: int, count: int, owners: list[str],
              max_depth: int, years: float) -> tuple[list[str], list[int]]:
    ids = org.ids.next_ids("001", count)
    span = int(years * 365 * DAY_MS)
    created_ms = sorted(now - span - 90 * DAY_MS + rng.randrange(span) for _ in range(count))
    parents: list[str | None] = []
    names: list[str] = []
    depth: list[int] = []
    eligible: list[int] = []
    for index in range(count):
        if index == 0 or rng.random() < 0.4 or not eligible:
            parent = None
            level = 0
            names.append(f"{rng.choice(_PREFIXES)} {rng.choice(_CORES)} {rng.choice(_SUFFIXES)}")
        else:
            # Prefer recent parents so some chains reach the full depth.
            pick = eligible[-1 - rng.randrange(min(len(eligible), 20))] if rng.random() < 0.5 else rng.choice(eligible)
            parent = ids[pick]
            level = depth[pick] + 1
            names.append(f"{names[pick].split(' - ')[0]} - {rng.choice(_REGIONS)} {index}")
        parents.append(parent)
        depth.append(level)
        if level < max_depth - 1:
            eligible.append(index)
    by = rng.choices(owners, k=count)
    cities = rng.choices(_CITIES, k=count)
    created = [stamps(ms) for ms in created_ms]
    modified = [stamps(ms + rng.randrange(max(1, now - ms))) for ms in created_ms]
    from .standard_objects import INDUSTRIES
    columns = {
        **_system(ids, created, modified, by),
        "Name": names, "ParentId": parents, "OwnerId": by,
        "Type": rng.choices(("Customer - Direct", "Customer - Direct", "Customer - Channel", "Prospect"), k=count),
        "Industry": rng.choices(INDUSTRIES, k=count),
        "BillingCity": [c[0] for c in cities], "BillingState": [c[1] for c in cities],
        "BillingCountry": [c[2] for c in cities],
        "AnnualRevenue": [float(rng.randrange(1, 5000) * 100_000) for _ in range(count)],
        "NumberOfEmployees": [rng.randrange(5, 50_000) for _ in range(count)],
        "Rating": rng.choices(("Hot", "Warm", "Cold", None), k=count),
        "Website": [f"https://www.{n.split(' - ')[0].split(' ')[0].lower()}{i}.example.com" for i, n in enumerate(names)],
    }
    org.store.load_columns("Account", columns)
    return ids, created_ms


def _contacts(org: Any, rng: random.Random, stamps: _Stamps, account_ids: list[str], account_created: list[int],
              owners: list[str], per_account: float, now: int) -> int:
    count = int(len(account_ids) * per_account)
    if not count:
        return 0
    picks = [rng.randrange(len(account_ids)) for _ in range(count)]
    first = rng.choices(_FIRST, k=count)
    last = rng.choices(_LAST, k=count)
    created_ms = [account_created[p] + rng.randrange(30 * DAY_MS) for p in picks]
    by = rng.choices(owners, k=count)
    created = [stamps(min(ms, now)) for ms in created_ms]
    columns = {
        **_system(org.ids.next_ids("003", count), created, created, by),
        "AccountId": _gather(account_ids, picks), "FirstName": first, "LastName": last,
        "Name": [f"{f} {l}" for f, l in zip(first, last)], "OwnerId": by,
        "Email": [f"{f.lower()}.{l.lower().replace(' ', '')}{i}@example.com" for i, (f, l) in enumerate(zip(first, last))],
        "Title": rng.choices(("VP Operations", "CFO", "Head of CS", "Procurement", "CTO"), k=count),
    }
    org.store.load_columns("Contact", columns)
    return count


def _opportunities(org: Any, rng: random.Random, stamps: _Stamps, now: int, target: int, account_ids: list[str],
                   account_created: list[int], owners: list[str], record_types: dict[str, str],
                   stage_history: bool) -> dict[str, int]:
    from .standard_objects import FORECAST_CATEGORY

    stages = org.store.stages
    random_ = rng.random
    kinds = ("New Business", "Renewal", "Upsell")
    # The story loop only decides the skeleton; every other column is derived in bulk below.
    account_col: list[int] = []
    kind_col: list[int] = []
    created_col: list[int] = []
    close_col: list[int] = []
    amount_col: list[float] = []
    owner_col: list[int] = []
    stage_col: list[str] = []
    modified_col: list[int] = []
    open_count = len(_OPEN_PATH)
    closed_before = now - 7 * DAY_MS

    # A hidden engagement per account drives what a renewal model should find: engaged
    # customers renew more often, accept price rises, and (in _activities) see more activity.
    engagement = org.seed_engagement = [random_() for _ in account_ids]
    win_rate = (0.45, 0.0, 0.55)  # new business, (renewal: from engagement), upsell

    def add(account: int, kind: int, created: int, close: int, amount: float, owner: int) -> bool:
        if close < closed_before:
            chance = 0.55 + 0.4 * engagement[account] if kind == 1 else win_rate[kind]
            stage = "Closed Won" if random_() < chance else "Closed Lost"
            modified = min(close + int(random_() * 3 * DAY_MS), now)
        else:
            stage = _OPEN_PATH[min(open_count - 1, int(random_() ** 0.7 * open_count))]
            modified = created + int(random_() * max(1, now - created))
        account_col.append(account)
        kind_col.append(kind)
        created_col.append(created)
        close_col.append(close)
        amount_col.append(amount)
        owner_col.append(owner)
        stage_col.append(stage)
        modified_col.append(modified)
        return stage == "Closed Won"

    account_count, owner_count = len(account_ids), len(owners)
    horizon = now - 3 * 365 * DAY_MS
    while len(stage_col) < target:
        account = int(random_() * account_count)
        owner = int(random_() * owner_count)
        start = max(account_created[account], horizon) + int(random_() * 60 * DAY_MS)
        if start >= now:
            start = now - (1 + int(random_() * 29)) * DAY_MS
        base = float(round(rng.lognormvariate(10.3, 0.9), -2) or 1000.0)
        close = start + (30 + int(random_() * 90)) * DAY_MS
        won = add(account, 0, start, close, base, owner)
        while won and len(stage_col) < target:
            renewal_close = close + 365 * DAY_MS
            if renewal_close - 120 * DAY_MS > now:
                break
            if random_() < 0.3:
                upsell_created = close + (30 + int(random_() * 270)) * DAY_MS
                if upsell_created < now:
                    add(account, 2, upsell_created, upsell_created + (20 + int(random_() * 60)) * DAY_MS,
                        float(round(base * (0.2 + random_() * 0.5), -2)), owner)
                    if len(stage_col) >= target:
                        break
            base = float(round(base * (0.9 + 0.15 * engagement[account] + random_() * 0.1), -2))
            won = add(account, 1, renewal_close - 120 * DAY_MS, renewal_close, base, owner)
            close = renewal_close

    count = len(stage_col)
    ids = org.ids.next_ids("006", count)
    close_dates = [stamps.date(ms) for ms in close_col]
    fiscal_by_date: dict[str, tuple[int, int, str]] = {}
    for text in set(close_dates):
        year, quarter = int(text[:4]), (int(text[5:7]) - 1) // 3 + 1
        fiscal_by_date[text] = (year, quarter, f"{year} {quarter}")
    fiscal_years, fiscal_quarters, fiscal = (list(c) for c in zip(*[fiscal_by_date[d] for d in close_dates]))
    facts = {name: (info["DefaultProbability"], info["ForecastCategoryName"], info["IsClosed"], info["IsWon"],
                    FORECAST_CATEGORY[info["ForecastCategoryName"]]) for name, info in stages.items()}
    probabilities, forecast_names, closed, won_col, forecast = (list(c) for c in zip(*[facts[s] for s in stage_col]))
    created = list(map(stamps, created_col))
    modified = list(map(stamps, modified_col))
    owner_ids = _gather(owners, owner_col)
    sources = ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other")
    type_labels = ("New Customer", "Renewal", "Existing Customer - Upgrade")
    record_type_ids = [record_types[kind] for kind in kinds]
    columns = {
        **_system(ids, created, modified, owner_ids),
        "AccountId": _gather(account_ids, account_col),
        "RecordTypeId": _gather(record_type_ids, kind_col),
        "Name": [f"{kinds[k]}: {_PRODUCTS[int(random_() * 6)]} {y} #{n}"
                 for n, (k, y) in enumerate(zip(kind_col, fiscal_years), start=1)],
        "StageName": stage_col, "Amount": amount_col, "Probability": probabilities,
        # Amounts are whole hundreds, so this is exact without rounding.
        "ExpectedRevenue": [a / 100 * p for a, p in zip(amount_col, probabilities)],
        "CloseDate": close_dates, "Type": _gather(list(type_labels), kind_col),
        "LeadSource": [sources[int(random_() * 5)] for _ in range(count)], "IsClosed": closed, "IsWon": won_col,
        "ForecastCategory": forecast, "ForecastCategoryName": forecast_names, "OwnerId": owner_ids,
        "FiscalYear": fiscal_years, "FiscalQuarter": fiscal_quarters, "Fiscal": fiscal,
        "IsPrivate": [False] * count, "HasOpportunityLineItem": [False] * count, "LastStageChangeDate": modified,
    }
    org.store.load_columns("Opportunity", columns)
    counts = {"Opportunity": count}
    if stage_history:
        counts["OpportunityHistory"] = _history(org, rng, stamps, columns, created_col, modified_col, facts)
    return counts


def _history(org: Any, rng: random.Random, stamps: _Stamps, opportunity: dict[str, list[Any]],
             created_ms: list[int], modified_ms: list[int], facts: dict[str, tuple[Any, ...]]) -> int:
    """First stage, up to two intermediate ones, then the current stage: a plausible, compact history."""
    random_ = rng.random
    open_count = len(_OPEN_PATH)
    created_text, modified_text = opportunity["CreatedDate"], opportunity["SystemModstamp"]
    first = _OPEN_PATH[0]
    opp_index: list[int] = []
    stage_col: list[str] = []
    stamp_col: list[str] = []
    add_index, add_stage, add_stamp = opp_index.append, stage_col.append, stamp_col.append
    position_of = {stage: position for position, stage in enumerate(_OPEN_PATH)}
    for index, final in enumerate(opportunity["StageName"]):
        add_index(index)
        add_stage(first)
        add_stamp(created_text[index])
        if final == first:
            continue
        if final == "Closed Won":
            reached = 1 + int(random_() * open_count)
        elif final == "Closed Lost":
            reached = 1 + int(random_() * 4)
        else:
            reached = position_of[final]
        start = created_ms[index]
        if reached > 1:
            two = reached > 3 and random_() < 0.5
            step = (modified_ms[index] - start) // (4 if two else 3)
            add_index(index)
            add_stage(_OPEN_PATH[1 + int(random_() * (reached - 1))])
            add_stamp(stamps(start + step))
            if two and stage_col[-1] != _OPEN_PATH[reached - 1]:
                add_index(index)
                add_stage(_OPEN_PATH[reached - 1])
                add_stamp(stamps(start + 2 * step))
        add_index(index)
        add_stage(final)
        add_stamp(modified_text[index])
    count = len(opp_index)
    probability_of = {stage: values[0] for stage, values in facts.items()}
    forecast_of = {stage: values[4] for stage, values in facts.items()}
    probabilities = list(map(probability_of.__getitem__, stage_col))
    amounts = opportunity["Amount"]
    amount_col = _gather(amounts, opp_index)
    owners = opportunity["OwnerId"]
    owner_col = _gather(owners, opp_index)
    opp_ids, close_dates = opportunity["Id"], opportunity["CloseDate"]
    columns = {
        **_system(org.ids.next_ids("008", count), stamp_col, stamp_col, owner_col),
        "OpportunityId": _gather(opp_ids, opp_index), "StageName": stage_col, "Amount": amount_col,
        "ExpectedRevenue": [a / 100 * p for a, p in zip(amount_col, probabilities)],
        "CloseDate": _gather(close_dates, opp_index), "Probability": probabilities,
        "ForecastCategory": list(map(forecast_of.__getitem__, stage_col)),
    }
    org.store.load_columns("OpportunityHistory", columns)
    return count


def _activities(org: Any, rng: random.Random, stamps: _Stamps, now: int, owners: list[str], tasks_per: float,
                events_per: float) -> dict[str, int]:
    table = org.store.table("Opportunity")
    opp_ids, account_col = table.columns["Id"], table.columns["AccountId"]
    created_col, closed_col = table.columns["CreatedDate"], table.columns["IsClosed"]
    total = len(opp_ids)
    counts = {}
    task_count = int(total * tasks_per)
    if task_count:
        random_ = rng.random
        engagement = getattr(org, "seed_engagement", None)
        account_index = {account_id: i for i, account_id in enumerate(org.store.table("Account").columns["Id"])}
        picks = []
        while len(picks) < task_count:  # engaged accounts get more of the activity
            pick = int(random_() * total)
            if engagement is None or random_() < 0.2 + 0.8 * engagement[account_index.get(account_col[pick], 0)]:
                picks.append(pick)
        due_ms = [now + (int(random_() * 430) - 400) * DAY_MS for _ in picks]
        done = [ms < now or closed_col[p] for p, ms in zip(picks, due_ms)]
        by = rng.choices(owners, k=task_count)
        created = _gather(created_col, picks)
        columns = {
            **_system(org.ids.next_ids("00T", task_count), created, created, by),
            "WhatId": _gather(opp_ids, picks), "AccountId": _gather(account_col, picks),
            "Subject": rng.choices(_TASK_SUBJECTS, k=task_count), "ActivityDate": [stamps.date(ms) for ms in due_ms],
            "Status": ["Completed" if d else "Not Started" for d in done], "IsClosed": done,
            "Priority": rng.choices(("High", "Normal", "Normal", "Low"), k=task_count), "OwnerId": by,
            "TaskSubtype": rng.choices(("Task", "Call", "Email"), k=task_count),
        }
        org.store.load_columns("Task", columns)
        counts["Task"] = task_count
    event_count = int(total * events_per)
    if event_count:
        random_ = rng.random
        picks = [int(random_() * total) for _ in range(event_count)]
        starts = [now + (int(random_() * 360) - 300) * DAY_MS + (8 + int(random_() * 10)) * 3_600_000 for _ in picks]
        by = rng.choices(owners, k=event_count)
        created = _gather(created_col, picks)
        start_text = [stamps(ms) for ms in starts]
        columns = {
            **_system(org.ids.next_ids("00U", event_count), created, created, by),
            "WhatId": _gather(opp_ids, picks), "AccountId": _gather(account_col, picks),
            "Subject": rng.choices(("Demo", "QBR", "Kickoff", "Executive briefing"), k=event_count),
            "StartDateTime": start_text, "ActivityDateTime": start_text, "ActivityDate": [s[:10] for s in start_text],
            "EndDateTime": [stamps(ms + 3_600_000) for ms in starts], "DurationInMinutes": [60] * event_count,
            "IsAllDayEvent": [False] * event_count, "OwnerId": by, "Type": ["Meeting"] * event_count,
        }
        org.store.load_columns("Event", columns)
        counts["Event"] = event_count
    return counts
