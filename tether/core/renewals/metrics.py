"""GRR and NRR in both families, each labelled, from a filled :class:`~.measures.Rollup` (no I/O).

**Renewal cohort** (Gainsight Renewal Center style): the denominator is the target amount
of renewals *due* in the period.

- GRR = Σ won renewals min(final, target) ÷ renewals due (lost renewals add 0; open ones
  are not yet renewed, see ``grr_forecast`` for them at their forecast);
- NRR = (Σ won renewals final + won upsell − won downsell) ÷ renewals due.

**ARR cohort** (finance standard): the denominator is the ARR *in force* at the period
start, taken as the target of every renewal due within one contract term of that start
(``contract_term_months``, 12 by default); movements are those of the period:

- churn = target of renewals due in the period and lost;
- contraction = shortfall of won renewals below target + won downsell bookings;
- expansion = excess of won renewals over target + won upsell bookings;
- GRR = (start − churn − contraction) ÷ start (never above 100 %);
- NRR = (start − churn − contraction + expansion) ÷ start.

Movements are classified per renewal contract, not netted per customer: a customer who
churns one product and expands another shows both. Renewals still open at the period end
count as neither (``arr_undecided`` says how much is undecided). New business is
excluded. A period with nothing due (or no contract in force) gives no rate and says so.
"""

from __future__ import annotations

from typing import Any, Sequence

from .measures import EVERY_GROUP, MEASURES, Rollup
from .periods import Period

FAMILIES = {
    "renewal_cohort": {
        "label": "Renewal cohort (Gainsight Renewal Center): rates over the value due for renewal in the period",
        "rates": ("grr", "nrr", "grr_forecast"),
        "figures": ("renewals_due", "won", "net_renewed", "renewed_or_forecast", "lost", "open", "upsell", "downsell"),
    },
    "arr_cohort": {
        "label": "ARR cohort (finance standard): retention of the ARR in force at the period start",
        "rates": ("arr_grr", "arr_nrr"),
        "figures": ("arr_start", "arr_churn", "arr_contraction", "arr_expansion", "arr_undecided",
                    "arr_retained", "arr_net_retained"),
    },
}


def family_block(rollup: Rollup, period: Period, group: Any, family: str) -> dict[str, Any]:
    spec = FAMILIES[family]
    rates = {}
    for key in spec["rates"]:
        figure = rollup.figure(key, period, group)
        rate: dict[str, Any] = {"value": figure["value"], "label": MEASURES[key].label,
                                "definition": MEASURES[key].description}
        if "note" in figure:
            rate["note"] = figure["note"]
        rates[key] = rate
    return {"label": spec["label"], "rates": rates,
            "figures": {key: rollup.value(key, period, group) for key in spec["figures"]}}


def metric_periods(rollup: Rollup, periods: Sequence[Period], *, families: Sequence[str] = tuple(FAMILIES),
                   breakdown: bool = False) -> list[dict[str, Any]]:
    result = []
    total_group = EVERY_GROUP if breakdown else None
    for period in periods:
        entry: dict[str, Any] = {"period": period.as_dict(),
                                 "families": {f: family_block(rollup, period, total_group, f) for f in families}}
        if breakdown:
            groups = []
            for group in rollup.groups:
                blocks = {f: family_block(rollup, period, group, f) for f in families}
                if any(any(v for v in block["figures"].values()) for block in blocks.values()):
                    groups.append({"group": group, "families": blocks})
            groups.sort(key=lambda g: str(g["group"]))
            entry["groups"] = groups
        result.append(entry)
    return result
