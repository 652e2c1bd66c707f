//! # Album API
//!
//! A serverless photo-album service: albums and image records in DynamoDB,
//! image files on Cloudinary, one AWS Lambda function per endpoint behind API
//! Gateway, all deployed by one SAM template. Its heart is duplicating an
//! album: copying thousands of image items fast and exactly once.
//!
//! Layout (hexagonal): domain types ([`album`], [`image`]), rules ([`auth`],
//! [`cloudinary`], [`cursor`], [`tags`]), the use-cases ([`duplicate`],
//! [`album_move`], [`album_list`], [`tagging`], [`jobs`], [`schedule`],
//! [`embed`]) and the DynamoDB adapter ([`store`], the only module that
//! speaks DynamoDB); [`handlers`] adapt Lambda events (adding one:
//! `docs/adding-a-route.md`), [`http`] and [`entry`] hold the HTTP glue,
//! [`deadline`] the time budget of an invocation, [`metrics`] what the
//! functions count, [`telemetry`] what they log and trace per invocation,
//! [`config`] and [`secret`], [`secret_source`] the configuration read at
//! init ([`secret_refresh`] re-reads the signing secrets of a warm
//! function), and each `src/bin/*.rs` only wires a handler to the runtime.
//! What runs beside the functions (the CLI, the dev server, seeding) is
//! the `albumctl` package (decision 0007).

// Every public item says what it is: the library is read by the binaries,
// albumctl and the tests, and rustdoc is where they learn it.
#![warn(missing_docs)]

pub mod album;
pub mod album_list;
pub mod album_move;
pub mod api_secret;
pub mod api_secrets;
pub mod auth;
pub mod cloudinary;
pub mod cloudinary_api;
pub mod config;
pub mod cursor;
pub mod deadline;
pub mod deletion;
pub mod duplicate;
pub mod embed;
pub mod entry;
pub mod error;
pub mod handlers;
pub mod http;
pub mod idempotency;
pub mod image;
pub mod image_access;
pub mod image_duplicate;
pub mod image_edit;
pub mod image_move;
pub mod image_tags;
pub mod imports;
pub mod jobs;
pub mod metrics;
pub mod quota;
pub mod schedule;
pub mod secret;
pub mod secret_refresh;
pub mod secret_rotation;
pub mod secret_source;
pub mod service;
pub mod store;
pub mod tagging;
pub mod tags;
pub mod telemetry;
pub mod trash;

pub use config::Config;
pub use config::Needs;
pub use error::ApiError;
pub use service::App;

/// What every function does at init: the JSON logs (their level and
/// sampling validated here: a bad one fails init), panics logged as JSON,
/// metrics, then the configuration (with the secrets `needs` names) and
/// the client, validated once.
async fn init(needs: Needs) -> Result<std::sync::Arc<App>, lambda_runtime::Error> {
    telemetry::install(telemetry::LogSettings::from_env()?);
    entry::log_panics();
    metrics::install();
    Ok(std::sync::Arc::new(App::from_env(needs).await?))
}

/// Starts an HTTP function: tracing, metrics, configuration with the
/// secrets `needs` names, client, then the runtime loop calling `handler`
/// for every event inside its [`telemetry::Invocation`] (log keys, trace
/// annotations) and flushing its metrics. The common `main` of every
/// binary.
pub async fn run_http<F, Fut>(needs: Needs, handler: F) -> Result<(), lambda_http::Error>
where
    F: Fn(std::sync::Arc<App>, lambda_http::Request) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<
            Output = Result<lambda_http::Response<lambda_http::Body>, lambda_http::Error>,
        > + Send,
{
    let (app, handler) = (init(needs).await?, std::sync::Arc::new(handler));
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<_>| {
            let (app, handler) = (app.clone(), handler.clone());
            let request_id = event.context.request_id.clone();
            // The correlation id (API Gateway's request id) is recorded
            // once `serve` has read the event.
            let invocation = telemetry::Invocation::start(&event.context, None);
            async move {
                let serving = entry::serve(move |req| handler(app.clone(), req), event);
                let answer = invocation.run(serving).await;
                invocation.finish(answer.is_err());
                metrics::flush(&request_id);
                answer
            }
        },
    ))
    .await
}

/// Starts a non-HTTP function (EventBridge, DynamoDB Streams): tracing,
/// metrics, configuration with the secrets `needs` names, client, then the
/// runtime loop, each event inside its [`telemetry::Invocation`].
pub async fn run_event<F, Fut>(needs: Needs, handler: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(std::sync::Arc<App>, lambda_runtime::LambdaEvent<serde_json::Value>) -> Fut
        + Send
        + Sync
        + 'static,
    Fut: std::future::Future<Output = Result<serde_json::Value, lambda_runtime::Error>> + Send,
{
    let (app, handler) = (init(needs).await?, std::sync::Arc::new(handler));
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<serde_json::Value>| {
            let (app, handler) = (app.clone(), handler.clone());
            let request_id = event.context.request_id.clone();
            let correlation_id = telemetry::event_correlation_id(&event.payload);
            let invocation = telemetry::Invocation::start(&event.context, correlation_id);
            async move {
                let outcome = invocation.run(handler(app, event)).await;
                invocation.finish(outcome.is_err());
                metrics::flush(&request_id);
                outcome
            }
        },
    ))
    .await
}
