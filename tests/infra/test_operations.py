"""Nothing vanishes unnoticed and nothing runs away: the rule's dead-letter queue, the alarms (to an
optional SNS topic), and reserved concurrency for the heavy steps."""

from __future__ import annotations

import pytest

from infra_support import FUNCTIONS, PIPELINE_TASKS

ALARM_ACTIONS = {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}
#: Steps whose work is bounded by reserved concurrency (parameter, and the condition that drops it at 0).
RESERVED = {
    "DetectLabelsFunction": ("DetectLabelsConcurrency", "ReserveDetectLabels"),
    "ThumbnailFunction": ("ThumbnailConcurrency", "ReserveThumbnail"),
}


def alarms(resources: dict) -> dict:
    return {k: v["Properties"] for k, v in resources.items() if v["Type"] == "AWS::CloudWatch::Alarm"}


def alarms_on(resources: dict, namespace: str, metric: str, dimension: str, value) -> list[dict]:
    return [
        a
        for a in alarms(resources).values()
        if a["Namespace"] == namespace and a["MetricName"] == metric and {"Name": dimension, "Value": value} in a["Dimensions"]
    ]


def test_undelivered_upload_events_go_to_a_dead_letter_queue(resources):
    (target,) = resources["UploadCreatedRule"]["Properties"]["Targets"]
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    queue_id = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    queue = resources[queue_id]
    assert queue["Type"] == "AWS::SQS::Queue"
    assert queue["Properties"]["MessageRetentionPeriod"] == 1209600
    assert queue["Properties"].get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in queue["Properties"]
    (policy,) = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::SQS::QueuePolicy" and {"Ref": queue_id} in r["Properties"]["Queues"]
    ]
    allows = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert allows == [
        {
            "Sid": allows[0]["Sid"],
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": {"Fn::GetAtt": [queue_id, "Arn"]},
            "Condition": {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["UploadCreatedRule", "Arn"]}}},
        }
    ], "only this rule may send to the queue"


def test_every_alarm_notifies_the_topic_when_one_is_given(template, resources):
    param = template["Parameters"]["AlarmTopicArn"]
    assert param["Default"] == ""
    assert template["Conditions"]["HasAlarmTopic"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}]}
    assert alarms(resources)
    for name, alarm in alarms(resources).items():
        assert alarm["AlarmActions"] == ALARM_ACTIONS, name
        assert alarm["TreatMissingData"] == "notBreaching", name
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold", name


def test_pipeline_failures_timeouts_and_dead_letters_alarm(resources):
    machine = {"Ref": "PipelineStateMachine"}
    (failed,) = alarms_on(resources, "AWS/States", "ExecutionsFailed", "StateMachineArn", machine)
    # The Rejected path ends in a Fail state too, so failures share the threshold meant for expected events.
    assert failed["Threshold"] == {"Ref": "ErrorAlarmThreshold"}
    (timed_out,) = alarms_on(resources, "AWS/States", "ExecutionsTimedOut", "StateMachineArn", machine)
    assert timed_out["Threshold"] == 1
    queue_id = resources["UploadCreatedRule"]["Properties"]["Targets"][0]["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    (dead,) = alarms_on(
        resources, "AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", {"Fn::GetAtt": [queue_id, "QueueName"]}
    )
    assert dead["Threshold"] == 1 and dead["Statistic"] == "Maximum"


def rejecting_functions(states: dict) -> set[str]:
    """Functions whose state catches ImageRejected: for them a rejected upload is a Lambda error."""
    return {
        logical_id
        for state_name, (_, logical_id) in PIPELINE_TASKS.items()
        if any("ImageRejected" in c["ErrorEquals"] for c in states[state_name].get("Catch", []))
    }


@pytest.mark.parametrize("function", sorted(FUNCTIONS.values()))
def test_every_function_alarms_on_errors_and_throttles(function, resources, states):
    fn = {"Ref": function}
    (errors,) = alarms_on(resources, "AWS/Lambda", "Errors", "FunctionName", fn)
    expected = {"Ref": "ErrorAlarmThreshold"} if function in rejecting_functions(states) else 1
    assert errors["Threshold"] == expected
    (throttles,) = alarms_on(resources, "AWS/Lambda", "Throttles", "FunctionName", fn)
    reserved = "ReservedConcurrentExecutions" in resources[function]["Properties"]
    assert throttles["Threshold"] == ({"Ref": "ErrorAlarmThreshold"} if reserved else 1)
    for alarm in (errors, throttles):
        assert alarm["Statistic"] == "Sum" and alarm["Period"] == 300


def test_rejecting_steps_are_the_ones_the_definition_says():
    """Guards the helper above against an ASL that no longer catches ImageRejected anywhere."""
    assert rejecting_functions({"Validate": {"Catch": [{"ErrorEquals": ["ImageRejected"]}]}, "DetectLabels": {}, "Thumbnail": {}, "Persist": {}}) == {"ValidateFunction"}


@pytest.mark.parametrize("function", sorted(RESERVED))
def test_heavy_steps_have_reserved_concurrency_from_a_parameter(function, template, resources):
    param, condition = RESERVED[function]
    assert resources[function]["Properties"]["ReservedConcurrentExecutions"] == {
        "Fn::If": [condition, {"Ref": param}, {"Ref": "AWS::NoValue"}]
    }
    # 0 would throttle every call: it means "reserve nothing" instead.
    assert template["Conditions"][condition] == {"Fn::Not": [{"Fn::Equals": [{"Ref": param}, 0]}]}
    spec = template["Parameters"][param]
    assert spec["Type"] == "Number" and spec["MinValue"] == 0 and 1 <= spec["Default"] <= 50


def test_only_the_heavy_steps_reserve_concurrency(resources):
    reserving = {k for k in FUNCTIONS.values() if "ReservedConcurrentExecutions" in resources[k]["Properties"]}
    assert reserving == set(RESERVED)


def test_the_reconciler_runs_on_a_schedule_and_its_findings_alarm(resources, translated):
    """Issue 12: PENDING records nothing processes are found every 5 minutes (a Query of the sparse
    pending index, never a Scan), and what the reconciler finds raises an alarm."""
    props = resources["ReconcileFunction"]["Properties"]
    (event,) = props["Events"].values()
    assert event == {"Type": "Schedule", "Properties": {"Schedule": "rate(5 minutes)"}}
    env = props["Environment"]["Variables"]
    assert env["STATE_MACHINE_ARN"] == {"Ref": "PipelineStateMachine"}
    assert int(env["RECONCILE_AFTER_SECONDS"]) >= 60
    role = next(r for k, r in translated["Resources"].items() if k == "ReconcileFunctionRole")
    actions = {
        a
        for p in role["Properties"]["Policies"]
        for s in p["PolicyDocument"]["Statement"]
        for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    }
    assert "dynamodb:Query" in actions and "dynamodb:Scan" not in actions
    (findings,) = alarms_on(resources, "imgpipe", "Findings", "Component", "Reconciler")
    assert findings["Threshold"] == 1 and findings["Statistic"] == "Sum"


def test_the_findings_metric_is_the_one_the_code_emits():
    from infra_support import REPO

    code = (REPO / "functions" / "core" / "src" / "reconcile.rs").read_text()
    assert '"Namespace": "imgpipe"' in code and '"Dimensions": [["Component"]]' in code
    assert '"Component": "Reconciler"' in code and 'metric("Findings")' in code
