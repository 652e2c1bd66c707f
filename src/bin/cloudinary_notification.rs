//! Lambda function for `POST /api/v1/cloudinary?token=…` (see `album_api::handlers::cloudinary_notification`).

use album_api::handlers::cloudinary_notification::handle;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    album_api::run_http(album_api::Needs::WEBHOOK, |app, req| async move {
        handle(&app, req).await
    })
    .await
}
