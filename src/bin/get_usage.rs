//! Lambda function for `GET /api/v1/usage` (see `album_api::handlers::get_usage`).

use album_api::handlers::get_usage::handle;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    album_api::run_http(album_api::Needs::JWT, |app, req| async move {
        handle(&app, req).await
    })
    .await
}
