//! The table's schema: keys, the recent-by-owner and pending-uploads indexes and TTL, as `template.yaml` declares them
//! (an infra test ties the two). The local stack and the tests create the table from here.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex,
    GlobalSecondaryIndexUpdate, KeySchemaElement, KeyType, Projection, ProjectionType, ScalarAttributeType,
    TimeToLiveSpecification,
};

use super::keys::{GSI1, GSI1PK, GSI1SK, GSI2, GSI2PK, GSI2SK, PK, SK, TTL_ATTRIBUTE};
use crate::error::{classify_sdk_error, StepError};

/// Creates the single table (PK/SK, GSI1 for recent-by-owner, GSI2 for PENDING uploads by
/// creation time, keys only, TTL on `expiresAt`) unless it exists.
pub async fn ensure_table(client: &aws_sdk_dynamodb::Client, table: &str) -> Result<(), StepError> {
    let tables = client.list_tables().send().await.map_err(|e| classify_sdk_error("listing tables", &e))?;
    if tables.table_names().iter().any(|t| t == table) {
        return add_pending_index(client, table).await;
    }
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(
            [PK, SK, GSI1PK, GSI1SK, GSI2PK, GSI2SK].into_iter().map(string_attribute).collect::<Result<_, _>>()?,
        ))
        .set_key_schema(Some(vec![key(PK, KeyType::Hash)?, key(SK, KeyType::Range)?]))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(GSI1)
                .key_schema(key(GSI1PK, KeyType::Hash)?)
                .key_schema(key(GSI1SK, KeyType::Range)?)
                .projection(Projection::builder().projection_type(ProjectionType::All).build())
                .build()
                .map_err(build_error)?,
        )
        .global_secondary_indexes(pending_index()?)
        .send()
        .await
        .map_err(|e| classify_sdk_error("creating the table", &e))?;
    let ttl =
        TimeToLiveSpecification::builder().enabled(true).attribute_name(TTL_ATTRIBUTE).build().map_err(build_error)?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(ttl)
        .send()
        .await
        .map_err(|e| classify_sdk_error("enabling TTL on the table", &e))?;
    Ok(())
}

/// GSI2: PENDING uploads by creation time, keys only.
fn pending_index() -> Result<GlobalSecondaryIndex, StepError> {
    GlobalSecondaryIndex::builder()
        .index_name(GSI2)
        .key_schema(key(GSI2PK, KeyType::Hash)?)
        .key_schema(key(GSI2SK, KeyType::Range)?)
        .projection(Projection::builder().projection_type(ProjectionType::KeysOnly).build())
        .build()
        .map_err(build_error)
}

/// Adds GSI2 to a table created before it existed (a local data directory from an older build).
async fn add_pending_index(client: &aws_sdk_dynamodb::Client, table: &str) -> Result<(), StepError> {
    let described = client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(|e| classify_sdk_error("describing the table", &e))?;
    let indexes = described.table().map(|t| t.global_secondary_indexes()).unwrap_or_default();
    if indexes.iter().any(|i| i.index_name() == Some(GSI2)) {
        return Ok(());
    }
    let index = pending_index()?;
    let create = CreateGlobalSecondaryIndexAction::builder()
        .index_name(GSI2)
        .set_key_schema(Some(index.key_schema().to_vec()))
        .set_projection(index.projection().cloned())
        .build()
        .map_err(build_error)?;
    client
        .update_table()
        .table_name(table)
        .set_attribute_definitions(Some(vec![string_attribute(GSI2PK)?, string_attribute(GSI2SK)?]))
        .global_secondary_index_updates(GlobalSecondaryIndexUpdate::builder().create(create).build())
        .send()
        .await
        .map_err(|e| classify_sdk_error("adding the pending-uploads index", &e))?;
    Ok(())
}

fn string_attribute(name: &str) -> Result<AttributeDefinition, StepError> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(build_error)
}

fn key(name: &str, kind: KeyType) -> Result<KeySchemaElement, StepError> {
    KeySchemaElement::builder().attribute_name(name).key_type(kind).build().map_err(build_error)
}

/// A request builder refused a field: a bug in this crate.
pub(crate) fn build_error(e: aws_sdk_dynamodb::error::BuildError) -> StepError {
    StepError::Internal(format!("building a DynamoDB request: {e}"))
}
