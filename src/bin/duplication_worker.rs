#![recursion_limit = "256"]
//! Lambda function `DuplicationWorkerFunction`: continues handed-off jobs (DynamoDB Streams).

use album_api::handlers::duplication_worker::handle;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    album_api::run_event(album_api::Needs::NONE, |app, event| async move {
        handle(&app, event).await
    })
    .await
}
