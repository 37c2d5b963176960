"""The table `template.yaml` declares is the one the code creates locally and queries everywhere:
core's `table/keys.rs` constants and `table/schema.rs` request, read from the Rust source."""

from __future__ import annotations

import re

from infra_support import REPO

KEYS_RS = REPO / "functions" / "core" / "src" / "table" / "keys.rs"
SCHEMA_RS = REPO / "functions" / "core" / "src" / "table" / "schema.rs"


def rust_constants() -> dict[str, str]:
    """`pub const NAME: &str = "value";` of keys.rs."""
    text = KEYS_RS.read_text()
    found = dict(re.findall(r'pub const ([A-Z0-9_]+): &str = "([^"]*)";', text))
    assert {"PK", "SK", "GSI1", "GSI1PK", "GSI1SK", "GSI2", "GSI2PK", "GSI2SK", "TTL_ATTRIBUTE"} <= found.keys(), found
    return found


def table(template: dict) -> dict:
    tables = [r for r in template["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table"]
    assert len(tables) == 1, "one table: the single-table design"
    return tables[0]["Properties"]


def keys(schema: list[dict]) -> dict[str, str]:
    return {k["KeyType"]: k["AttributeName"] for k in schema}


def test_key_schema_matches_the_code(template):
    c = rust_constants()
    props = table(template)
    assert keys(props["KeySchema"]) == {"HASH": c["PK"], "RANGE": c["SK"]}
    schema = SCHEMA_RS.read_text()
    assert "KeyType::Hash" in schema and "KeyType::Range" in schema


def test_attribute_definitions_match_the_code(template):
    c = rust_constants()
    declared = {a["AttributeName"]: a["AttributeType"] for a in table(template)["AttributeDefinitions"]}
    names = ["PK", "SK", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK"]
    assert declared == {c[n]: "S" for n in names}
    # schema.rs defines exactly these attributes, all strings.
    listed = re.search(r"\[" + ", ".join(names) + r"\]\.into_iter\(\)\.map\(string_attribute\)", SCHEMA_RS.read_text())
    assert listed, f"schema.rs defines {names} as string attributes"


def test_recent_by_owner_index_matches_the_code(template):
    c = rust_constants()
    indexes = table(template)["GlobalSecondaryIndexes"]
    assert [i["IndexName"] for i in indexes] == [c["GSI1"], c["GSI2"]]
    gsi = indexes[0]
    assert keys(gsi["KeySchema"]) == {"HASH": c["GSI1PK"], "RANGE": c["GSI1SK"]}
    assert gsi["Projection"]["ProjectionType"] == "ALL"
    assert "ProjectionType::All" in SCHEMA_RS.read_text()


def test_pending_uploads_index_matches_the_code(template):
    c = rust_constants()
    gsi = table(template)["GlobalSecondaryIndexes"][1]
    assert keys(gsi["KeySchema"]) == {"HASH": c["GSI2PK"], "RANGE": c["GSI2SK"]}
    assert gsi["Projection"]["ProjectionType"] == "KEYS_ONLY"
    schema = SCHEMA_RS.read_text()
    assert "index_name(GSI2)" in schema and "ProjectionType::KeysOnly" in schema


def test_ttl_and_billing_match_the_code(template):
    c = rust_constants()
    props = table(template)
    assert props["TimeToLiveSpecification"] == {"AttributeName": c["TTL_ATTRIBUTE"], "Enabled": True}
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert "BillingMode::PayPerRequest" in SCHEMA_RS.read_text()
