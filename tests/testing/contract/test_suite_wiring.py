"""The base class, as pytest runs it: one test per check, failures named by the check,
checks left out on purpose are not run."""

from __future__ import annotations

from tether.testing.contract import CHECKS

pytest_plugins = ("pytester",)

MODULE = '''
import pytest

from tests.testing.contract.reference import MemoHarness, MemoPlugin, new_source


class TestGood(MemoHarness):
    @pytest.fixture
    def source(self):
        return new_source()


class TestBroken(MemoHarness):
    plugin_object = MemoPlugin({"skips_on_resume"})
    test_write_replay_idempotent = None  # left out on purpose

    @pytest.fixture
    def source(self):
        return new_source()
'''


def test_the_base_class_runs_one_test_per_check_and_names_the_broken_rule(pytester):
    pytester.makepyfile(test_inner=MODULE)
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly")
    checks = len(CHECKS)
    result.assert_outcomes(passed=checks + (checks - 1) - 2, failed=2)
    result.stdout.fnmatch_lines(["*ContractViolation: resuming from the cursor of page 1*skipped*"])
    result.stdout.fnmatch_lines(["FAILED *TestBroken::test_resume_from_every_page*",
                                 "FAILED *TestBroken::test_transient_errors*"])
    assert "TestBroken::test_write_replay_idempotent" not in result.stdout.str()
