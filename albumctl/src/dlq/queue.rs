//! The dead-letter queue: messages received hidden, kept hidden while a
//! re-run lasts, made visible again or deleted.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_sqs as sqs;

use super::message::RawMessage;

/// How long `list` hides the messages it reads, should it die before it
/// makes them visible again (it does so as soon as it has read the queue).
pub(crate) const LIST_VISIBILITY_SECONDS: i32 = 30;
/// How long `redrive` hides the message it re-runs; renewed every
/// [`HEARTBEAT`] while the re-run lasts. Kept messages are made visible
/// again when the redrive ends.
pub(crate) const REDRIVE_VISIBILITY_SECONDS: i32 = 1800;
/// How often a long re-run renews its message's invisibility.
pub(crate) const HEARTBEAT: Duration = Duration::from_secs(300);

/// An SDK error in one line: the service's code and message, else the
/// HTTP status, else the error chain (never the raw response).
pub(crate) fn sdk_error<E>(e: &sqs::error::SdkError<E, sqs::config::http::HttpResponse>) -> String
where
    E: sqs::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    use sqs::error::{ProvideErrorMetadata, SdkError};
    match (e.code(), e.message()) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c.to_string(),
        _ => match e {
            SdkError::ServiceError(s) => format!("HTTP {}", s.raw().status().as_u16()),
            other => sqs::error::DisplayErrorContext(other).to_string(),
        },
    }
}

pub(super) fn sqs_error<E>(
    what: &str,
    e: sqs::error::SdkError<E, sqs::config::http::HttpResponse>,
) -> String
where
    E: sqs::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    format!("SQS {what}: {}", sdk_error(&e))
}

/// Receives up to `max` messages, hiding them for `visibility` seconds.
pub(super) async fn receive(
    sqs: &sqs::Client,
    url: &str,
    max: i32,
    visibility: i32,
) -> Result<Vec<(RawMessage, String)>, String> {
    let out = sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(max)
        .visibility_timeout(visibility)
        .wait_time_seconds(1)
        .message_attribute_names("All")
        .message_system_attribute_names(sqs::types::MessageSystemAttributeName::SentTimestamp)
        .send()
        .await
        .map_err(|e| sqs_error("ReceiveMessage", e))?;
    Ok(out
        .messages()
        .iter()
        .map(|m| {
            (
                RawMessage::from_sdk(m),
                m.receipt_handle().unwrap_or_default().to_string(),
            )
        })
        .collect())
}

/// Hides a received message for `seconds` more (0: visible again).
async fn set_visibility(
    sqs: &sqs::Client,
    url: &str,
    receipt: &str,
    seconds: i32,
) -> Result<(), String> {
    let call = sqs.change_message_visibility().queue_url(url);
    let sent = call.receipt_handle(receipt).visibility_timeout(seconds);
    done("ChangeMessageVisibility", sent.send()).await
}

/// Awaits SQS call `what`, keeping only whether it worked.
async fn done<T, E>(
    what: &str,
    call: impl std::future::Future<
        Output = Result<T, sqs::error::SdkError<E, sqs::config::http::HttpResponse>>,
    >,
) -> Result<(), String>
where
    E: sqs::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    call.await.map(|_| ()).map_err(|e| sqs_error(what, e))
}

/// Makes the held messages visible again; the warnings of those it could not.
pub(super) async fn release(
    sqs: &sqs::Client,
    url: &str,
    held: &HashMap<String, String>,
) -> Vec<String> {
    let mut warnings = Vec::new();
    for (id, receipt) in held {
        if let Err(e) = set_visibility(sqs, url, receipt, 0).await {
            warnings.push(format!(
                "message {id} stays hidden until its visibility timeout: {e}"
            ));
        }
    }
    warnings
}

/// Deletes a message whose duplication is done.
pub(super) async fn delete(sqs: &sqs::Client, url: &str, receipt: &str) -> Result<(), String> {
    let call = sqs.delete_message().queue_url(url).receipt_handle(receipt);
    done("DeleteMessage", call.send()).await
}

/// Keeps a message hidden while its re-run lasts.
pub(super) fn heartbeat(
    sqs: &sqs::Client,
    url: &str,
    receipt: &str,
) -> tokio::task::JoinHandle<()> {
    let (sqs, url, receipt) = (sqs.clone(), url.to_string(), receipt.to_string());
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(HEARTBEAT).await;
            if let Err(e) = set_visibility(&sqs, &url, &receipt, REDRIVE_VISIBILITY_SECONDS).await {
                tracing::warn!(error = %e, "could not keep the message hidden");
            }
        }
    })
}
