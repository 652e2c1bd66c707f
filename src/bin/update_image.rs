//! Lambda function for `PUT /api/v1/images/{id}` (see `album_api::handlers::update_image`).

use album_api::handlers::update_image::handle;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    album_api::run_http(
        album_api::Needs::JWT_AND_CLOUDINARY,
        |app, req| async move { handle(&app, req).await },
    )
    .await
}
