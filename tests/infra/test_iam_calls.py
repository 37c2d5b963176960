"""Each Lambda's IAM policy is exactly what its Rust code calls: the AWS SDK operations are found in
functions/ (rust_calls.py), attributed to the Lambdas that run them (RUNS below), turned into IAM
actions, and compared with the role SAM generates: nothing missing, nothing extra.

When code moves (a new module, a renamed fn), update RUNS; the tests name every SDK call it leaves
unattributed and every entry that no longer points at code.
"""

from __future__ import annotations

import re

import pytest

from infra_support import FUNCTIONS, REPO
from rust_calls import Call, find_calls, fn_names, reachable_fns, scan_functions

FUNCTIONS_DIR = REPO / "functions"

#: Which code each Lambda runs: "path" (every fn of the file) or "path::fn,fn" (those fns and the
#: same-file fns they call). Paths are relative to functions/. Follow the Lambda's main into
#: functions/core (lambda.rs: run_http with the presign or query router, or run_step with a StepFunction).
RUNS: dict[str, list[str]] = {
    "PresignFunction": [
        "core/src/http/presign.rs",
        "core/src/post_policy.rs",
        "core/src/table/mod.rs::put_pending",
    ],
    "QueryFunction": [
        "core/src/http/query.rs",
        "core/src/http/timeline.rs",
        "core/src/http/delete.rs",
        "core/src/table/mod.rs::get_image,query_label,query_recent,delete_image",
    ],
    "ValidateFunction": [
        "core/src/steps/validate.rs::run",
        "core/src/table/claim.rs::claim",
        "core/src/table/mod.rs::get_image",
    ],
    "DetectLabelsFunction": ["core/src/steps/detect.rs"],
    "ThumbnailFunction": ["core/src/steps/thumbnail.rs", "core/src/steps/validate.rs::read_upload"],
    "PersistFunction": ["core/src/steps/persist.rs", "core/src/table/mod.rs::get_image,write_outcome"],
    "ReconcileFunction": [
        "core/src/reconcile.rs",
        "core/src/table/mod.rs::query_pending,get_image,write_outcome",
        "core/src/table/claim.rs::hand_over",
    ],
    "ReclaimFunction": [
        "core/src/steps/reclaim.rs",
        "core/src/table/reclaim.rs",
        "core/src/table/mod.rs::get_image",
    ],
}

#: Code with SDK calls that no Lambda runs, and why.
LOCAL_ONLY = {
    "core/src/table/schema.rs": "creates the table for `imgpipe serve`; on AWS CloudFormation creates it",
}

#: Permissions a function's credentials lend to someone else, with no SDK call of its own.
SIGNS_FOR_OTHERS = {
    # The signed POST policy lets the browser PutObject with the presign function's credentials.
    "core/src/post_policy.rs::sign": {"s3:PutObject"},
}

#: Granted although the code never calls them, and why.
GRANTED_BEYOND_CALLS = {
    ("ValidateFunction", "s3:ListBucket"): "lets S3 answer 404, not 403, for an upload that is gone",
    ("ReconcileFunction", "s3:ListBucket"): "lets S3 answer 404, not 403, for an upload that never came",
}

#: Granted ahead of the Rust code that will call them. Remove an entry once the code calls it (the
#: test below says when).
GRANTED_AHEAD_OF_CODE: dict[tuple[str, str], str] = {}


def as_list(value):
    return value if isinstance(value, list) else [value]


def parse_entry(entry: str) -> tuple[str, set[str] | None]:
    path, _, fns = entry.partition("::")
    return path, ({f.strip() for f in fns.split(",") if f.strip()} if fns else None)


def source(path: str) -> str:
    return (FUNCTIONS_DIR / path).read_text(encoding="utf-8")


def covers(entry: str, call_path: str, call_fn: str) -> bool:
    path, fns = parse_entry(entry)
    if path != call_path:
        return False
    return fns is None or call_fn in reachable_fns(source(path), fns)


@pytest.fixture(scope="module")
def calls() -> list[Call]:
    found = scan_functions(FUNCTIONS_DIR)
    assert found, "no AWS SDK calls found under functions/: is the scanner broken?"
    return found


def calls_of(function: str, calls: list[Call]) -> list[Call]:
    return [c for c in calls if any(covers(e, c.path, c.fn) for e in RUNS[function])]


def derived_actions(function: str, calls: list[Call]) -> set[str]:
    actions = {a for c in calls_of(function, calls) for a in c.actions}
    for signer, lent in SIGNS_FOR_OTHERS.items():
        path, fns = parse_entry(signer)
        if any(covers(e, path, fn) for e in RUNS[function] for fn in fns or {""}):
            actions |= lent
    return actions


def role_statements(translated: dict, function: str) -> list[dict]:
    role_id = translated["Resources"][function]["Properties"]["Role"]["Fn::GetAtt"][0]
    role = translated["Resources"][role_id]["Properties"]
    return [s for p in role.get("Policies", []) for s in p["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]


def granted_actions(translated: dict, function: str) -> set[str]:
    return {a for s in role_statements(translated, function) for a in as_list(s["Action"])}


# ------------------------------------------------------------------ the map stays true to the code


def test_runs_covers_every_function_and_only_them():
    assert set(RUNS) == set(FUNCTIONS.values())


@pytest.mark.parametrize("entry", sorted({e for entries in RUNS.values() for e in entries} | set(LOCAL_ONLY) | set(SIGNS_FOR_OTHERS)))
def test_every_map_entry_points_at_code(entry):
    path, fns = parse_entry(entry)
    file = FUNCTIONS_DIR / path
    assert file.is_file(), f"{entry}: functions/{path} does not exist; update the maps in {__file__}"
    missing = (fns or set()) - fn_names(source(path))
    assert not missing, f"{entry}: functions/{path} has no fn {sorted(missing)}; update the maps in {__file__}"


def test_every_sdk_call_is_attributed(calls):
    unattributed = [
        c
        for c in calls
        if not any(covers(e, c.path, c.fn) for entries in RUNS.values() for e in entries)
        and not any(covers(e, c.path, c.fn) for e in LOCAL_ONLY)
    ]
    assert not unattributed, "SDK calls no Lambda is known to run; add their file (or file::fn) to RUNS or LOCAL_ONLY:\n" + "\n".join(
        f"  functions/{c.path} fn {c.fn or '<module>'}: .{c.operation}() -> {sorted(c.actions)}" for c in unattributed
    )


# ------------------------------------------------------------------ policies == calls


@pytest.mark.parametrize("function", sorted(FUNCTIONS.values()))
def test_policy_actions_are_exactly_the_calls(function, calls, translated):
    derived = derived_actions(function, calls)
    granted = granted_actions(translated, function)
    beyond = {a for (fn, a) in GRANTED_BEYOND_CALLS if fn == function}
    ahead = {a for (fn, a) in GRANTED_AHEAD_OF_CODE if fn == function}
    sites = "\n".join(f"  functions/{c.path} fn {c.fn}: .{c.operation}()" for c in calls_of(function, calls))
    missing = derived - granted
    assert not missing, f"{function} calls {sorted(missing)} but its policy does not grant them; calls:\n{sites}"
    extra = granted - derived - beyond - ahead
    assert not extra, f"{function} is granted {sorted(extra)}, which its code never calls; calls:\n{sites}"
    now_called = ahead & derived
    assert not now_called, f"{function}: the code now calls {sorted(now_called)}; remove them from GRANTED_AHEAD_OF_CODE"
    assert beyond <= granted, f"{function}: GRANTED_BEYOND_CALLS lists {sorted(beyond - granted)}, which is not granted"
    assert ahead <= granted, f"{function}: GRANTED_AHEAD_OF_CODE lists {sorted(ahead - granted)}, which is not granted"


@pytest.mark.parametrize("function", sorted(FUNCTIONS.values()))
def test_policies_are_inline_statements_not_sam_templates(function, resources):
    """SAM's policy templates (DynamoDBCrudPolicy, ...) grant whole families of actions; only statements say exactly."""
    for policy in resources[function]["Properties"].get("Policies", []):
        assert isinstance(policy, dict) and set(policy) == {"Statement"}, f"{function}: {policy}"


def dynamodb_resource_kind(resource) -> str:
    """'table' for the table's ARN, 'index' for an index ARN of it."""
    if resource == {"Fn::GetAtt": ["ImagesTable", "Arn"]}:
        return "table"
    text = resource.get("Fn::Sub", "") if isinstance(resource, dict) else ""
    if re.fullmatch(r"\$\{ImagesTable\.Arn\}/index/[A-Za-z0-9_.-]+", text):
        return "index"
    raise AssertionError(f"DynamoDB grant on {resource}: expected the table ARN or one of its index ARNs")


@pytest.mark.parametrize("function", sorted(FUNCTIONS.values()))
def test_dynamodb_grants_name_the_table_or_the_index_as_the_calls_do(function, calls, translated):
    needed = {
        (a, "index" if c.on_index else "table")
        for c in calls_of(function, calls)
        for a in c.actions
        if a.startswith("dynamodb:")
    }
    needed |= {(a, "table") for (fn, a) in GRANTED_AHEAD_OF_CODE if fn == function and a.startswith("dynamodb:")}
    granted = {
        (a, dynamodb_resource_kind(r))
        for s in role_statements(translated, function)
        for a in as_list(s["Action"])
        if a.startswith("dynamodb:")
        for r in as_list(s["Resource"])
    }
    assert granted == needed, f"{function}: granted {sorted(granted)}, code needs {sorted(needed)}"


# ------------------------------------------------------------------ the scanner itself


SNIPPET = """
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};

/// Docs mention `.get_item()` and `.delete_item().send()`, which are not calls.
pub async fn read(c: &Client) {
    // c.scan().send().await;
    let s = "c.delete_item().send()";
    c.get_item().table_name("t").send().await;
    let builder = c.put_item().table_name("t"); // built, never sent here
}

async fn write(c: &Client) {
    c.transact_write_items().set_transact_items(Some(items())).send().await;
}

fn items() -> Vec<TransactWriteItem> {
    vec![Put::builder().build(), Delete::builder().build()]
}

async fn recent(c: &Client) {
    c.query().table_name("t").index_name("GSI1").send().await;
}

#[cfg(test)]
mod tests {
    async fn t(c: &Client) { c.scan().send().await; }
}
"""


def test_scanner_finds_sent_calls_only_outside_comments_strings_and_tests():
    calls = find_calls("x.rs", SNIPPET, ["dynamodb"])
    assert sorted((c.fn, c.operation) for c in calls) == [("read", "get_item"), ("recent", "query"), ("write", "transact_write_items")]
    by_op = {c.operation: c for c in calls}
    assert by_op["transact_write_items"].actions == {"dynamodb:PutItem", "dynamodb:DeleteItem"}
    assert by_op["query"].on_index and not by_op["get_item"].on_index
    assert reachable_fns(SNIPPET, {"write"}) == {"write", "items"}


def test_scanner_maps_versioned_s3_reads_and_rekognition_s3_objects():
    s3 = "async fn f(c: &Client) { c.get_object().bucket(b).key(k).version_id(v).send().await; c.get_object().bucket(b).presigned(cfg).await; }"
    assert sorted(a for c in find_calls("s.rs", s3, ["s3"]) for a in c.actions) == ["s3:GetObject", "s3:GetObjectVersion"]
    rk = "async fn d(c: &Client) { let o = S3Object::builder().bucket(b).name(k).version(v).build(); c.detect_labels().image(o).send().await; }"
    (call,) = find_calls("r.rs", rk, ["rekognition"])
    assert call.actions == {"rekognition:DetectLabels", "s3:GetObjectVersion"}


def test_scanner_refuses_to_guess_between_services():
    # TagResource is an operation of DynamoDB and Rekognition alike.
    text = "async fn f(c: &Client) { c.tag_resource().send().await; }"
    with pytest.raises(ValueError, match="tag_resource"):
        find_calls("a.rs", text, ["dynamodb", "rekognition"])
    (call,) = find_calls("a.rs", text.replace("c.", "dynamo."), ["dynamodb", "rekognition"])
    assert call.actions == {"dynamodb:TagResource"}


# ------------------------------------------------------------------ Custom Labels (issue 13)


def test_detect_labels_calls_detect_custom_labels_on_the_claimed_version(calls):
    custom = [c for c in calls_of("DetectLabelsFunction", calls) if c.operation == "detect_custom_labels"]
    assert custom, "the scanner finds no DetectCustomLabels call in what detect-labels runs"
    assert all(c.actions == {"rekognition:DetectCustomLabels", "s3:GetObjectVersion"} for c in custom), custom
    others = [c for c in calls if c.operation == "detect_custom_labels" and c not in custom]
    assert not others, f"DetectCustomLabels called outside detect-labels: {others}"


def raw_role_statements(function: str) -> list:
    """The role's statements as SAM translates them, conditional statements unresolved."""
    from infra_support import load_template, translate

    raw = translate(load_template())
    role_id = raw["Resources"][function]["Properties"]["Role"]["Fn::GetAtt"][0]
    return [s for p in raw["Resources"][role_id]["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]


def test_custom_labels_grant_names_exactly_the_model_and_exists_only_when_it_is_set(template):
    conditional = [s for s in raw_role_statements("DetectLabelsFunction") if set(s) == {"Fn::If"}]
    assert len(conditional) == 1, conditional
    condition, when_set, when_unset = conditional[0]["Fn::If"]
    assert condition == "HasCustomLabelsModel"
    assert template["Conditions"][condition] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "CustomLabelsModelArn"}, ""]}]}
    assert when_unset == {"Ref": "AWS::NoValue"}
    assert when_set["Effect"] == "Allow"
    assert as_list(when_set["Action"]) == ["rekognition:DetectCustomLabels"]
    # The project version ARN, not "*" nor a pattern: no other model may be used with this role.
    assert as_list(when_set["Resource"]) == [{"Ref": "CustomLabelsModelArn"}]
    assert "Condition" not in when_set


def test_no_other_statement_or_role_grants_detect_custom_labels(translated):
    for function in FUNCTIONS.values():
        for s in role_statements(translated, function):
            if "rekognition:DetectCustomLabels" in as_list(s["Action"]):
                assert function == "DetectLabelsFunction", function
                assert as_list(s["Action"]) == ["rekognition:DetectCustomLabels"]
                assert as_list(s["Resource"]) == [{"Ref": "CustomLabelsModelArn"}], s
