//! The `query` Lambda, served through API Gateway by `lambda_http`: the page (`GET /`,
//! `GET /{proxy+}`, embedded at compile time), `GET /config`, `GET /health`, and the signed-in
//! `GET`/`DELETE /images` routes (see `imgpipe_core::http::query_function_router`).

#[tokio::main]
async fn main() -> Result<(), imgpipe_core::lambda::Error> {
    imgpipe_core::lambda::run_http(imgpipe_core::http::query_function_router).await
}
