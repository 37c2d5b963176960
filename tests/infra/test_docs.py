"""The docs' promises name their tests: every test file and test name that docs/security.md and
docs/reliability.md cite must exist, so a renamed or deleted test cannot leave a claim unbacked."""

from __future__ import annotations

import re

import pytest

from infra_support import REPO

DOCS = ["docs/security.md", "docs/reliability.md"]
#: A cited test file, optionally `::name`: `tests/e2e/tests/claim.rs::a_test`.
CITED_FILE = re.compile(r"`((?:tests|local|functions|bench)/[\w./-]+\.(?:rs|py|mjs|sh))(?:::(\w+))?`")
#: A bare `name` right after a cited file in the same table cell names another test of that file.
BARE_NAME = re.compile(r"`([a-z][a-z0-9_]{6,})`")


def citations(text: str) -> list[tuple[str, str | None]]:
    """(file, test name or None) for every citation, bare names attached to the file before them."""
    found: list[tuple[str, str | None]] = []
    for line in text.splitlines():
        for cell in line.split("|"):
            current = None
            for m in re.finditer(rf"{CITED_FILE.pattern}|{BARE_NAME.pattern}", cell):
                if m.group(1):
                    current = m.group(1)
                    found.append((current, m.group(2)))
                elif current and m.group(3):
                    found.append((current, m.group(3)))
    return found


def defines(source: str, name: str) -> bool:
    return re.search(rf"\b(?:fn|def)\s+{name}\s*\(", source) is not None


@pytest.mark.parametrize("doc", DOCS)
def test_every_cited_test_exists(doc):
    path = REPO / doc
    if not path.exists():
        pytest.skip(f"{doc} not written yet")
    cited = citations(path.read_text(encoding="utf-8"))
    assert cited, f"{doc} cites no test"
    missing = []
    for file, name in cited:
        target = REPO / file
        if not target.is_file():
            missing.append(f"{file} (no such file)")
        elif name and not defines(target.read_text(encoding="utf-8"), name):
            missing.append(f"{file}::{name}")
    assert not missing, f"{doc} cites tests that do not exist:\n  " + "\n  ".join(missing)


def test_a_renamed_test_is_caught():
    text = "| claim | `tests/infra/test_docs.py::test_every_cited_test_exists`, `no_such_test_here` |"
    cited = citations(text)
    assert cited == [
        ("tests/infra/test_docs.py", "test_every_cited_test_exists"),
        ("tests/infra/test_docs.py", "no_such_test_here"),
    ]
    source = (REPO / "tests/infra/test_docs.py").read_text(encoding="utf-8")
    assert defines(source, "test_every_cited_test_exists")
    assert not defines(source, "no_such_test_" + "here")
