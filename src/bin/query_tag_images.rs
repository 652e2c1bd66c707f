//! Lambda function for `GET /api/v1/tag_images` (see `album_api::handlers::query_tag_images`).

use album_api::handlers::query_tag_images::handle;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    album_api::run_http(
        album_api::Needs::JWT_AND_CLOUDINARY,
        |app, req| async move { handle(&app, req).await },
    )
    .await
}
