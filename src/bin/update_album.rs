//! Lambda function for `PUT /api/v1/albums/{id}` (see `album_api::handlers::update_album`).

use album_api::handlers::update_album::handle;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    album_api::run_http(album_api::Needs::ALBUMS, |app, req| async move {
        handle(&app, req).await
    })
    .await
}
