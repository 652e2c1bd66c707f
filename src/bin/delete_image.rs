//! Lambda function for `DELETE /api/v1/images/{id}` (see `album_api::handlers::delete_image`).

use album_api::handlers::delete_image::handle;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    album_api::run_http(album_api::Needs::JWT, |app, req| async move {
        handle(&app, req).await
    })
    .await
}
