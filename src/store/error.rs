//! What can go wrong talking to the table, as one error type, and which
//! SDK errors are worth another try.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

use crate::error::ApiError;

/// What can go wrong talking to the table.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Throttling, 5xx or network trouble outlasted the retries, or the
    /// invocation's deadline came first (decision 0006).
    #[error("DynamoDB unavailable: {0}")]
    Unavailable(String),
    /// Writes still unprocessed after every retry.
    #[error("{pending} items still unprocessed after {attempts} BatchWriteItem attempts")]
    RetriesExhausted {
        /// Items not written.
        pending: usize,
        /// Attempts made.
        attempts: u32,
    },
    /// A request DynamoDB refused for a reason retries cannot fix.
    #[error("DynamoDB error: {0}")]
    Dynamo(String),
    /// Images cannot be added to `album`: it is being renamed or merged
    /// into `to` (decision 0011).
    #[error("album {album} is being moved to {to}")]
    Moving {
        /// The album being moved.
        album: String,
        /// Where its images go.
        to: String,
    },
    /// The album a write needs is not there (deleted meanwhile, e.g. by
    /// the end of a move).
    #[error("album {0} does not exist")]
    AlbumMissing(String),
    /// An item in the table does not have the expected shape.
    #[error("corrupt item: {0}")]
    Corrupt(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) | StoreError::RetriesExhausted { .. } => {
                ApiError::Unavailable(e.to_string())
            }
            StoreError::Moving { .. } => ApiError::Conflict(e.to_string()),
            StoreError::AlbumMissing(_) => ApiError::NotFound(e.to_string()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

/// Whether an SDK error is worth retrying (throttling, 5xx, timeouts, I/O).
pub fn is_retryable<E: ProvideErrorMetadata>(err: &SdkError<E>) -> bool {
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(se) => {
            let status = se.raw().status().as_u16();
            status >= 500
                || matches!(
                    se.err().code(),
                    Some(
                        "ProvisionedThroughputExceededException"
                            | "ThrottlingException"
                            | "RequestLimitExceeded"
                            | "InternalServerError"
                            | "ServiceUnavailable"
                            | "LimitExceededException"
                            | "TransactionInProgressException"
                    )
                )
        }
        _ => false,
    }
}

/// A short description of an SDK error: its code and message, or its kind.
pub fn describe<E: ProvideErrorMetadata + std::fmt::Debug>(err: &SdkError<E>) -> String {
    match err {
        SdkError::ServiceError(se) => format!(
            "{}: {}",
            se.err().code().unwrap_or("unknown"),
            se.err().message().unwrap_or("")
        ),
        SdkError::TimeoutError(_) => "timeout".into(),
        SdkError::DispatchFailure(_) => "dispatch failure (connection)".into(),
        SdkError::ResponseError(_) => "unreadable response".into(),
        other => format!("{other:?}"),
    }
}

/// Whether DynamoDB refused the call for throughput: it applied nothing,
/// so sending it again cannot apply it twice.
pub(crate) fn is_throttling<E: ProvideErrorMetadata>(err: &SdkError<E>) -> bool {
    matches!(err, SdkError::ServiceError(se) if matches!(
        se.err().code(),
        Some("ProvisionedThroughputExceededException" | "ThrottlingException" | "RequestLimitExceeded")
    ))
}

pub(crate) fn is_conditional_failure<E: ProvideErrorMetadata>(err: &SdkError<E>) -> bool {
    matches!(err, SdkError::ServiceError(se) if se.err().code() == Some("ConditionalCheckFailedException"))
}
