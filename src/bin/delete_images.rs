//! Lambda function for `DELETE /api/v1/images` (see `album_api::handlers::delete_images`).

use album_api::handlers::delete_images::handle;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    album_api::run_http(album_api::Needs::JWT, |app, req| async move {
        handle(&app, req).await
    })
    .await
}
