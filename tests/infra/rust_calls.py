"""Finds the AWS SDK operations the Rust functions call, so the IAM policies can be derived from the code.

A call is a method named after an operation of a service the crate depends on (operation names come
from botocore's service models, snake_cased as the Rust SDK names them) whose chain is sent
(`.send()`, `.presigned(`, `.into_paginator()`) before the statement ends. Comments, string
literals and `#[cfg(test)]` modules are ignored. Each call is located in the `fn` that holds it, so
a module shared by several Lambdas (the table module) can be attributed function by function.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

#: Rust SDK crate -> (botocore service name, IAM action prefix).
SDK_CRATES = {
    "aws-sdk-s3": ("s3", "s3"),
    "aws-sdk-dynamodb": ("dynamodb", "dynamodb"),
    "aws-sdk-rekognition": ("rekognition", "rekognition"),
    "aws-sdk-sfn": ("stepfunctions", "states"),
}
#: Words in the receiver that say which client a call goes through, when an operation name is
#: shared by several services.
RECEIVER_HINTS = {"s3": "s3", "dynamo": "dynamodb", "table": "dynamodb", "rekognition": "rekognition", "sfn": "stepfunctions"}
#: A chain is an AWS call only if it is sent (or presigned, or paginated) before the statement ends.
SENT = re.compile(r"\.send\(\)|\.presigned\(|\.into_paginator\(\)")
#: TransactWriteItems is authorized per item as the underlying operation (DynamoDB developer guide,
#: "Using IAM with DynamoDB transactions"); ConditionCheck has its own action.
TRANSACT_ITEM_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}
#: S3 operations whose IAM action is not their own name (S3 API reference, "Permissions" of each).
S3_ACTIONS = {
    "list_objects": "s3:ListBucket",
    "list_objects_v2": "s3:ListBucket",
    "list_object_versions": "s3:ListBucketVersions",
    "head_bucket": "s3:ListBucket",
    "head_object": "s3:GetObject",
    "get_object_attributes": "s3:GetObject",
    "delete_objects": "s3:DeleteObject",
}
#: ...and the ones that need the *Version action when they name a version.
S3_VERSIONED_ACTIONS = {
    "get_object": "s3:GetObjectVersion",
    "head_object": "s3:GetObjectVersion",
    "delete_object": "s3:DeleteObjectVersion",
}


@dataclass(frozen=True)
class Call:
    """One SDK operation call site."""

    path: str  # relative to functions/, e.g. core/src/table/mod.rs
    fn: str  # the enclosing fn ("" at module level)
    service: str  # botocore service name
    operation: str  # snake_case, as in Rust
    chain: str  # the call's text up to the end of its statement
    actions: frozenset[str] = field(default_factory=frozenset)
    on_index: bool = False  # a DynamoDB call that names an index


def blank_comments_and_strings(text: str) -> str:
    """The source with comments and the contents of string/char literals replaced by spaces (same length)."""
    out = list(text)
    i, n = 0, len(text)

    def blank(a: int, b: int) -> None:
        for k in range(a, b):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            blank(i, j)
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            blank(i, j)
            i = j
        elif c == "r" and re.match(r'r#*"', text[i:]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            hashes = len(re.match(r"r(#*)", text[i:]).group(1))
            start = i + 2 + hashes
            end = text.find('"' + "#" * hashes, start)
            end = n if end < 0 else end
            blank(start, end)
            i = end + 1 + hashes
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            blank(i + 1, j)
            i = j + 1
        elif c == "'" and re.match(r"'(\\.|[^\\'])'|'\\u\{[0-9a-fA-F]+\}'", text[i:]):
            m = re.match(r"'(\\.|[^\\'])'|'\\u\{[0-9a-fA-F]+\}'", text[i:])
            blank(i + 1, i + m.end() - 1)
            i += m.end()
        else:
            i += 1
    return "".join(out)


def matching_brace(text: str, open_at: int) -> int:
    """Index of the `}` closing the `{` at `open_at` (comments and strings already blanked)."""
    depth = 0
    for k in range(open_at, len(text)):
        if text[k] == "{":
            depth += 1
        elif text[k] == "}":
            depth -= 1
            if depth == 0:
                return k
    return len(text) - 1


def strip_test_modules(text: str) -> str:
    """Blanks `#[cfg(test)] mod name { ... }` blocks: test code is not what the Lambda runs."""
    for m in reversed(list(re.finditer(r"#\[cfg\(test\)\]\s*(pub\s+)?mod\s+\w+\s*\{", text))):
        end = matching_brace(text, m.end() - 1)
        text = text[: m.start()] + re.sub(r"[^\n]", " ", text[m.start() : end + 1]) + text[end + 1 :]
    return text


def fn_spans(text: str) -> list[tuple[str, int, int]]:
    """(name, body start, body end) of every fn with a body, innermost spans included."""
    spans = []
    for m in re.finditer(r"\bfn\s+([A-Za-z_][A-Za-z0-9_]*)", text):
        # The body is the first `{` after the signature, unless a `;` (a trait method without body) comes first.
        k = m.end()
        depth = 0
        while k < len(text):
            ch = text[k]
            if ch in "(<[":
                depth += 1
            elif ch in ")>]":
                depth = max(0, depth - 1) if not (ch == ">" and text[k - 1] == "-") else depth
            elif ch == ";" and depth == 0:
                k = -1
                break
            elif ch == "{" and depth == 0:
                break
            k += 1
        if k < 0 or k >= len(text):
            continue
        spans.append((m.group(1), k, matching_brace(text, k)))
    return spans


def enclosing_fn(spans: list[tuple[str, int, int]], pos: int) -> str:
    inner = [(s, name) for name, s, e in spans if s <= pos <= e]
    return max(inner)[1] if inner else ""


def statement_end(text: str, pos: int) -> int:
    """End of the statement or expression holding `pos`: the next `;` (or closing brace) at this nesting level."""
    depth = 0
    for k in range(pos, len(text)):
        ch = text[k]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            if depth == 0:
                return k
            depth -= 1
        elif ch == ";" and depth == 0:
            return k
    return len(text)


@lru_cache(maxsize=None)
def operations(service: str) -> frozenset[str]:
    """The service's operation names, snake_cased the way the Rust SDK names its fluent builders."""
    import botocore.session
    from botocore import xform_name

    model = botocore.session.get_session().get_service_model(service)
    return frozenset(xform_name(name) for name in model.operation_names)


def crate_services(cargo_toml: str) -> list[str]:
    """botocore service names of the aws-sdk-* crates a Cargo.toml depends on; unknown SDK crates are errors."""
    crates = set(re.findall(r"^\s*(aws-sdk-[a-z0-9-]+)\s*[.=]", cargo_toml, re.M))
    unknown = crates - set(SDK_CRATES)
    if unknown:
        raise ValueError(f"add {sorted(unknown)} to SDK_CRATES in tests/infra/rust_calls.py")
    return sorted(SDK_CRATES[c][0] for c in crates)


def iam_prefix(service: str) -> str:
    return next(prefix for svc, prefix in SDK_CRATES.values() if svc == service)


def pascal(snake: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in snake.split("_"))


def same_file_callees(text: str, spans, fn: str) -> set[str]:
    """`fn` and every fn of the same file it calls, transitively (by name: `name(` or `.name(`)."""
    bodies: dict[str, list[str]] = {}
    for name, s, e in spans:
        bodies.setdefault(name, []).append(text[s : e + 1])
    seen, todo = set(), [fn]
    while todo:
        cur = todo.pop()
        if cur in seen:
            continue
        seen.add(cur)
        for body in bodies.get(cur, []):
            todo.extend(n for n in bodies if n not in seen and re.search(rf"(?<![A-Za-z0-9_]){n}\s*\(", body))
    return seen


def actions_for(service: str, op: str, chain: str, scope_text: str) -> frozenset[str]:
    """The IAM actions one call needs. `scope_text` is the code of its fn and the same-file fns it calls."""
    prefix = iam_prefix(service)
    if service == "dynamodb" and op == "transact_write_items":
        kinds = set(re.findall(r"\b(Put|Update|Delete|ConditionCheck)::builder\(\)", scope_text))
        if not kinds:
            raise ValueError("transact_write_items with no Put/Update/Delete/ConditionCheck builder in reach")
        return frozenset(TRANSACT_ITEM_ACTIONS[k] for k in kinds)
    if service == "dynamodb" and op == "transact_get_items":
        return frozenset({"dynamodb:GetItem"})
    if service == "s3":
        if op in S3_VERSIONED_ACTIONS and re.search(r"\.(set_)?version_id\(", chain):
            return frozenset({S3_VERSIONED_ACTIONS[op]})
        if op == "copy_object":
            return frozenset({"s3:GetObject", "s3:PutObject"})
        return frozenset({S3_ACTIONS.get(op, f"s3:{pascal(op)}")})
    actions = {f"{prefix}:{pascal(op)}"}
    if service == "rekognition" and re.search(r"\bS3Object::builder\(\)", scope_text):
        # Rekognition reads an S3Object with the caller's permissions.
        builder = scope_text[scope_text.index("S3Object::builder()") :]
        builder = builder[: statement_end(builder, 0)]
        actions.add("s3:GetObjectVersion" if re.search(r"\.(set_)?version\(", builder) else "s3:GetObject")
    return frozenset(actions)


def find_calls(path: str, source: str, services: list[str]) -> list[Call]:
    """Every SDK operation call in one Rust file."""
    text = strip_test_modules(blank_comments_and_strings(source))
    spans = fn_spans(text)
    by_name: dict[str, list[str]] = {}
    for svc in services:
        for op in operations(svc):
            by_name.setdefault(op, []).append(svc)
    calls = []
    for m in re.finditer(r"\.\s*([a-z][a-z0-9_]*)\s*\(\s*\)", text):
        op = m.group(1)
        if op not in by_name:
            continue
        end = statement_end(text, m.end())
        chain = text[m.start() : end]
        if not SENT.search(chain):
            continue
        candidates = by_name[op]
        if len(candidates) > 1:
            receiver = text[max(0, m.start() - 80) : m.start()].lower()
            hinted = [svc for word, svc in RECEIVER_HINTS.items() if word in receiver and svc in candidates]
            if len(set(hinted)) != 1:
                raise ValueError(f"{path}: .{op}() is an operation of {candidates}; name the client in the receiver")
            candidates = hinted[:1]
        service = candidates[0]
        fn = enclosing_fn(spans, m.start())
        scope = "\n".join(text[s : e + 1] for name, s, e in spans if name in same_file_callees(text, spans, fn))
        calls.append(
            Call(
                path=path,
                fn=fn,
                service=service,
                operation=op,
                chain=" ".join(chain.split()),
                actions=actions_for(service, op, chain, scope or chain),
                on_index=service == "dynamodb" and bool(re.search(r"\.index_name\(", chain)),
            )
        )
    return calls


def fn_names(source: str) -> set[str]:
    """Names of the fns defined (with a body) in a Rust file, test modules excluded."""
    return {name for name, _, _ in fn_spans(strip_test_modules(blank_comments_and_strings(source)))}


def reachable_fns(source: str, roots: set[str]) -> set[str]:
    """`roots` and the same-file fns they call, transitively."""
    text = strip_test_modules(blank_comments_and_strings(source))
    spans = fn_spans(text)
    found: set[str] = set()
    for root in roots:
        found |= same_file_callees(text, spans, root)
    return found


def scan_functions(functions_dir: Path) -> list[Call]:
    """Every SDK call under functions/*/src, each crate scanned for the services it depends on."""
    calls: list[Call] = []
    for manifest in sorted(functions_dir.glob("*/Cargo.toml")):
        services = crate_services(manifest.read_text(encoding="utf-8"))
        if not services:
            continue
        for rs in sorted((manifest.parent / "src").rglob("*.rs")):
            rel = rs.relative_to(functions_dir).as_posix()
            calls.extend(find_calls(rel, rs.read_text(encoding="utf-8"), services))
    return calls
