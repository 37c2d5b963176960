//! The `query` Lambda: an HTTP API route served through API Gateway by `lambda_http`.

#[tokio::main]
async fn main() -> Result<(), imgpipe_core::lambda::Error> {
    imgpipe_core::lambda::run_http(imgpipe_core::http::query_function_router).await
}
