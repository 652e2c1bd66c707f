//! Lambda function for `GET /api/v1/imports/{id}` (see `album_api::handlers::get_import`).

use album_api::handlers::get_import::handle;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    album_api::run_http(album_api::Needs::JWT, |app, req| async move {
        handle(&app, req).await
    })
    .await
}
