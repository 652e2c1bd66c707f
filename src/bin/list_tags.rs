//! Lambda function for `GET /api/v1/tags` (see `album_api::handlers::list_tags`).

use album_api::handlers::list_tags::handle;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    album_api::run_http(album_api::Needs::JWT, |app, req| async move {
        handle(&app, req).await
    })
    .await
}
