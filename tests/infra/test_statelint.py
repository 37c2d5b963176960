"""statelint (the PyPI port of awslabs' statelint, pinned in requirements.txt) finds no problem in any
statemachine/*.asl.json.

`${Name}` placeholders are filled with well-formed Lambda ARNs first, as SAM's DefinitionSubstitutions
do at deploy time; otherwise statelint rightly reports each Resource as "not a URI".
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from infra_support import REPO, substitute_dummy_arns

DEFINITIONS = sorted((REPO / "statemachine").glob("*.asl.json"))
PINNED = "3.1.0"


def run_statelint(definition: str, tmp_path: Path) -> subprocess.CompletedProcess:
    path = tmp_path / "definition.asl.json"
    path.write_text(definition, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "statelint", str(path)], capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="session", autouse=True)
def statelint_installed() -> None:
    version = subprocess.run(
        [sys.executable, "-m", "statelint", "--version"], capture_output=True, text=True, timeout=60
    )
    if version.returncode != 0:
        pytest.fail("statelint is not installed: run `pip install -r tests/infra/requirements.txt`")
    assert version.stdout.split()[0] == PINNED, f"statelint {version.stdout.strip()} is not the pinned {PINNED}"


def test_there_are_definitions_to_check():
    assert DEFINITIONS, "no statemachine/*.asl.json found"


@pytest.mark.parametrize("path", DEFINITIONS, ids=lambda p: p.name)
def test_statelint_finds_no_problem(path: Path, tmp_path):
    result = run_statelint(substitute_dummy_arns(path.read_text(encoding="utf-8")), tmp_path)
    assert result.returncode == 0, f"statelint on {path.name}:\n{result.stdout}{result.stderr}"
    assert result.stdout == ""


def test_statelint_reports_an_integer_backoff_rate(asl, tmp_path):
    """Guards the check above: statelint runs and reports `BackoffRate: 2` (it wants a float such as 2.0)."""
    broken = json.loads(json.dumps(asl))
    broken["States"]["Validate"]["Retry"][0]["BackoffRate"] = 2
    result = run_statelint(substitute_dummy_arns(json.dumps(broken)), tmp_path)
    assert result.returncode == 1
    assert "Validate.Retry[0].BackoffRate is 2 but should be a Float" in result.stdout


def test_statelint_reports_an_unknown_transition(asl, tmp_path):
    broken = json.loads(json.dumps(asl))
    broken["States"]["Validate"]["Next"] = "NoSuchState"
    result = run_statelint(substitute_dummy_arns(json.dumps(broken)), tmp_path)
    assert result.returncode == 1
    assert "NoSuchState" in result.stdout
