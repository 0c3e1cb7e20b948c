"""The contract suite passes a correct connector and fails, for the right reason, one that
breaks each rule."""

from __future__ import annotations

import pytest

from tether.testing.contract import CHECKS, ContractViolation, Subject
from tether.testing.contract.checks_read import check_page_shape

from tests.testing.contract.reference import MemoHarness, MemoPlugin, MemoSource, new_source


class TestReferenceConnector(MemoHarness):
    """The whole suite, as an author enables it, on the correct reference connector."""

    @pytest.fixture
    def source(self) -> MemoSource:
        return new_source()


# check → the ways of breaking it, each with the words its failure must contain.
PROOFS: dict[str, list[tuple[str, str]]] = {
    "manifest_is_valid": [("manifest_reads", "objects.reads")],
    "connector_is_offered": [("wrong_name", "calls itself 'other'")],
    "discovery": [("pk_not_a_field", "primary key 'Key' is not one of its fields")],
    "full_read": [("drops_field", "lacks requested field")],
    "cursor_order": [("unsorted", "must come in cursor order")],
    "count_matches_read": [("count_wrong", "count\\(\\) said 0 records")],
    "incremental_read": [("cursor_past_now", "skipped changed or new record")],
    "future_cursor_yields_nothing": [("ignores_unknown_cursor", "future cursor")],
    "two_full_reads_identical": [("volatile_field", "different Name")],
    "resume_from_every_page": [("skips_on_resume", "skipped")],
    "replay_same_page": [("destructive_cursor", "reading twice from cursor")],
    "write_read_back": [("write_lost", "a full read does not return it"),
                        ("upsert_duplicates", "reported created=True")],
    "write_replay_idempotent": [("upsert_duplicates", "created records instead of updating")],
    "transient_errors": [("raw_errors", "let .*SourceTimeout escape"),
                         ("transient_as_permanent", "must be TransientConnectorError"),
                         ("swallows_errors", "raised nothing")],
    "permanent_errors": [("permanent_as_transient", "must be PermanentConnectorError"),
                         ("swallows_errors", "raised nothing")],
    "batch_shaped_reads": [("hook_per_record", "tether_transform_records is called per record"),
                           ("call_per_record", "calls its source per record")],
    "batch_shaped_writes": [("write_call_per_record", "calls its source per record")],
}


def subject_breaking(*breaks: str) -> Subject:
    harness = MemoHarness()
    harness.plugin_object = MemoPlugin(set(breaks))

    def host():
        from tether.core.plugins import PluginHost

        built = PluginHost.from_entry_points()
        built.register(harness.plugin_object)
        return built

    return Subject(harness, new_source(), host_factory=host)


@pytest.mark.parametrize(("check", "breaks", "reason"),
                         [(check, b, reason) for check, proofs in PROOFS.items() for b, reason in proofs])
def test_each_check_fails_on_a_connector_that_breaks_it(check, breaks, reason):
    subject = subject_breaking(breaks)
    try:
        with pytest.raises(ContractViolation, match=reason):
            CHECKS[check].run(subject)
    finally:
        subject.close_all()


@pytest.mark.parametrize("check", sorted(CHECKS))
def test_each_check_passes_on_the_correct_connector(check):
    subject = subject_breaking()
    try:
        CHECKS[check].run(subject)
    finally:
        subject.close_all()


def test_every_check_has_a_proof_that_it_can_fail():
    assert set(PROOFS) == set(CHECKS)


@pytest.mark.parametrize(("breaks", "failing"), [
    ("count_wrong", ["count_matches_read"]),
    ("skips_on_resume", ["resume_from_every_page", "transient_errors"]),  # both resume from a page cursor
    ("write_lost", ["write_read_back", "write_replay_idempotent"]),
    ("hook_per_record", ["batch_shaped_reads"]),
])
def test_a_break_fails_only_the_checks_of_its_rule(breaks, failing):
    """The suite names the rule that was broken, not a cascade of unrelated failures."""
    failed = []
    for name, entry in CHECKS.items():
        subject = subject_breaking(breaks)
        try:
            entry.run(subject)
        except ContractViolation:
            failed.append(name)
        finally:
            subject.close_all()
    assert failed == failing


def test_page_shape_names_a_cursor_too_long_for_the_engine():
    subject = subject_breaking()
    subject.add(1)
    result = subject.read_fresh(None)
    result.pages[0].cursor = "x" * 101
    with pytest.raises(ContractViolation, match="at most 100 characters"):
        check_page_shape(subject, result)
    subject.close_all()


def test_a_config_the_manifest_refuses_fails_with_its_path():
    harness = MemoHarness()
    subject = Subject(harness, new_source(), host_factory=subject_breaking().host_factory)
    harness.plugin_config = lambda source: {"source": 7}  # type: ignore[method-assign]
    with pytest.raises(ContractViolation, match="plugins.memo.config.source: Not a valid string"):
        CHECKS["manifest_is_valid"].run(subject)
