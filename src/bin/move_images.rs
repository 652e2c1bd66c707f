//! Lambda function for `POST /api/v1/images/move` (see `album_api::handlers::move_images`).

use album_api::handlers::move_images::handle;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    album_api::run_http(album_api::Needs::JWT, |app, req| async move {
        handle(&app, req).await
    })
    .await
}
