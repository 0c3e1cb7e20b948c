"""Booking types from rules over Type, RecordType and Stage."""

from __future__ import annotations

from decimal import Decimal

from tether.plugins.salesforce.booking import BookingRules, rule_problems


def opp(type_=None, stage=None, **mapped):
    return {"opportunity_type": type_, "stage": stage, **mapped,
            "_source": {"Type": type_, "StageName": stage, "RecordTypeId": mapped.pop("record_type_id", None)}}


def test_default_rules_cover_salesforces_default_types():
    rules = BookingRules(None)
    assert rules.classify([
        opp("New Customer"), opp("Existing Customer - Upgrade"), opp("Existing Customer - Downgrade"),
        opp("Renewal", is_closed=False, is_won=False), opp("Renewal", is_closed=True, is_won=False),
        opp("Existing Customer - Replacement"), opp(None), opp("Something else"),
    ]) == ["new_business", "upsell", "downsell", "renewal", "churn", "renewal", None, None]


def test_renewals_split_into_upsell_and_downsell_against_the_target():
    rules = BookingRules(None)
    assert rules.classify([
        opp("Renewal", target_amount=Decimal("100"), forecast_amount=Decimal("120")),
        opp("Renewal", target_amount=Decimal("100"), forecast_amount=Decimal("80")),
        opp("Renewal", target_amount=Decimal("100"), forecast_amount=Decimal("100")),
        opp("Renewal", target_amount=Decimal("100"), is_closed=True, is_won=True, final_amount=Decimal("130"),
            forecast_amount=Decimal("90")),
        opp("Renewal", target_amount=Decimal("100"), amount=Decimal("90")),
    ]) == ["renewal_upsell", "renewal_downsell", "renewal", "renewal_upsell", "renewal_downsell"]


def test_admin_rules_by_record_type_and_stage_first_match_wins():
    rules = BookingRules([
        {"booking_type": "churn", "when": {"RecordTypeId": ["012RENEWAL"], "StageName": ["Closed Lost"]}},
        {"booking_type": "renewal", "when": {"RecordTypeId": "012renewal"}},
        {"booking_type": "new_business", "when": {"stage": ["prospecting", "qualification"]}},
    ])
    assert rules.classify([
        opp(None, "Closed Lost", record_type_id="012RENEWAL"), opp(None, "Prospecting", record_type_id="012RENEWAL"),
        opp(None, "Qualification"), opp("New Customer", "Closed Won"),
    ]) == ["churn", "renewal", "new_business", None]


def test_rule_problems_name_the_rule_and_field():
    assert rule_problems([{"booking_type": "debook", "when": {"Type": ["x"]}}, {"booking_type": "renewal"},
                          "nope", {"booking_type": "upsell", "when": {"Type": "x"}, "colour": "red"}]) == [
        "booking_type_rules[0].booking_type: 'debook' is not one of new_business, renewal, upsell, downsell, "
        "renewal_upsell, renewal_downsell, churn",
        "booking_type_rules[1].when: must map at least one field to its accepted values",
        "booking_type_rules[2]: must be a mapping with booking_type and when",
        "booking_type_rules[3]: unknown keys colour",
    ]
