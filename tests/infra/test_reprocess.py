"""statemachine/reprocess.asl.json (the Distributed Map that re-processes stored uploads) and its template
resources: valid States Language, the pipeline's own steps inside, and a role that grants what a
Distributed Map needs and nothing more."""

from __future__ import annotations

import json
import re

import pytest

from infra_support import PIPELINE_TASKS, REPO, REPROCESS_ASL_PATH, SUBSTITUTION, substitute_dummy_arns
from test_statemachine import run_validator

RECLAIM_RS = REPO / "functions" / "core" / "src" / "steps" / "reclaim.rs"
#: The pipeline's states that run unchanged (apart from where they go next) for each re-processed image.
SHARED_STATES = ["Validate", "DetectLabels", "Thumbnail", "Persist", "RecordRejected", "RecordFailed"]


@pytest.fixture(scope="module")
def reprocess_text() -> str:
    return REPROCESS_ASL_PATH.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def reprocess(reprocess_text) -> dict:
    return json.loads(reprocess_text)


@pytest.fixture(scope="module")
def dmap(reprocess) -> dict:
    return reprocess["States"]["Reprocess"]


@pytest.fixture(scope="module")
def batch_states(dmap) -> dict:
    return dmap["ItemProcessor"]["States"]


@pytest.fixture(scope="module")
def image_states(batch_states) -> dict:
    return batch_states["EachImage"]["ItemProcessor"]["States"]


def rust_const(name: str) -> int:
    match = re.search(rf"pub const {name}: usize = (\d+);", RECLAIM_RS.read_text(encoding="utf-8"))
    assert match, f"{RECLAIM_RS.relative_to(REPO)} defines no {name}"
    return int(match.group(1))


def test_asl_validator_accepts_the_definition(reprocess_text, tmp_path):
    result = run_validator(substitute_dummy_arns(reprocess_text), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_asl_validator_rejects_a_broken_copy(reprocess, tmp_path):
    broken = json.loads(json.dumps(reprocess))
    broken["States"]["Reprocess"]["ItemProcessor"]["States"]["Reclaim"]["Next"] = "NoSuchState"
    result = run_validator(substitute_dummy_arns(json.dumps(broken)), tmp_path)
    assert result.returncode != 0 and "NoSuchState" in result.stdout + result.stderr


def test_options_are_checked_before_anything_is_listed(reprocess):
    states = reprocess["States"]
    assert reprocess["StartAt"] == "Options"
    assert states["Options"]["Next"] == "CheckOptions"
    choice = states["CheckOptions"]
    assert choice["Default"] == "Reprocess"
    assert {c["Next"] for c in choice["Choices"]} == {"InvalidOptions"}
    assert states["InvalidOptions"]["Type"] == "Fail"
    # The defaults: every upload, no filter.
    merged = states["Options"]["Parameters"]["options.$"]
    assert merged.startswith("States.JsonMerge(") and merged.endswith(", $, false)")
    assert '"prefix":"uploads/"' in merged


def test_the_map_lists_the_input_bucket_under_the_prefix(dmap):
    assert dmap["Type"] == "Map"
    assert dmap["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    assert dmap["ItemReader"] == {
        "Resource": "arn:aws:states:::s3:listObjectsV2",
        "Parameters": {"Bucket": "${InputBucket}", "Prefix.$": "$.prefix"},
    }
    assert dmap["ResultWriter"] == {
        "Resource": "arn:aws:states:::s3:putObject",
        "Parameters": {"Bucket": "${OutputBucket}", "Prefix": "reprocess"},
    }
    assert 0 < dmap["ToleratedFailurePercentage"] <= 10


def test_batches_fit_what_reclaim_takes_and_carry_the_filter(dmap):
    batcher = dmap["ItemBatcher"]
    assert 1 < batcher["MaxItemsPerBatch"] <= rust_const("MAX_BATCH_ITEMS")
    assert batcher["BatchInput"] == {"status.$": "$.status", "currentModels.$": "$.currentModels"}


def test_detect_labels_in_flight_are_bounded_by_max_concurrency(dmap, batch_states, resources):
    """Each batch runs its images one after another, so DetectLabels calls in flight <= MaxConcurrency,
    which is the detect-labels function's reserved concurrency (docs/cost.md sizes it to the TPS quota)."""
    assert batch_states["EachImage"]["MaxConcurrency"] == 1
    assert batch_states["EachImage"]["ItemProcessor"]["ProcessorConfig"] == {"Mode": "INLINE"}
    reserved = resources["DetectLabelsFunction"]["Properties"]["ReservedConcurrentExecutions"]
    assert reserved["Fn::If"][1] == {"Ref": "DetectLabelsConcurrency"}
    assert 1 <= dmap["MaxConcurrency"] <= 50


def test_max_concurrency_is_the_reserved_detect_concurrency_default(template, dmap):
    assert template["Parameters"]["DetectLabelsConcurrency"]["Default"] == dmap["MaxConcurrency"]


def test_each_batch_reclaims_then_runs_the_images(batch_states):
    reclaim = batch_states["Reclaim"]
    assert reclaim["Resource"] == "${ReclaimFunctionArn}"
    assert reclaim["Parameters"] == {"items.$": "$.Items", "filter.$": "$.BatchInput", "executionId.$": "$$.Execution.Id"}
    assert reclaim["Next"] == "EachImage"
    assert batch_states["EachImage"]["ItemsPath"] == "$.claimed"
    assert batch_states["BatchSummary"]["Parameters"] == {"skipped.$": "$.skipped", "outcomes.$": "$.outcomes"}


@pytest.mark.parametrize("name", SHARED_STATES)
def test_images_go_through_the_pipelines_own_steps(name, image_states, states):
    """Same function, input, output, timeout, Retry and Catch as in pipeline.asl.json; only where a
    state goes after an outcome differs (a batch goes on with its next image)."""
    ours, theirs = image_states[name], states[name]
    for field in ("Type", "Resource", "Parameters", "ResultPath", "TimeoutSeconds", "Retry"):
        assert ours.get(field) == theirs.get(field), (name, field)
    assert [c["ErrorEquals"] for c in ours.get("Catch", [])] == [c["ErrorEquals"] for c in theirs.get("Catch", [])]
    assert [c["ResultPath"] for c in ours.get("Catch", [])] == [c["ResultPath"] for c in theirs.get("Catch", [])]
    # The pipeline's next step where there is one; where the pipeline ends (Succeed or Fail), the outcome.
    expected = theirs["Next"] if theirs.get("Next") in SHARED_STATES else "Outcome"
    assert ours.get("Next") == expected


def test_reclaim_retries_like_the_pipeline(batch_states, states):
    assert batch_states["Reclaim"]["Retry"] == states["Validate"]["Retry"]


def test_only_an_unstored_outcome_fails_a_batch(image_states):
    fails = {n for n, s in image_states.items() if s["Type"] == "Fail"}
    assert fails == {"NotRecorded"}
    for name in ("RecordRejected", "RecordFailed"):
        assert {c["Next"] for c in image_states[name]["Catch"]} == {"NotRecorded"}
    for name in ("Outcome", "Superseded", "Deleted"):
        assert image_states[name]["Type"] == "Pass" and image_states[name]["End"] is True
        assert set(image_states[name]["Parameters"]) == {"key.$", "status" if name != "Outcome" else "status.$",
                                                         "written" if name != "Outcome" else "written.$"}


# ------------------------------------------------------------------ template


def test_substitutions_match_the_definition_both_ways(reprocess_text, resources):
    used = set(SUBSTITUTION.findall(reprocess_text))
    provided = resources["ReprocessStateMachine"]["Properties"]["DefinitionSubstitutions"]
    assert used == set(provided), f"only in ASL: {used - set(provided)}; only in template: {set(provided) - used}"
    for _, (key, logical_id) in PIPELINE_TASKS.items():
        assert provided[key] == {"Fn::GetAtt": [logical_id, "Arn"]}
    assert provided["ReclaimFunctionArn"] == {"Fn::GetAtt": ["ReclaimFunction", "Arn"]}
    assert provided["InputBucket"] == {"Ref": "InputBucket"} and provided["OutputBucket"] == {"Ref": "OutputBucket"}


def test_state_machine_is_standard_logged_and_named_for_its_own_role(resources):
    sm = resources["ReprocessStateMachine"]["Properties"]
    assert sm["Type"] == "STANDARD" and sm["DefinitionUri"] == "statemachine/reprocess.asl.json"
    assert sm["Name"] == {"Fn::Sub": "${AWS::StackName}-reprocess"}
    (dest,) = sm["Logging"]["Destinations"]
    assert dest["CloudWatchLogsLogGroup"]["LogGroupArn"] == {"Fn::GetAtt": ["ReprocessLogGroup", "Arn"]}


def reprocess_role(translated) -> list[dict]:
    role_id = translated["Resources"]["ReprocessStateMachine"]["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    role = translated["Resources"][role_id]["Properties"]
    return [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]


def as_list(value):
    return value if isinstance(value, list) else [value]


def test_role_grants_a_distributed_map_exactly_what_it_needs(translated):
    statements = reprocess_role(translated)
    by_action: dict[str, list] = {}
    for s in statements:
        for action in as_list(s["Action"]):
            by_action.setdefault(action, []).extend(as_list(s["Resource"]))
    invoked = {
        r["Fn::Sub"][1]["functionName"]["Ref"] if isinstance(r["Fn::Sub"], list) else r["Fn::Sub"]
        for r in by_action.pop("lambda:InvokeFunction")
    }
    assert invoked == {"ReclaimFunction", "ValidateFunction", "DetectLabelsFunction", "ThumbnailFunction", "PersistFunction"}
    assert by_action.pop("states:StartExecution") == [
        {"Fn::Sub": "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:${AWS::StackName}-reprocess"}
    ]
    executions = {"Fn::Sub": "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:${AWS::StackName}-reprocess/*"}
    assert by_action.pop("states:DescribeExecution") == [executions]
    assert by_action.pop("states:StopExecution") == [executions]
    assert by_action.pop("s3:ListBucket") == [{"Fn::GetAtt": ["InputBucket", "Arn"]}]
    (listing,) = [s for s in statements if "s3:ListBucket" in as_list(s["Action"])]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": "uploads/*"}}
    results = [{"Fn::Sub": "${OutputBucket.Arn}/reprocess/*"}]
    for action in ("s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"):
        assert by_action.pop(action) == results, action
    # What is left is log delivery, which has no resource-level permissions.
    assert all(a.startswith("logs:") for a in by_action), sorted(by_action)


def test_reclaim_function_times_out_before_its_state(resources, batch_states):
    assert resources["ReclaimFunction"]["Properties"]["Timeout"] < batch_states["Reclaim"]["TimeoutSeconds"]
