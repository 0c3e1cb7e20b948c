"""`tether demo` runs end to end as a user runs it (without the final serving step)."""

import os
import subprocess
import sys


def test_the_demo_syncs_scores_and_shows_the_renewal_center(tmp_path):
    env = {**os.environ, "COLUMNS": "160"}
    env.pop("TETHER_DATABASE_URL", None)
    result = subprocess.run([sys.executable, "-m", "tether", "demo", "--no-serve", "--opportunities", "400"],
                            capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "fake Salesforce org 00D" in out
    assert "tenant 'demo' applied from manifests/demo.yaml" in out
    for line in ("│ Account     │ initial │ success │", "│ Opportunity │ initial │ success │"):
        assert line in out
    assert "health scores:" in out and "companys" not in out
    assert "Renewal forecast" in out and "renewal cohort: renewed ÷ due in the period" in out and "ARR cohort" in out
    assert "Riskiest open renewals" in out
    assert (tmp_path / ".tether-demo" / "tether.sqlite3").is_file()
