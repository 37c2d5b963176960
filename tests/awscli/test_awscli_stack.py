"""The real AWS CLI against `imgpipe serve`, configured only by `eval "$(imgpipe env)"`: the
README's DynamoDB commands unchanged, S3, the Step Functions API (list, start with a hand-made
Object Created event, describe, list by status, history, stop; the JSONata pipeline's variables in
its history), and wrong credentials refused."""

from __future__ import annotations

import base64
import json
import re
import shlex
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from conftest import ROOT, Aws, env_lines, imgpipe_bin

PHOTO_DIRS = [Path(p) for p in (__import__("os").environ.get("IMGPIPE_TEST_PHOTOS", ""),) if p] + [
    Path.home() / ".cache/imgpipe/photos"
]


def readme_dynamodb_commands() -> list[str]:
    """Every `aws dynamodb ...` command of the README, in inline code or in a code block."""
    text = (ROOT / "README.md").read_text()
    inline = re.findall(r"`(aws dynamodb [^`]+)`", text)
    blocks = [line.strip() for line in text.splitlines() if line.strip().startswith("aws dynamodb ")]
    return list(dict.fromkeys(inline + blocks))


def http_json(method: str, url: str, token: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def multipart_post(url: str, fields: dict[str, str], content: bytes, content_type: str) -> int:
    """The browser's signed S3 POST: the form fields, then the file."""
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="photo"\r\n'
        f"Content-Type: {content_type}\r\n\r\n".encode() + content + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(url, data=b"".join(parts), method="POST")
    request.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status


@pytest.fixture(scope="session")
def uploaded(stack) -> dict:
    """A photo uploaded as the page does and processed to DONE: its id, owner and labels."""
    photo = next((d / "chelsea.png" for d in PHOTO_DIRS if (d / "chelsea.png").exists()), None)
    if photo is None:
        pytest.fail(f"no test photo chelsea.png in {PHOTO_DIRS} (scripts/test.sh sets IMGPIPE_TEST_PHOTOS)")
    token = subprocess.run(
        [imgpipe_bin(), "users", "token", "imgpipe", "--data", str(stack.data)],
        input=stack.password() + "\n", capture_output=True, text=True, check=True,
    ).stdout.strip()
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    content = photo.read_bytes()
    page = stack.endpoint("page")
    form = http_json("POST", f"{page}/uploads", token, {"filename": photo.name, "contentType": "image/png", "size": len(content)})
    assert multipart_post(form["upload"]["url"], form["upload"]["fields"], content, "image/png") in (200, 201, 204)
    deadline = time.time() + 240
    while True:
        image = http_json("GET", f"{page}/images/{form['imageId']}", token)
        if image["status"] != "PENDING" or time.time() > deadline:
            break
        time.sleep(0.5)
    assert image["status"] == "DONE", image
    return {"id": form["imageId"], "sub": claims["sub"], "labels": [l["name"].lower() for l in image["labels"]]}


def test_env_lines_point_at_the_running_stack_and_stay_the_same(stack):
    first, second = env_lines(stack.data), env_lines(stack.data)
    assert first == second
    assert first["AWS_ENDPOINT_URL_S3"] == stack.endpoint("S3")
    assert first["AWS_ENDPOINT_URL_DYNAMODB"] == stack.endpoint("DynamoDB")
    assert first["AWS_ENDPOINT_URL_SFN"] == stack.endpoint("Step Functions")
    assert first["AWS_REGION"] == first["AWS_DEFAULT_REGION"] == "us-east-1"
    assert first["AWS_ACCESS_KEY_ID"] and len(first["AWS_SECRET_ACCESS_KEY"]) >= 32


def test_s3_ls_lists_the_buckets(aws):
    listed = aws.run("s3", "ls").stdout
    assert "imgpipe-input" in listed and "imgpipe-output" in listed


def test_every_readme_dynamodb_command_runs_unchanged(aws, uploaded):
    commands = readme_dynamodb_commands()
    assert len(commands) >= 4, commands
    results = {}
    for command in commands:
        filled = command.replace("<id>", uploaded["id"]).replace("<sub>", uploaded["sub"])
        words = shlex.split(filled)
        results[command] = aws.json(*words[1:])
    by_kind = {c: r for c, r in results.items()}
    get_item = next(r for c, r in by_kind.items() if " get-item " in c)
    assert get_item["Item"]["status"]["S"] == "DONE"
    assert get_item["Item"]["owner"]["S"] == uploaded["sub"]
    recent = next(r for c, r in by_kind.items() if "--index-name GSI1" in c)
    assert any(item["PK"]["S"] == f"IMAGE#{uploaded['id']}" for item in recent["Items"]), recent
    for command, result in results.items():
        assert isinstance(result.get("Items", []), list), command
    # The label query as written (dog) runs; with the photo's own label it finds the photo.
    label_query = next(c for c in commands if "#LABEL#dog" in c)
    label = uploaded["labels"][0]
    words = shlex.split(label_query.replace("<sub>", uploaded["sub"]).replace("#LABEL#dog", f"#LABEL#{label}").replace("C#09000", "C#00000"))
    found = aws.json(*words[1:])
    assert any(item["SK"]["S"].endswith(uploaded["id"]) for item in found["Items"]), found


def object_created(bucket: str, key: str, size: int, etag: str) -> dict:
    """The EventBridge "Object Created" event S3 sends, by hand."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "000000000000",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {"key": key, "size": size, "etag": etag, "sequencer": "0062E99A88DC407460"},
            "request-id": "57H08PA84AB1JZW0",
            "requester": "000000000000",
            "source-ip-address": "127.0.0.1",
            "reason": "PutObject",
        },
    }


def uploaded_by_hand(aws: Aws, workdir: Path) -> dict:
    """An object copied in with the CLI, never through the page (so it has no upload record), and
    the Object Created event S3 would send for it."""
    key = f"uploads/{uuid.uuid4()}.jpg"
    photo = workdir / f"by-hand-{uuid.uuid4().hex[:8]}.jpg"
    photo.write_bytes(b"\xff\xd8\xff not really a photo")
    aws.run("s3", "cp", str(photo), f"s3://imgpipe-input/{key}")
    head = aws.json("s3api", "head-object", "--bucket", "imgpipe-input", "--key", key)
    return object_created("imgpipe-input", key, head["ContentLength"], head["ETag"].strip('"'))


def wait_ended(aws: Aws, arn: str) -> dict:
    deadline = time.time() + 60
    while True:
        described = aws.json("stepfunctions", "describe-execution", "--execution-arn", arn)
        if described["status"] != "RUNNING" or time.time() > deadline:
            return described
        time.sleep(0.2)


def test_stepfunctions_runs_a_hand_made_object_created_event(aws, workdir):
    machines = aws.json("stepfunctions", "list-state-machines")["stateMachines"]
    by_name = {m["name"]: m["stateMachineArn"] for m in machines}
    assert "imgpipe-pipeline" in by_name, machines
    machine = by_name["imgpipe-pipeline"]
    described = aws.json("stepfunctions", "describe-state-machine", "--state-machine-arn", machine)
    shipped = json.loads((ROOT / "statemachine/pipeline.asl.json").read_text())
    assert json.loads(described["definition"])["States"].keys() == shipped["States"].keys()

    event = uploaded_by_hand(aws, workdir)
    name = f"by-hand-{uuid.uuid4().hex[:8]}"
    started = aws.json("stepfunctions", "start-execution", "--state-machine-arn", machine, "--name", name, "--input", json.dumps(event))
    arn = started["executionArn"]
    assert arn.endswith(f":{name}")
    assert abs(started["startDate"] - time.time()) < 60, "epoch seconds, as the JSON protocol sends dates"

    ended = wait_ended(aws, arn)
    assert ended["status"] == "FAILED" and ended["error"] == "UnknownUpload", ended
    assert json.loads(ended["input"]) == event

    failed = aws.json("stepfunctions", "list-executions", "--state-machine-arn", machine, "--status-filter", "FAILED")
    assert arn in [e["executionArn"] for e in failed["executions"]]
    succeeded = aws.json("stepfunctions", "list-executions", "--state-machine-arn", machine, "--status-filter", "SUCCEEDED")
    assert arn not in [e["executionArn"] for e in succeeded["executions"]]

    events = aws.json("stepfunctions", "get-execution-history", "--execution-arn", arn)["events"]
    assert events[0]["type"] == "ExecutionStarted"
    assert json.loads(events[0]["executionStartedEventDetails"]["input"]) == event
    scheduled = next(e for e in events if e["type"] == "TaskScheduled")
    assert scheduled["taskScheduledEventDetails"]["resource"].endswith("function:validate")
    assert events[-1]["type"] == "ExecutionFailed"
    assert events[-1]["executionFailedEventDetails"]["error"] == "UnknownUpload"
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    newest_first = aws.json("stepfunctions", "get-execution-history", "--execution-arn", arn, "--reverse-order")["events"]
    assert [e["id"] for e in newest_first] == [e["id"] for e in reversed(events)]
    # The CLI pages through nextToken two events at a time and gets the same history.
    paged = aws.json("stepfunctions", "get-execution-history", "--execution-arn", arn, "--page-size", "2")["events"]
    assert paged == events

    again = aws.run("stepfunctions", "start-execution", "--state-machine-arn", machine, "--name", name, "--input", json.dumps(event), check=False)
    assert again.returncode != 0 and "ExecutionAlreadyExists" in again.stderr
    missing = aws.run("stepfunctions", "describe-execution", "--execution-arn", arn + "-nope", check=False)
    assert missing.returncode != 0 and "ExecutionDoesNotExist" in missing.stderr
    forged = aws.run(
        "stepfunctions", "list-executions", "--state-machine-arn", machine, "--no-paginate", "--next-token", "eyJhZnRlciI6IjAifQ.AAAA",
        check=False,
    )
    assert forged.returncode != 0 and "InvalidToken" in forged.stderr


def test_the_jsonata_pipeline_runs_and_its_history_shows_the_variables(jsonata_stack, workdir):
    aws = Aws(env_lines(jsonata_stack.data), workdir)
    machines = aws.json("stepfunctions", "list-state-machines")["stateMachines"]
    machine = next(m["stateMachineArn"] for m in machines if m["name"] == "imgpipe-pipeline")
    described = aws.json("stepfunctions", "describe-state-machine", "--state-machine-arn", machine)
    assert json.loads(described["definition"])["QueryLanguage"] == "JSONata"

    event = uploaded_by_hand(aws, workdir)
    arn = aws.json("stepfunctions", "start-execution", "--state-machine-arn", machine, "--input", json.dumps(event))["executionArn"]
    ended = wait_ended(aws, arn)
    # The Catch assigned the error; the Unknown Fail state's Error and Cause are {% $error.Error %} and {% $error.Cause %}.
    assert ended["status"] == "FAILED" and ended["error"] == "UnknownUpload" and ended["cause"], ended

    events = aws.json("stepfunctions", "get-execution-history", "--execution-arn", arn)["events"]
    exited = next(e for e in events if e["type"] == "TaskStateExited")["stateExitedEventDetails"]
    assert exited["name"] == "Validate"
    assert json.loads(exited["assignedVariables"]["error"]) == {"Error": "UnknownUpload", "Cause": ended["cause"]}
    assert exited["assignedVariablesDetails"] == {"truncated": False}
    failed = next(e for e in events if e["type"] == "FailStateEntered")["stateEnteredEventDetails"]
    assert failed["name"] == "Unknown"

    metadata = aws.json("stepfunctions", "get-execution-history", "--execution-arn", arn, "--no-include-execution-data")["events"]
    exited = next(e for e in metadata if e["type"] == "TaskStateExited")["stateExitedEventDetails"]
    assert "assignedVariables" not in exited and "output" not in exited, exited


def test_a_long_running_execution_is_stopped(waiting_stack, workdir):
    aws = Aws(env_lines(waiting_stack.data), workdir)
    machines = aws.json("stepfunctions", "list-state-machines")["stateMachines"]
    machine = next(m["stateMachineArn"] for m in machines if m["name"] == "imgpipe-pipeline")
    arn = aws.json("stepfunctions", "start-execution", "--state-machine-arn", machine, "--input", "{}")["executionArn"]
    assert aws.json("stepfunctions", "describe-execution", "--execution-arn", arn)["status"] == "RUNNING"
    running = aws.json("stepfunctions", "list-executions", "--state-machine-arn", machine, "--status-filter", "RUNNING")
    assert arn in [e["executionArn"] for e in running["executions"]]

    stopped = aws.json("stepfunctions", "stop-execution", "--execution-arn", arn, "--error", "Operator", "--cause", "not needed")
    assert abs(stopped["stopDate"] - time.time()) < 60
    described = aws.json("stepfunctions", "describe-execution", "--execution-arn", arn)
    assert (described["status"], described["error"], described["cause"]) == ("ABORTED", "Operator", "not needed")
    last = aws.json("stepfunctions", "get-execution-history", "--execution-arn", arn, "--reverse-order", "--max-items", "1")["events"][0]
    assert last["type"] == "ExecutionAborted"
    assert last["executionAbortedEventDetails"] == {"error": "Operator", "cause": "not needed"}
    aborted = aws.json("stepfunctions", "list-executions", "--state-machine-arn", machine, "--status-filter", "ABORTED")
    assert [e["executionArn"] for e in aborted["executions"]] == [arn]


@pytest.mark.parametrize(
    "args, code",
    [
        (["s3", "ls"], "SignatureDoesNotMatch"),
        (["dynamodb", "list-tables"], "InvalidSignatureException"),
        (["stepfunctions", "list-state-machines"], "InvalidSignatureException"),
    ],
)
def test_wrong_credentials_are_refused(aws, args, code):
    wrong_secret = aws.run(*args, env={"AWS_SECRET_ACCESS_KEY": "not-the-secret"}, check=False)
    assert wrong_secret.returncode != 0 and code in wrong_secret.stderr, wrong_secret.stderr
    wrong_key = aws.run(*args, env={"AWS_ACCESS_KEY_ID": "AKIAINTRUDER"}, check=False)
    assert wrong_key.returncode != 0, wrong_key.stdout
