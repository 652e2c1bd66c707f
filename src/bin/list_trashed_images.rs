//! Lambda function for `GET /api/v1/trashed_images` (see `album_api::handlers::list_trashed_images`).

use album_api::handlers::list_trashed_images::handle;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    album_api::run_http(
        album_api::Needs::JWT_AND_CLOUDINARY,
        |app, req| async move { handle(&app, req).await },
    )
    .await
}
