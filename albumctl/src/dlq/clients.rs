//! The clients the dlq commands use: SQS for the queue, DynamoDB Streams
//! for a worker failure's records.

use aws_sdk_dynamodbstreams as streams;
use aws_sdk_sqs as sqs;

/// The SQS and DynamoDB Streams clients the commands use.
#[derive(Clone, Debug)]
pub struct Clients {
    /// The dead-letter queue's service.
    pub sqs: sqs::Client,
    /// The table's stream (worker failures).
    pub streams: streams::Client,
}

impl Clients {
    /// Clients from a shared configuration (its endpoints included:
    /// `AWS_ENDPOINT_URL_SQS`, `AWS_ENDPOINT_URL_DYNAMODB_STREAMS`,
    /// `AWS_ENDPOINT_URL`).
    pub(crate) fn new(sdk: &aws_config::SdkConfig) -> Self {
        Self {
            sqs: sqs::Client::new(sdk),
            streams: streams::Client::new(sdk),
        }
    }

    /// Both clients against one endpoint (a local emulator).
    pub fn with_endpoint(sdk: &aws_config::SdkConfig, endpoint: &str) -> Self {
        Self {
            sqs: sqs::Client::from_conf(
                sqs::config::Builder::from(sdk)
                    .endpoint_url(endpoint)
                    .build(),
            ),
            streams: streams::Client::from_conf(
                streams::config::Builder::from(sdk)
                    .endpoint_url(endpoint)
                    .build(),
            ),
        }
    }

    /// Clients from the environment, loaded and tuned as albumctl's
    /// DynamoDB client is.
    pub(crate) async fn from_env(budgets: &album_api::deadline::Budgets) -> Self {
        let sdk = album_api::store::tuned(
            aws_config::defaults(aws_config::BehaviorVersion::latest()),
            budgets,
        )
        .load()
        .await;
        Self::new(&sdk)
    }
}
