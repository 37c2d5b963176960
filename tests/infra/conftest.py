"""Fixtures for the infrastructure checks (loaders live in infra_support.py)."""

from __future__ import annotations

import json

import pytest

from infra_support import conditional_statements_flattened, load_asl_text, load_template, translate


@pytest.fixture(scope="session")
def template() -> dict:
    return load_template()


@pytest.fixture(scope="session")
def resources(template) -> dict:
    return template["Resources"]


@pytest.fixture(scope="session")
def translated(template) -> dict:
    """The CloudFormation translation, with conditional policy statements as in the widest deployment."""
    return conditional_statements_flattened(translate(template))


@pytest.fixture(scope="session")
def asl_text() -> str:
    return load_asl_text()


@pytest.fixture(scope="session")
def asl(asl_text) -> dict:
    return json.loads(asl_text)


@pytest.fixture(scope="session")
def states(asl) -> dict:
    return asl["States"]
