"""docs/write-a-connector.md, followed in an empty folder as a new user would.

Blocks marked ``<!-- tutorial: run[, fails][, expect: TEXT] -->`` are run command by
command (``$ `` lines; ``cd`` moves on); ``<!-- tutorial: edit PATH -->`` blocks are diffs
applied to PATH (the ``-`` lines must appear exactly once); ``skip`` blocks and unmarked
blocks are for reading only.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.devkit.venvs import add_tools, clean_env, make_venv

TUTORIAL = Path(__file__).resolve().parents[2] / "docs" / "write-a-connector.md"
STEP = re.compile(r"<!-- tutorial: (?P<marker>[^>]*?) -->\s*```[a-z]*\n(?P<body>.*?)```", re.S)


@dataclasses.dataclass
class Step:
    action: str  # run | edit | skip
    body: str
    path: str | None = None
    fails: bool = False
    expect: str | None = None


def steps(text: str) -> list[Step]:
    found = []
    for match in STEP.finditer(text):
        marker, body = match.group("marker").strip(), match.group("body")
        if marker.startswith("edit "):
            found.append(Step("edit", body, path=marker[len("edit "):].strip()))
            continue
        parts = [p.strip() for p in marker.split(",")]
        action = parts[0].split()[0]
        step = Step(action, body)
        for part in parts[1:]:
            if part == "fails":
                step.fails = True
            elif part.startswith("expect:"):
                step.expect = part[len("expect:"):].strip()
        found.append(step)
    return found


def apply_diff(path: Path, diff: str) -> None:
    old = "\n".join(line[1:] for line in diff.splitlines() if line.startswith("-"))
    new = "\n".join(line[1:] for line in diff.splitlines() if line.startswith("+"))
    text = path.read_text()
    assert text.count(old) == 1, f"the tutorial's edit of {path.name} expects this exactly once:\n{old}"
    path.write_text(text.replace(old, new))


def test_the_parser_finds_every_kind_of_step():
    parsed = steps(TUTORIAL.read_text())
    assert {s.action for s in parsed} == {"run", "edit", "skip"}
    assert any(s.fails for s in parsed) and all(s.expect for s in parsed if s.action == "run")


@pytest.mark.slow
def test_the_tutorial_works_start_to_finish(tmp_path):
    folder = tmp_path / "my-connector"
    folder.mkdir()
    python = make_venv(tmp_path / "venv")
    add_tools(python)
    tether_bin = Path(sys.executable).parent  # where this environment's `tether` command is
    env = clean_env(PATH=f"{python.parent}{os.pathsep}{tether_bin}{os.pathsep}{os.environ.get('PATH', '')}",
                    VIRTUAL_ENV=str(python.parent.parent), TETHER_HOME=str(tmp_path / "tether-home"))
    cwd = folder
    for number, step in enumerate(steps(TUTORIAL.read_text()), start=1):
        if step.action == "skip":
            continue
        if step.action == "edit":
            apply_diff(cwd / step.path, step.body)
            continue
        assert step.action == "run", f"unknown tutorial step {step.action!r}"
        output, status = "", 0
        for line in step.body.splitlines():
            if not line.startswith("$ "):
                continue
            command = line[2:].strip()
            if command.startswith("cd "):
                cwd = (cwd / command[3:].strip()).resolve()
                assert cwd.is_dir(), f"step {number}: {command}: no such folder"
                continue
            run = subprocess.run(command, shell=True, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
            output += run.stdout + run.stderr
            status = run.returncode
            if status != 0 and not step.fails:
                pytest.fail(f"step {number}: `{command}` exited {status}:\n{output[-4000:]}")
        if step.fails:
            assert status != 0, f"step {number} should fail but passed:\n{output[-2000:]}"
        assert step.expect in output, f"step {number}: expected {step.expect!r} in:\n{output[-4000:]}"
