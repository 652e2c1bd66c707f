#![recursion_limit = "256"]
//! Lambda function `ScheduledDuplicateFunction`: duplications started by EventBridge.

use album_api::handlers::scheduled_duplicate::handle;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    album_api::run_event(album_api::Needs::NONE, |app, event| async move {
        handle(&app, event).await
    })
    .await
}
