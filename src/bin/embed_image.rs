//! Lambda function for `GET /images/{image_id}` (see `album_api::handlers::embed_image`).

use album_api::handlers::embed_image::handle;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    album_api::run_http(
        album_api::Needs::JWT_AND_CLOUDINARY,
        |app, req| async move { handle(&app, req).await },
    )
    .await
}
