"""Ties between the deployment files and the Rust code: names that must agree on both sides
(substitution keys, binary names, error names, environment variables)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from infra_support import FUNCTIONS, PIPELINE_TASKS, REPO, SUBSTITUTION

CORE_SRC = REPO / "functions" / "core" / "src"
ERROR_RS = CORE_SRC / "error.rs"
CONFIG_RS = CORE_SRC / "config.rs"

#: Which template resource a function touches -> the variable that must tell it the name.
RESOURCE_ENV = {
    "InputBucket": "INPUT_BUCKET",
    "OutputBucket": "OUTPUT_BUCKET",
    "ImagesTable": "TABLE_NAME",
    "PipelineStateMachine": "STATE_MACHINE_ARN",
}


def read_required(path: Path) -> str:
    if not path.is_file():
        pytest.fail(f"{path.relative_to(REPO)} does not exist; the deployment files refer to names defined there")
    return path.read_text(encoding="utf-8")


def functions(resources: dict) -> dict:
    return {k: v for k, v in resources.items() if v["Type"] == "AWS::Serverless::Function"}


def references(node) -> set[str]:
    """Logical ids a template fragment refers to (Ref, GetAtt, ${X} and ${X.Attr} in Sub)."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0] if isinstance(value, list) else value.split(".")[0])
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                found.update(m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text))
                if isinstance(value, list):
                    found |= references(value[1])
            else:
                found |= references(value)
    elif isinstance(node, list):
        for item in node:
            found |= references(item)
    return found


# ------------------------------------------------------------------ ASL <-> template


def test_substitutions_match_the_definition_both_ways(asl_text, resources):
    used = set(SUBSTITUTION.findall(asl_text))
    provided = resources["PipelineStateMachine"]["Properties"]["DefinitionSubstitutions"]
    assert used == set(provided), f"only in ASL: {used - set(provided)}; only in template: {set(provided) - used}"


def test_each_substitution_is_its_steps_function_arn(resources):
    provided = resources["PipelineStateMachine"]["Properties"]["DefinitionSubstitutions"]
    for key, logical_id in PIPELINE_TASKS.values():
        assert provided[key] == {"Fn::GetAtt": [logical_id, "Arn"]}, key
        assert resources[logical_id]["Type"] == "AWS::Serverless::Function"


# ------------------------------------------------------------------ template <-> Cargo


def cargo_binaries() -> dict[str, Path]:
    """Binary name -> crate dir, for every crate under functions/ (explicit [[bin]] or src/main.rs)."""
    bins: dict[str, Path] = {}
    for manifest in sorted((REPO / "functions").glob("*/Cargo.toml")):
        cargo = tomllib.loads(manifest.read_text(encoding="utf-8"))
        crate = manifest.parent
        names = [b["name"] for b in cargo.get("bin", [])]
        if not names and (crate / "src" / "main.rs").is_file():
            names = [cargo["package"]["name"]]
        for name in names:
            assert name not in bins, f"binary {name} defined twice ({bins.get(name)} and {crate})"
            bins[name] = crate
    return bins


def workspace_members() -> set[Path]:
    root = tomllib.loads((REPO / "Cargo.toml").read_text(encoding="utf-8"))
    return {(REPO / m).resolve() for m in root["workspace"]["members"]}


def test_every_function_builds_a_binary_of_the_workspace(resources):
    bins = cargo_binaries()
    members = workspace_members()
    for logical_id, fn in functions(resources).items():
        binary = fn["Metadata"]["BuildProperties"]["Binary"]
        assert binary in bins, f"{logical_id}: no crate under functions/ has a [[bin]] named {binary!r}"
        # CodeUri is the workspace root, so the crate must be a workspace member.
        assert bins[binary].resolve() in members, f"{bins[binary]} is not a workspace member"


def test_every_function_binary_is_deployed(resources):
    deployed = {fn["Metadata"]["BuildProperties"]["Binary"] for fn in functions(resources).values()}
    assert set(cargo_binaries()) == deployed
    assert deployed == set(FUNCTIONS)


# ------------------------------------------------------------------ ASL <-> Rust error names


def emitted_error_names() -> set[str]:
    """errorType names the Rust code defines: `pub const X: &str = "Name";` in core's error.rs."""
    text = read_required(ERROR_RS)
    names = set(re.findall(r'pub\s+const\s+[A-Z_]+\s*:\s*&(?:\'static\s+)?str\s*=\s*"([A-Za-z][A-Za-z0-9.]*)"', text))
    assert names, f"{ERROR_RS.relative_to(REPO)} defines no error name constants"
    return names


def test_error_names_in_the_definition_are_emitted_by_the_code(states):
    emitted = emitted_error_names()
    matched = {
        name
        for state in states.values()
        for rule in state.get("Retry", []) + state.get("Catch", [])
        for name in rule["ErrorEquals"]
    }
    custom = {n for n in matched if not n.startswith(("States.", "Lambda."))}
    assert custom <= emitted, f"ErrorEquals names no code emits: {custom - emitted}"
    # The two names the pipeline's control flow depends on are both matched and emitted.
    assert {"ImageRejected", "Retryable"} <= custom


def test_error_names_are_what_error_type_returns():
    text = read_required(ERROR_RS)
    body = re.search(r"fn\s+error_type\s*\(&self\)[^{]*\{(.*?)\n    \}", text, re.S)
    assert body, "error.rs has no `fn error_type(&self)`"
    consts = dict(re.findall(r'pub\s+const\s+([A-Z_]+)\s*:\s*&str\s*=\s*"([^"]+)"', text))
    returned = {consts.get(tok, tok) for tok in re.findall(r"=>\s*([A-Z_]+)", body.group(1))}
    assert {"ImageRejected", "Retryable", "InternalError"} <= returned


# ------------------------------------------------------------------ template <-> Rust config


#: Variables the template sets ahead of the Rust code that will read them (none today).
#: Remove an entry once config.rs reads it (the test below says when).
SET_AHEAD_OF_CODE: set[tuple[str, str]] = set()


def test_function_variables_are_read_by_config(resources):
    config = read_required(CONFIG_RS)
    for logical_id, fn in functions(resources).items():
        for name in fn["Properties"].get("Environment", {}).get("Variables", {}):
            read = f'"{name}"' in config
            if (logical_id, name) in SET_AHEAD_OF_CODE:
                assert not read, f"config.rs now reads {name}: remove it from SET_AHEAD_OF_CODE in {__file__}"
            else:
                assert read, f"{logical_id} sets {name}, which config.rs never reads"


def test_variables_set_ahead_of_code_are_set(resources):
    for logical_id, name in SET_AHEAD_OF_CODE:
        assert name in resources[logical_id]["Properties"]["Environment"]["Variables"], (logical_id, name)


def test_global_variables_are_read_somewhere_in_the_functions(template):
    sources = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "functions").glob("*/src/**/*.rs"))
    assert sources, "no Rust sources under functions/"
    for name in template["Globals"]["Function"]["Environment"]["Variables"]:
        assert f'"{name}"' in sources, f"Globals set {name}, which no function code reads"


def test_functions_are_told_the_names_of_what_they_touch(resources):
    """A function whose policies name a bucket, the table or the state machine gets its name from
    the environment (config.rs falls back to local-mode defaults that would be wrong on AWS)."""
    for logical_id, fn in functions(resources).items():
        touched = references(fn["Properties"].get("Policies", [])) & set(RESOURCE_ENV)
        env = fn["Properties"].get("Environment", {}).get("Variables", {})
        for resource in touched:
            var = RESOURCE_ENV[resource]
            assert var in env, f"{logical_id} may use {resource} but does not set {var}"
            assert references(env[var]) == {resource}, f"{logical_id}: {var} does not point at {resource}"


# ------------------------------------------------------------------ Custom Labels model (issue 13)

#: Names of Custom Labels model versions as Rekognition forms them, and near misses.
MODEL_ARNS_GOOD = [
    "arn:aws:rekognition:us-east-1:123456789012:project/my-project/version/my-project.2020-01-21T09.10.15/1579626615000",
    "arn:aws-cn:rekognition:cn-north-1:123456789012:project/p_1/version/V-2/1",
]
MODEL_ARNS_BAD = [
    "arn:aws:rekognition:us-east-1:123456789012:project/my-project/1579626615000",
    "arn:aws:rekognition:us-east-1:123456789012:project/p/version/v/1/extra",
    "arn:aws:rekognition:us-east-1:12345678901:project/p/version/v/1",
    "arn:aws:s3:::bucket/project/p/version/v/1",
    "arn:aws:rekognition:us-east-1:123456789012:project/p q/version/v/1",
    "arn:aws:rekognition:us-east-1:123456789012:project/p/version/v/1x",
    "*",
]


def test_the_custom_labels_model_reaches_config_under_the_name_it_reads(resources):
    env = resources["DetectLabelsFunction"]["Properties"]["Environment"]["Variables"]
    assert env["CUSTOM_LABELS_MODEL_ARN"] == {
        "Fn::If": ["HasCustomLabelsModel", {"Ref": "CustomLabelsModelArn"}, {"Ref": "AWS::NoValue"}]
    }
    assert '"CUSTOM_LABELS_MODEL_ARN"' in read_required(CONFIG_RS)
    # Only the function that calls DetectCustomLabels is told the model.
    others = [k for k, fn in functions(resources).items() if k != "DetectLabelsFunction"
              and "CUSTOM_LABELS_MODEL_ARN" in fn["Properties"].get("Environment", {}).get("Variables", {})]
    assert not others, others


def test_the_model_arn_parameter_accepts_what_rekognition_accepts(template):
    """AllowedPattern agrees with the ProjectVersionArn pattern of Rekognition's API model (botocore)."""
    import botocore.session

    shape = botocore.session.get_session().get_service_model("rekognition").shape_for("ProjectVersionArn")
    aws = re.compile(shape.metadata["pattern"])
    parameter = template["Parameters"]["CustomLabelsModelArn"]
    ours = re.compile(parameter["AllowedPattern"])
    assert parameter["Default"] == "" and ours.fullmatch("")
    for arn in MODEL_ARNS_GOOD:
        assert aws.search(arn) and ours.fullmatch(arn), arn
    for arn in MODEL_ARNS_BAD:
        assert not aws.search(arn), f"botocore accepts {arn}; fix the sample"
        assert not ours.fullmatch(arn), arn

