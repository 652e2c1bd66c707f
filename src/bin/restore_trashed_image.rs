//! Lambda function for `DELETE /api/v1/trashed_images/{image_id}` (see `album_api::handlers::restore_trashed_image`).

use album_api::handlers::restore_trashed_image::handle;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    album_api::run_http(
        album_api::Needs::JWT_AND_CLOUDINARY,
        |app, req| async move { handle(&app, req).await },
    )
    .await
}
