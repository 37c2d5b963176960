"""template.yaml: cfn-lint clean, and the properties the design relies on (event wiring,
private encrypted storage, table keys, API routes, least-privilege IAM)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from infra_support import FUNCTIONS, PIPELINE_TASKS, REPO, TEMPLATE_PATH

CFN_LINT = [sys.executable, "-c", "import sys; from cfnlint.runner import main; sys.exit(main())"]

#: Actions that have no resource-level permissions, so "*" is their only valid Resource.
STAR_ONLY_ACTIONS = {
    "rekognition:DetectLabels",
    # Step Functions log delivery to CloudWatch Logs (vended logs).
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}
#: Managed policies SAM attaches itself (logs to the function's own group, X-Ray traces).
SAM_MANAGED_POLICIES = {"AWSLambdaBasicExecutionRole", "AWSXrayWriteOnlyAccess", "AWSXRayDaemonWriteAccess"}
DYNAMODB_WRITES = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}


def as_list(value):
    return value if isinstance(value, list) else [value]


def role_statements(translated: dict, role_id: str) -> list[dict]:
    role = translated["Resources"][role_id]
    assert role["Type"] == "AWS::IAM::Role"
    return [s for p in role["Properties"].get("Policies", []) for s in p["PolicyDocument"]["Statement"]]


def allowed_actions(statements: list[dict]) -> set[str]:
    return {a for s in statements if s["Effect"] == "Allow" for a in as_list(s["Action"])}


def function_role(translated: dict, logical_id: str) -> str:
    return translated["Resources"][logical_id]["Properties"]["Role"]["Fn::GetAtt"][0]


# ------------------------------------------------------------------ cfn-lint


def run_cfn_lint(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(CFN_LINT + [str(path)], capture_output=True, text=True, cwd=REPO, timeout=300)


def test_cfn_lint_is_clean():
    result = run_cfn_lint(TEMPLATE_PATH)
    assert result.returncode == 0, result.stdout + result.stderr


def test_cfn_lint_catches_a_broken_copy(tmp_path):
    """Guards the check above: cfn-lint really reads the template and fails on an error."""
    text = TEMPLATE_PATH.read_text(encoding="utf-8")
    broken = text.replace("!GetAtt ValidateFunction.Arn", "!GetAtt NoSuchFunction.Arn")
    assert broken != text
    path = tmp_path / "template.yaml"
    path.write_text(broken, encoding="utf-8")
    result = run_cfn_lint(path)
    assert result.returncode != 0
    assert "NoSuchFunction" in result.stdout


# ------------------------------------------------------------------ functions


def test_every_function_is_rust_on_arm64(template, resources):
    functions = {k: v for k, v in resources.items() if v["Type"] == "AWS::Serverless::Function"}
    assert set(functions) == set(FUNCTIONS.values())
    globals_ = template["Globals"]["Function"]
    assert globals_["Runtime"] == "provided.al2023"
    assert globals_["Architectures"] == ["arm64"]
    assert globals_["Handler"] == "bootstrap"
    assert globals_["Tracing"] == "Active"
    assert globals_["Environment"]["Variables"]["LOG_FORMAT"] == "json"
    for binary, logical_id in FUNCTIONS.items():
        fn = functions[logical_id]
        assert fn["Metadata"] == {"BuildMethod": "rust-cargolambda", "BuildProperties": {"Binary": binary}}
        # cargo lambda builds the named binary from the workspace root.
        assert fn["Properties"].get("CodeUri", globals_.get("CodeUri")) == "."
        assert "Runtime" not in fn["Properties"] or fn["Properties"]["Runtime"] == "provided.al2023"


# ------------------------------------------------------------------ storage


@pytest.mark.parametrize("bucket", ["InputBucket", "OutputBucket"])
def test_buckets_are_private_and_encrypted(resources, bucket):
    props = resources[bucket]["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    (sse,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}
    # No public access or website hosting of any kind.
    assert "WebsiteConfiguration" not in props and "AccessControl" not in props


def page_origin(template: dict) -> dict:
    """The page's origin as the template computes it: FrontendOrigin if set, else the API's own URL."""
    return {"Fn::If": ["HasFrontendOrigin", {"Ref": "FrontendOrigin"}, {"Fn::GetAtt": ["HttpApi", "ApiEndpoint"]}]}


def test_frontend_origin_is_never_a_wildcard(template):
    param = template["Parameters"]["FrontendOrigin"]
    assert param["Default"] == ""
    pattern = re.compile(param["AllowedPattern"])
    assert not pattern.fullmatch("*") and not pattern.fullmatch("http://photos.example.com")
    assert pattern.fullmatch("https://photos.example.com") and pattern.fullmatch("")
    assert template["Conditions"]["HasFrontendOrigin"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "FrontendOrigin"}, ""]}]}


def page_reads_presigned_urls_with_cors() -> bool:
    """True if the page fetches presigned URLs in CORS mode (crossorigin images, fetch of a record's
    presigned `thumbnailUrl`/`originalUrl`/`resultUrl`/`url` field; the sign-in `tokenUrl` is not one)."""
    js = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "frontend").rglob("*.js"))
    return bool(re.search(r"crossorigin|crossOrigin|fetch\([^)]*\b(thumbnailUrl|originalUrl|resultUrl|url)\b", js))


def test_input_bucket_cors_allows_only_the_signed_post_from_the_page(template, resources):
    props = resources["InputBucket"]["Properties"]
    assert props["NotificationConfiguration"]["EventBridgeConfiguration"]["EventBridgeEnabled"] is True
    (cors,) = props["CorsConfiguration"]["CorsRules"]
    assert cors["AllowedOrigins"] == [page_origin(template)]
    # The upload is a POST of the signed form; GETs are <img>/<a> loads, which need no CORS unless the page reads them.
    expected = {"POST", "GET"} if page_reads_presigned_urls_with_cors() else {"POST"}
    assert set(cors["AllowedMethods"]) == expected
    assert "*" not in cors.get("AllowedHeaders", []) and set(cors.get("AllowedHeaders", [])) <= {"content-type"}
    assert "OutputBucket" in resources and "CorsConfiguration" not in resources["OutputBucket"]["Properties"]


@pytest.mark.parametrize("bucket", ["InputBucket", "OutputBucket"])
def test_buckets_are_versioned_and_old_versions_expire(resources, bucket):
    props = resources[bucket]["Properties"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    rules = props["LifecycleConfiguration"]["Rules"]
    old = [r for r in rules if "NoncurrentVersionExpiration" in r]
    assert len(old) == 1 and old[0]["Status"] == "Enabled" and "Prefix" not in old[0]
    assert old[0]["NoncurrentVersionExpiration"] == {"NoncurrentDays": {"Ref": "NoncurrentVersionDays"}}
    assert old[0]["ExpiredObjectDeleteMarker"] is True
    abort = [r for r in rules if "AbortIncompleteMultipartUpload" in r]
    assert abort and abort[0]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 1


def test_files_a_record_points_at_expire_together_or_not_at_all(resources):
    """An original, its thumbnails and its result share one fate, so originalUrl never dangles: today none
    expires by age (records do not either: DONE records drop their TTL), and DELETE /images/{id} removes all."""
    where = {"uploads/": "InputBucket", "thumbnails/": "OutputBucket", "results/": "OutputBucket"}
    expiry = {}
    for prefix, bucket in where.items():
        rules = resources[bucket]["Properties"]["LifecycleConfiguration"]["Rules"]
        applying = [r for r in rules if prefix.startswith(r.get("Prefix", r.get("Filter", {}).get("Prefix", "")))]
        expiry[prefix] = {str(r.get("ExpirationInDays") or r.get("ExpirationDate")) for r in applying if "ExpirationInDays" in r or "ExpirationDate" in r}
    assert all(v == set() for v in expiry.values()), f"current objects expire by age: {expiry}"


def test_table_keys_index_ttl_and_protection(resources):
    table = resources["ImagesTable"]
    assert table["Type"] == "AWS::DynamoDB::Table"
    props = table["Properties"]
    assert props["TableName"] == {"Ref": "TableName"}
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["KeySchema"] == [{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}]
    assert {(a["AttributeName"], a["AttributeType"]) for a in props["AttributeDefinitions"]} == {
        ("PK", "S"),
        ("SK", "S"),
        ("GSI1PK", "S"),
        ("GSI1SK", "S"),
        ("GSI2PK", "S"),
        ("GSI2SK", "S"),
    }
    (gsi, pending) = props["GlobalSecondaryIndexes"]
    assert (pending["IndexName"], pending["Projection"]) == ("GSI2", {"ProjectionType": "KEYS_ONLY"})
    assert gsi["IndexName"] == "GSI1"
    assert gsi["KeySchema"] == [
        {"AttributeName": "GSI1PK", "KeyType": "HASH"},
        {"AttributeName": "GSI1SK", "KeyType": "RANGE"},
    ]
    assert gsi["Projection"] == {"ProjectionType": "ALL"}
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["DeletionProtectionEnabled"] is True
    assert props["SSESpecification"]["SSEEnabled"] is True


def test_table_name_parameter_defaults_to_imgpipe(template):
    assert template["Parameters"]["TableName"]["Default"] == "imgpipe"


# ------------------------------------------------------------------ events and state machine


def test_rule_starts_the_pipeline_for_uploads_only(resources):
    rule = resources["UploadCreatedRule"]["Properties"]
    pattern = rule["EventPattern"]
    assert pattern["source"] == ["aws.s3"]
    assert pattern["detail-type"] == ["Object Created"]
    assert pattern["detail"]["bucket"]["name"] == [{"Ref": "InputBucket"}]
    assert pattern["detail"]["object"]["key"] == [{"prefix": "uploads/"}]
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Ref": "PipelineStateMachine"}
    role_id = target["RoleArn"]["Fn::GetAtt"][0]
    role = resources[role_id]["Properties"]
    principals = [s["Principal"]["Service"] for s in role["AssumeRolePolicyDocument"]["Statement"]]
    assert principals == ["events.amazonaws.com"]
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    assert statements == [
        {"Effect": "Allow", "Action": "states:StartExecution", "Resource": {"Ref": "PipelineStateMachine"}}
    ]


def test_state_machine_is_standard_logged_and_traced(resources):
    sm = resources["PipelineStateMachine"]
    assert sm["Type"] == "AWS::Serverless::StateMachine"
    props = sm["Properties"]
    assert props["Type"] == "STANDARD"
    assert props["DefinitionUri"] == "statemachine/pipeline.asl.json"
    assert (REPO / props["DefinitionUri"]).is_file()
    assert props["Tracing"] == {"Enabled": True}
    logging = props["Logging"]
    assert logging["Level"] in {"ERROR", "ALL"}
    assert logging["IncludeExecutionData"] is True
    (dest,) = logging["Destinations"]
    log_group = dest["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    assert resources[log_group]["Type"] == "AWS::Logs::LogGroup"


def test_state_machine_may_invoke_exactly_the_four_steps(resources):
    policies = resources["PipelineStateMachine"]["Properties"]["Policies"]
    invoked = {p["LambdaInvokePolicy"]["FunctionName"]["Ref"] for p in policies if "LambdaInvokePolicy" in p}
    assert invoked == {"ValidateFunction", "DetectLabelsFunction", "ThumbnailFunction", "PersistFunction"}


def test_outputs(template):
    assert {"ApiUrl", "InputBucketName", "OutputBucketName", "StateMachineArn", "TableName"} <= set(template["Outputs"])


# ------------------------------------------------------------------ IAM (on SAM's CloudFormation output)


def all_roles(translated: dict) -> dict:
    return {k: v for k, v in translated["Resources"].items() if v["Type"] == "AWS::IAM::Role"}


def test_translation_yields_a_role_per_function_and_the_state_machine(translated):
    roles = set(all_roles(translated))
    expected = {f"{fn}Role" for fn in FUNCTIONS.values()} | {
        "PipelineStateMachineRole",
        "ReprocessStateMachineRole",
        "UploadCreatedRuleRole",
    }
    assert roles == expected


def test_no_full_access_managed_policies(translated):
    for role_id, role in all_roles(translated).items():
        for arn in role["Properties"].get("ManagedPolicyArns", []):
            name = str(arn).rsplit("/", 1)[-1]
            assert "FullAccess" not in name, f"{role_id}: {arn}"
            assert name in SAM_MANAGED_POLICIES, f"{role_id}: unexpected managed policy {arn}"


def test_no_wildcard_actions_or_resources_except_where_aws_allows_nothing_else(translated):
    for role_id, role in all_roles(translated).items():
        for p in role["Properties"].get("Policies", []):
            for s in p["PolicyDocument"]["Statement"]:
                if s["Effect"] != "Allow":
                    continue
                actions = set(as_list(s["Action"]))
                assert not any(a == "*" or a.endswith(":*") for a in actions), f"{role_id}: {actions}"
                if "*" in as_list(s["Resource"]):
                    assert actions <= STAR_ONLY_ACTIONS, f"{role_id}: Resource '*' for {actions - STAR_ONLY_ACTIONS}"


def test_s3_access_is_scoped_to_prefixes(translated):
    """Every S3 grant names one of the layout's prefixes (or is a bucket listing limited to them)."""
    allowed_suffixes = ("/uploads/*", "/thumbnails/*", "/results/*", "/reprocess/*")
    allowed_prefixes = {"uploads/*", "thumbnails/*", "results/*"}
    for role_id, role in all_roles(translated).items():
        for p in role["Properties"].get("Policies", []):
            for s in p["PolicyDocument"]["Statement"]:
                actions = as_list(s["Action"])
                if s["Effect"] != "Allow" or not any(a.startswith("s3:") for a in actions):
                    continue
                for resource in as_list(s["Resource"]):
                    if set(actions) <= {"s3:ListBucket", "s3:ListBucketVersions"}:
                        prefixes = set(as_list(s["Condition"]["StringLike"]["s3:prefix"]))
                        assert prefixes and prefixes <= allowed_prefixes, (role_id, prefixes)
                        continue
                    assert "Fn::Sub" in resource and resource["Fn::Sub"].endswith(allowed_suffixes), (role_id, resource)


def test_each_function_gets_only_what_it_needs(translated):
    def actions_of(logical_id):
        return allowed_actions(role_statements(translated, function_role(translated, logical_id)))

    presign, query = actions_of("PresignFunction"), actions_of("QueryFunction")
    validate, detect = actions_of("ValidateFunction"), actions_of("DetectLabelsFunction")
    thumbnail, persist = actions_of("ThumbnailFunction"), actions_of("PersistFunction")

    # Only presign (PENDING record), validate (its claim: one conditional UpdateItem) and persist
    # (final records) write the table; query only deletes (DELETE /images/{id}).
    assert DYNAMODB_WRITES & presign and DYNAMODB_WRITES & persist
    assert DYNAMODB_WRITES & query <= {"dynamodb:DeleteItem"}
    assert DYNAMODB_WRITES & validate == {"dynamodb:UpdateItem"}
    for actions in (detect, thumbnail):
        assert not DYNAMODB_WRITES & actions
    assert "dynamodb:Query" in query
    assert not any(a in {"dynamodb:Scan", "dynamodb:BatchWriteItem"} for a in presign | query | persist)
    assert {a for a in validate if a.startswith("dynamodb:")} == {"dynamodb:GetItem", "dynamodb:UpdateItem"}
    assert not any(a.startswith("dynamodb:") for a in detect | thumbnail)
    # Rekognition only where labels are detected.
    assert "rekognition:DetectLabels" in detect
    assert not any(a.startswith("rekognition:") for a in presign | query | validate | thumbnail | persist)
    # The query function reads; it never writes objects or starts executions.
    assert "s3:PutObject" not in query and "states:StartExecution" not in query
    assert "states:GetExecutionHistory" in query
    assert "s3:PutObject" in thumbnail and "s3:PutObject" in persist and "s3:PutObject" in presign


def test_query_reads_only_this_pipelines_executions(translated):
    statements = role_statements(translated, function_role(translated, "QueryFunction"))
    states = [s for s in statements if any(a.startswith("states:") for a in as_list(s["Action"]))]
    machine = {"Ref": "PipelineStateMachine"}
    # The console lists the pipeline's executions (ListExecutions names the state machine itself)...
    for s in states:
        if machine in as_list(s["Resource"]):
            assert as_list(s["Action"]) == ["states:ListExecutions"] and as_list(s["Resource"]) == [machine], s
    resources = [r["Fn::Sub"] for s in states for r in as_list(s["Resource"]) if r != machine]
    assert any(":execution:${PipelineStateMachine.Name}:*" in r for r in resources)
    # ...and the re-process batches (Distributed Map child executions) that re-processed an image.
    assert all(r.endswith((":execution:${PipelineStateMachine.Name}:*", ":execution:${AWS::StackName}-reprocess/*")) for r in resources)


def test_pipeline_steps_time_out_before_their_states(template, resources, states):
    """Lambda's own timeout must fire first so the error says what happened."""
    globals_timeout = template["Globals"]["Function"]["Timeout"]
    for state_name, (_, logical_id) in PIPELINE_TASKS.items():
        timeout = resources[logical_id]["Properties"].get("Timeout", globals_timeout)
        assert timeout < states[state_name]["TimeoutSeconds"], (logical_id, timeout)
