//! Lambda function for `POST /api/v1/images/{id}/duplicate` (see `album_api::handlers::duplicate_image`).

use album_api::handlers::duplicate_image::handle;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    album_api::run_http(
        album_api::Needs::JWT_AND_CLOUDINARY,
        |app, req| async move { handle(&app, req).await },
    )
    .await
}
