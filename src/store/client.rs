//! The SDK client of the table: timeouts and retries (decision 0006).

use std::time::Duration;

use aws_sdk_dynamodb::Client;

use super::retry;

/// How long connecting to DynamoDB may take (a new connection in the region
/// takes milliseconds).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// The SDK settings every client of the table uses (decision 0006): a
/// connect timeout and an attempt timeout of `budgets.attempt`, so a hung
/// connection becomes a retry instead of a hang; an operation timeout (no
/// call outlasts the longest budget even outside an invocation); the SDK's
/// standard retries ([`retry::sdk_retry_config`], environment honoured).
pub fn tuned(
    loader: aws_config::ConfigLoader,
    budgets: &crate::deadline::Budgets,
) -> aws_config::ConfigLoader {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(budgets.attempt)
        .operation_timeout(budgets.read.max(budgets.write).max(budgets.page))
        .build();
    loader
        .timeout_config(timeouts)
        .retry_config(retry::sdk_retry_config(|k| std::env::var(k).ok()))
}

/// The SDK settings of this process, from the environment (region,
/// credentials, `AWS_ENDPOINT_URL_*`), with [`tuned`] timeouts and
/// retries: loaded once at init and shared by every client the function
/// builds (the table's, and Secrets Manager's when it reads secrets).
pub async fn sdk_config_from_env(budgets: &crate::deadline::Budgets) -> aws_config::SdkConfig {
    tuned(
        aws_config::defaults(aws_config::BehaviorVersion::latest()),
        budgets,
    )
    .load()
    .await
}

/// Builds an SDK client from the environment (`AWS_ENDPOINT_URL_DYNAMODB`
/// included) with [`tuned`] settings.
pub async fn client_from_env(budgets: &crate::deadline::Budgets) -> Client {
    Client::new(&sdk_config_from_env(budgets).await)
}
