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

/// The endpoint of the table's client when `AWS_ENDPOINT_URL_DYNAMODB` is
/// set but blank, as `sam local` sets it when it has no value for it (the
/// template declares it for local runs only): no local endpoint, as a blank
/// variable means throughout the crate, so the global `AWS_ENDPOINT_URL` or
/// else the regional endpoint. The SDK would take "" for the endpoint's URL
/// and panic at the first call. `None` when the variable is not blank: the
/// SDK's own choice stands.
pub fn blank_endpoint_fallback(
    dynamodb: Option<&str>,
    global: Option<&str>,
) -> Option<Option<String>> {
    let blank = |v: &str| v.trim().is_empty();
    match dynamodb {
        Some(v) if blank(v) => Some(global.filter(|g| !blank(g)).map(str::to_string)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::blank_endpoint_fallback;

    #[test]
    fn a_blank_dynamodb_endpoint_is_no_endpoint() {
        assert_eq!(blank_endpoint_fallback(Some(""), None), Some(None));
        assert_eq!(blank_endpoint_fallback(Some("  "), Some("")), Some(None));
        assert_eq!(
            blank_endpoint_fallback(Some(""), Some("http://127.0.0.1:4566")),
            Some(Some("http://127.0.0.1:4566".to_string()))
        );
    }

    #[test]
    fn a_set_or_absent_dynamodb_endpoint_is_left_to_the_sdk() {
        assert_eq!(
            blank_endpoint_fallback(Some("http://127.0.0.1:8000"), None),
            None
        );
        assert_eq!(
            blank_endpoint_fallback(None, Some("http://127.0.0.1:4566")),
            None
        );
        assert_eq!(blank_endpoint_fallback(None, None), None);
    }
}
