//! Embedded DynamoDB: dynoxide on SQLite in the data directory, served on loopback.

use std::path::Path;

use anyhow::Context;
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
