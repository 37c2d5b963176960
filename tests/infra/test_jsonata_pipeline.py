"""statemachine/examples/pipeline.jsonata.asl.json: the pipeline in JSONata with workflow variables.

It is valid States Language (asl-validator knows JSONata states), and it is the same machine as
statemachine/pipeline.asl.json in everything but the query language: the same states, functions,
timeouts, retries, catches and transitions, and the same fields passed to each function. A change
to one definition that is not made to the other fails here.
"""

from __future__ import annotations

import json

import pytest

from infra_support import REPO, substitute_dummy_arns
from test_statemachine import run_validator

JSONATA_PATH = REPO / "statemachine" / "examples" / "pipeline.jsonata.asl.json"
#: The fields the two query languages spell differently, and the JSONPath-only fields.
LANGUAGE_FIELDS = {"Parameters", "Arguments", "ResultPath", "Output", "Assign", "ErrorPath", "CausePath", "Error", "Cause"}


@pytest.fixture(scope="module")
def jsonata_text() -> str:
    return JSONATA_PATH.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def jsonata(jsonata_text) -> dict:
    return json.loads(jsonata_text)


def test_asl_validator_accepts_it(jsonata_text, tmp_path):
    result = run_validator(substitute_dummy_arns(jsonata_text), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_asl_validator_refuses_a_jsonpath_field_in_it(jsonata, tmp_path):
    """Guards the check above: the validator knows JSONata states refuse ResultPath."""
    broken = json.loads(json.dumps(jsonata))
    broken["States"]["Validate"]["ResultPath"] = "$.image"
    result = run_validator(substitute_dummy_arns(json.dumps(broken)), tmp_path)
    assert result.returncode != 0, result.stdout


def test_it_is_jsonata_throughout(jsonata):
    assert jsonata["QueryLanguage"] == "JSONata"
    for name, state in jsonata["States"].items():
        assert "QueryLanguage" not in state, f"{name} inherits the machine's language"
        for field in ("Parameters", "ResultPath", "InputPath", "OutputPath", "ResultSelector"):
            assert field not in state, f"{name} has the JSONPath field {field}"


def without_language_fields(state: dict) -> dict:
    kept = {k: v for k, v in state.items() if k not in LANGUAGE_FIELDS and k != "Comment"}
    if "Catch" in kept:
        kept["Catch"] = [{k: v for k, v in c.items() if k not in LANGUAGE_FIELDS} for c in kept["Catch"]]
    return kept


def test_same_machine_as_the_jsonpath_pipeline(asl, jsonata):
    assert jsonata["StartAt"] == asl["StartAt"]
    assert list(jsonata["States"]) == list(asl["States"])
    for name, state in asl["States"].items():
        assert without_language_fields(jsonata["States"][name]) == without_language_fields(state), name


def test_each_function_gets_the_same_fields(asl, jsonata):
    for name, state in asl["States"].items():
        if state["Type"] != "Task":
            continue
        jsonpath_fields = {k.removesuffix(".$") for k in state["Parameters"]}
        assert set(jsonata["States"][name]["Arguments"]) == jsonpath_fields, name


def test_every_catch_keeps_the_error_for_the_states_after_it(jsonata):
    """The JSONPath pipeline keeps a caught error at $.error; this one in the variable `error`,
    which the record and Fail states read."""
    for name, state in jsonata["States"].items():
        for catcher in state.get("Catch", []):
            if catcher["Next"] in ("Rejected", "Failed"):
                continue  # storing the record failed: the original error is still in $error
            assert catcher.get("Assign") == {"error": "{% $states.errorOutput %}"}, name
    for name in ("Rejected", "Failed", "Unknown"):
        state = jsonata["States"][name]
        assert (state["Error"], state["Cause"]) == ("{% $error.Error %}", "{% $error.Cause %}"), name
