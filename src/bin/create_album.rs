//! Lambda function for `POST /api/v1/albums` (see `album_api::handlers::create_album`).

use album_api::handlers::create_album::handle;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    album_api::run_http(album_api::Needs::ALBUMS, |app, req| async move {
        handle(&app, req).await
    })
    .await
}
