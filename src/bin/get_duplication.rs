//! Lambda function for `GET /api/v1/duplications/{job_id}` (see `album_api::handlers::get_duplication`).

use album_api::handlers::get_duplication::handle;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    album_api::run_http(album_api::Needs::ALBUMS, |app, req| async move {
        handle(&app, req).await
    })
    .await
}
