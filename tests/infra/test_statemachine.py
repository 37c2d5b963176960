"""statemachine/pipeline.asl.json: valid States Language (asl-validator) and the team contract."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from infra_support import PIPELINE_TASKS, substitute_dummy_arns

VALIDATOR = Path(__file__).resolve().parent / "node_modules" / ".bin" / "asl-validator"

LAMBDA_SERVICE_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]
TIMEOUTS = {"Validate": 30, "DetectLabels": 60, "Thumbnail": 120, "Persist": 30}
CONTEXT_PARAMS = {"executionId.$": "$$.Execution.Id", "startedAt.$": "$$.Execution.StartTime"}


def run_validator(definition: str, tmp_path: Path) -> subprocess.CompletedProcess:
    if not VALIDATOR.exists():
        pytest.fail(f"asl-validator is not installed: run `npm ci --prefix tests/infra` ({VALIDATOR} missing)")
    path = tmp_path / "definition.json"
    path.write_text(definition, encoding="utf-8")
    return subprocess.run([str(VALIDATOR), "--json-path", str(path)], capture_output=True, text=True, timeout=120)


def test_asl_validator_accepts_the_definition(asl_text, tmp_path):
    result = run_validator(substitute_dummy_arns(asl_text), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is valid" in result.stdout


def test_asl_validator_rejects_a_broken_copy(asl, tmp_path):
    """Guards the check above: the validator really runs and reports an unknown transition."""
    broken = json.loads(json.dumps(asl))
    broken["States"]["Validate"]["Next"] = "NoSuchState"
    result = run_validator(substitute_dummy_arns(json.dumps(broken)), tmp_path)
    assert result.returncode != 0
    assert "NoSuchState" in result.stdout + result.stderr


def test_definition_is_jsonpath_with_comments(asl, states):
    assert asl.get("QueryLanguage", "JSONPath") == "JSONPath"
    assert asl["StartAt"] == "Validate"
    assert asl.get("Comment")
    for name, state in states.items():
        assert state.get("Comment"), f"{name} has no Comment"


def test_happy_path_chains_the_four_steps(states):
    assert [states[s].get("Next") for s in ("Validate", "DetectLabels", "Thumbnail")] == [
        "DetectLabels",
        "Thumbnail",
        "Persist",
    ]
    assert states["Persist"].get("End") is True and "Next" not in states["Persist"]


@pytest.mark.parametrize("name", list(PIPELINE_TASKS))
def test_each_step_calls_its_function_by_substituted_arn(states, name):
    key, _ = PIPELINE_TASKS[name]
    assert states[name]["Type"] == "Task"
    assert states[name]["Resource"] == "${%s}" % key


def test_each_step_adds_one_field(states):
    # Validate claims the upload for this execution, so it gets the execution id too.
    assert states["Validate"]["Parameters"] == {"detail.$": "$.detail", "executionId.$": "$$.Execution.Id"}
    assert states["Validate"]["ResultPath"] == "$.image"
    assert states["DetectLabels"]["Parameters"] == {"image.$": "$.image"}
    assert states["DetectLabels"]["ResultPath"] == "$.labels"
    assert states["Thumbnail"]["Parameters"] == {"image.$": "$.image"}
    assert states["Thumbnail"]["ResultPath"] == "$.thumbnails"
    assert states["Persist"]["Parameters"] == {
        "status": "DONE",
        "detail.$": "$.detail",
        "image.$": "$.image",
        "labels.$": "$.labels",
        "thumbnails.$": "$.thumbnails",
        **CONTEXT_PARAMS,
    }
    assert states["Persist"]["ResultPath"] == "$.record"


@pytest.mark.parametrize("name", list(TIMEOUTS))
def test_step_timeouts(states, name):
    assert states[name]["TimeoutSeconds"] == TIMEOUTS[name]


@pytest.mark.parametrize("name", ["Validate", "DetectLabels", "Thumbnail", "Persist", "RecordRejected", "RecordFailed"])
def test_retry_transient_errors_with_full_jitter(states, name):
    retry = states[name]["Retry"]
    assert len(retry) == 1
    rule = retry[0]
    assert rule["ErrorEquals"] == LAMBDA_SERVICE_ERRORS + ["Retryable"]
    assert rule["IntervalSeconds"] == 2
    assert rule["MaxAttempts"] == (4 if name == "DetectLabels" else 3)
    assert rule["BackoffRate"] == 2
    assert rule["MaxDelaySeconds"] == 30
    assert rule["JitterStrategy"] == "FULL"
    # Rejections and bugs are never retried.
    assert not {"ImageRejected", "InternalError", "States.ALL"} & set(rule["ErrorEquals"])


ROUTE_REJECTIONS_AND_FAILURES = [
    {"ErrorEquals": ["ImageRejected"], "ResultPath": "$.error", "Next": "RecordRejected"},
    {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "RecordFailed"},
]


@pytest.mark.parametrize("name", ["Validate", "DetectLabels", "Thumbnail"])
def test_steps_route_rejections_and_failures(states, name):
    claim_outcomes = [
        {"ErrorEquals": ["DuplicateUpload"], "ResultPath": "$.error", "Next": "Duplicate"},
        {"ErrorEquals": ["UnknownUpload"], "ResultPath": "$.error", "Next": "Unknown"},
    ]
    expected = (claim_outcomes if name == "Validate" else []) + ROUTE_REJECTIONS_AND_FAILURES
    assert states[name]["Catch"] == expected


def test_a_duplicate_or_unknown_upload_ends_without_a_write(states):
    # One upload, one run: a run that cannot claim the upload stops before any other task.
    assert states["Duplicate"] == {"Comment": states["Duplicate"]["Comment"], "Type": "Succeed"}
    assert states["Unknown"]["Type"] == "Fail"
    assert states["Unknown"]["ErrorPath"] == "$.error.Error"


def test_persist_failure_is_recorded(states):
    assert states["Persist"]["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "RecordFailed"}
    ]


@pytest.mark.parametrize(
    "record,status,fail", [("RecordRejected", "REJECTED", "Rejected"), ("RecordFailed", "FAILED", "Failed")]
)
def test_failure_paths_store_a_record_then_fail(states, record, status, fail):
    task = states[record]
    assert task["Type"] == "Task"
    assert task["Resource"] == "${PersistFunctionArn}"
    # $.image is absent when Validate rejected, so it is never passed here.
    assert task["Parameters"] == {"status": status, "detail.$": "$.detail", "error.$": "$.error", **CONTEXT_PARAMS}
    assert task["ResultPath"] == "$.record"
    assert task["TimeoutSeconds"] == 30
    assert task["Next"] == fail
    # If even the record cannot be stored, still end in the Fail state with the original error
    # (the record error goes to another field so $.error survives).
    for catcher in task.get("Catch", []):
        assert catcher["Next"] == fail
        assert catcher["ResultPath"] != "$.error"
    assert states[fail] == {
        "Comment": states[fail]["Comment"],
        "Type": "Fail",
        "ErrorPath": "$.error.Error",
        "CausePath": "$.error.Cause",
    }


def test_every_state_is_reachable_and_every_target_exists(asl, states):
    targets = {asl["StartAt"]}
    for state in states.values():
        targets.update(filter(None, [state.get("Next"), state.get("Default")]))
        targets.update(c["Next"] for c in state.get("Catch", []))
    assert targets <= set(states), targets - set(states)
    assert set(states) <= targets, set(states) - targets

