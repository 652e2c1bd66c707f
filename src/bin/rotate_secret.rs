#![recursion_limit = "256"]
//! Lambda function `JwtSecretRotationFunction`: Secrets Manager's rotation steps for the JWT key.

use album_api::handlers::rotate_secret::handle;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    album_api::run_event(album_api::Needs::NONE, |app, event| async move {
        handle(&app, event).await
    })
    .await
}
