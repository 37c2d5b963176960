"""Shared loaders and contract names for the infrastructure checks: the SAM template, its CloudFormation
translation, and the state machine definition.

Run from the repository root:
    npm ci --prefix tests/infra      # asl-validator (pinned in tests/infra/package.json)
    pip install -r tests/infra/requirements.txt   # cfn-lint brings aws-sam-translator
    python3 -m pytest tests/infra -q
"""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO / "template.yaml"
ASL_PATH = REPO / "statemachine" / "pipeline.asl.json"
REPROCESS_ASL_PATH = REPO / "statemachine" / "reprocess.asl.json"

#: Contract: function crate binary -> SAM logical id (/tmp/contracts.md, "Functions").
FUNCTIONS = {
    "presign": "PresignFunction",
    "query": "QueryFunction",
    "validate": "ValidateFunction",
    "detect-labels": "DetectLabelsFunction",
    "thumbnail": "ThumbnailFunction",
    "persist": "PersistFunction",
    "reconcile": "ReconcileFunction",
    "reclaim": "ReclaimFunction",
}

#: Contract: pipeline state -> DefinitionSubstitutions key -> function logical id.
PIPELINE_TASKS = {
    "Validate": ("ValidateFunctionArn", "ValidateFunction"),
    "DetectLabels": ("DetectLabelsFunctionArn", "DetectLabelsFunction"),
    "Thumbnail": ("ThumbnailFunctionArn", "ThumbnailFunction"),
    "Persist": ("PersistFunctionArn", "PersistFunction"),
}

SUBSTITUTION = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def load_template() -> dict:
    """The SAM template as plain dicts; short tags (!Ref, !Sub, ...) become their long forms."""
    from cfnlint.decode import cfn_yaml

    return json.loads(json.dumps(cfn_yaml.load(str(TEMPLATE_PATH))))


def load_asl_text() -> str:
    return ASL_PATH.read_text(encoding="utf-8")


def substitute_dummy_arns(text: str) -> str:
    """The definition with each ${Name} replaced by a well-formed Lambda ARN named after it."""
    return SUBSTITUTION.sub(
        lambda m: f"arn:aws:lambda:us-east-1:123456789012:function:imgpipe-{m.group(1)}", text
    )


def translate(template: dict) -> dict:
    """Runs the SAM transform (aws-sam-translator, as CloudFormation would) and returns the
    plain CloudFormation template, so the IAM roles SAM generates can be inspected."""
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    sam = copy.deepcopy(template)
    # The translator wants deployed code locations; `sam deploy` uploads them the same way.
    sam.setdefault("Globals", {}).setdefault("Function", {})["CodeUri"] = "s3://bucket/code.zip"
    for res in sam["Resources"].values():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::Serverless::Function" and "CodeUri" in props:
            props["CodeUri"] = "s3://bucket/code.zip"
        if res["Type"] == "AWS::Serverless::StateMachine" and "DefinitionUri" in props:
            props["DefinitionUri"] = "s3://bucket/definition.json"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    translator = Translator(managed_policy_map=None, sam_parser=Parser())
    return translator.translate(sam, parameter_values={}, get_managed_policy_map=lambda: {})


def conditional_statements_flattened(translated: dict) -> dict:
    """The translated template with each `Fn::If` in a role's policy statements replaced by the
    statements of both its branches (`AWS::NoValue` dropped): the most the role is granted in any
    deployment, which is what the least-privilege checks must see."""
    out = copy.deepcopy(translated)

    def flatten(statement) -> list:
        if isinstance(statement, dict) and set(statement) == {"Fn::If"}:
            _, when_true, when_false = statement["Fn::If"]
            return flatten(when_true) + flatten(when_false)
        if statement == {"Ref": "AWS::NoValue"}:
            return []
        return [statement]

    for resource in out["Resources"].values():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for policy in resource["Properties"].get("Policies", []):
            document = policy["PolicyDocument"]
            document["Statement"] = [s for st in document["Statement"] for s in flatten(st)]
    return out
