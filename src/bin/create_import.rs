//! Lambda function for `POST /api/v1/imports` (see `album_api::handlers::create_import`).

use album_api::handlers::create_import::handle;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    album_api::run_http(album_api::Needs::ALBUMS, |app, req| async move {
        handle(&app, req).await
    })
    .await
}
