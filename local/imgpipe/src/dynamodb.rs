//! Embedded DynamoDB: dynoxide on SQLite in the data directory, served on loopback, with the
//! table created through the SDK from the same key and GSI design as `template.yaml`.

use std::path::Path;

use anyhow::Context;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TimeToLiveSpecification,
};
use tokio::sync::oneshot;

/// A running embedded DynamoDB endpoint; stops when dropped.
pub struct EmbeddedDynamo {
    pub url: String,
    _stop: oneshot::Sender<()>,
}

/// Starts dynoxide on `127.0.0.1:0` over `<data_dir>/dynamodb.sqlite`.
pub async fn start(data_dir: &Path) -> anyhow::Result<EmbeddedDynamo> {
    let path = data_dir.join("dynamodb.sqlite");
    let path_text = path.to_str().context("the data directory path is not valid UTF-8")?;
    let db = dynoxide::Database::new(path_text)
        .map_err(|e| anyhow::anyhow!("cannot open the DynamoDB store {}: {e}", path.display()))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("binding the DynamoDB endpoint")?;
    let url = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let shutdown = async move {
            let _ = stopped.await;
        };
        if let Err(e) = dynoxide::server::serve_with_shutdown(listener, db, shutdown).await {
            tracing::error!(error = %e, "embedded DynamoDB stopped");
        }
    });
    Ok(EmbeddedDynamo { url, _stop: stop })
}

/// Creates the single table (PK/SK, GSI1 for recent-by-owner, TTL on `expiresAt`) unless it exists.
pub async fn ensure_table(client: &aws_sdk_dynamodb::Client, table: &str) -> anyhow::Result<()> {
    let tables = client.list_tables().send().await.context("listing DynamoDB tables")?;
    if tables.table_names().iter().any(|t| t == table) {
        return Ok(());
    }
    let attr =
        |name: &str| AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build();
    let key = |name: &str, kind: KeyType| KeySchemaElement::builder().attribute_name(name).key_type(kind).build();
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("PK")?)
        .attribute_definitions(attr("SK")?)
        .attribute_definitions(attr("GSI1PK")?)
        .attribute_definitions(attr("GSI1SK")?)
        .key_schema(key("PK", KeyType::Hash)?)
        .key_schema(key("SK", KeyType::Range)?)
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("GSI1")
                .key_schema(key("GSI1PK", KeyType::Hash)?)
                .key_schema(key("GSI1SK", KeyType::Range)?)
                .projection(Projection::builder().projection_type(ProjectionType::All).build())
                .build()?,
        )
        .send()
        .await
        .context("creating the DynamoDB table")?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder().enabled(true).attribute_name("expiresAt").build()?,
        )
        .send()
        .await
        .context("enabling TTL on the table")?;
    Ok(())
}
