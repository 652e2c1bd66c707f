//! The table: one [`Store`] over the SDK client, its operations in a
//! module per aggregate or protocol.
//!
//! Aggregates: [`accounts`], [`albums`], [`images`], [`tags`], [`jobs`],
//! [`idempotency`] keys, [`quotas`]. Protocols: the exact count ([`counting`],
//! and the [`delete_intents`] that keep it through a cut-off delete), the
//! bulk writes ([`batch`]) that album copies ([`copy`]) and moves
//! ([`moves`]) stream through. Plumbing: keys ([`keys`], [`item`]), errors,
//! retries, the client and its X-Ray interceptor.
//!
//! One table holds everything (key scheme in [`keys`]). Only this module
//! speaks DynamoDB: the rest of the crate sees domain types, and page keys
//! only as opaque [`PageKey`]s. There is no store trait (decision 0007).

pub mod accounts;
pub mod albums;
pub mod api_secrets;
pub mod batch;
pub mod client;
pub mod copy;
pub mod counting;
pub mod delete_intents;
pub mod error;
pub mod idempotency;
pub mod images;
pub mod imports;
pub mod item;
pub mod jobs;
pub mod keys;
pub mod move_claims;
pub mod moves;
pub mod quotas;
mod requests;
pub mod retry;
pub mod tags;
pub mod trash;
pub mod xray;

use aws_sdk_dynamodb::Client;

pub use client::{CONNECT_TIMEOUT, client_from_env, sdk_config_from_env, tuned};
pub(crate) use error::is_conditional_failure;
pub use error::{StoreError, describe, is_retryable};
pub use images::StoredImage;
pub use item::{Item, PageKey, item_size};
pub use retry::RetryPolicy;

/// How long finished job items are kept when nobody says (30 days; the
/// functions take `JOB_TTL_DAYS`).
pub const DEFAULT_JOB_TTL: std::time::Duration =
    std::time::Duration::from_secs(crate::config::DEFAULT_JOB_TTL_DAYS * 86_400);

/// The table, with the operations the API needs.
#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    table: String,
    policy: RetryPolicy,
    job_ttl: std::time::Duration,
    budgets: crate::deadline::Budgets,
}

impl Store {
    /// A store over `table` using `client`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            policy: RetryPolicy::default(),
            budgets: crate::deadline::Budgets::default(),
            job_ttl: DEFAULT_JOB_TTL,
        }
    }

    /// A store over `table` with a client built from `sdk` (the settings
    /// the function loaded at init).
    /// With active tracing, every call of the client is an X-Ray subsegment
    /// ([`xray`]).
    pub fn connect(sdk: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        let mut conf = aws_sdk_dynamodb::config::Builder::from(sdk);
        let endpoint_var = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").ok();
        if let Some(endpoint) =
            client::blank_endpoint_fallback(endpoint_var.as_deref(), sdk.endpoint_url())
        {
            conf.set_endpoint_url(endpoint);
        }
        if let Some(xray) = xray::XrayInterceptor::from_env() {
            conf = conf.interceptor(xray);
        }
        Self::new(Client::from_conf(conf.build()), table)
    }

    /// The same store keeping finished job items for `ttl` (their
    /// `expires_at`, which DynamoDB's TTL acts on).
    pub fn with_job_ttl(mut self, ttl: std::time::Duration) -> Self {
        self.job_ttl = ttl;
        self
    }

    /// The same store with other call budgets (read from the environment at
    /// init; tests shorten them).
    pub fn with_budgets(mut self, budgets: crate::deadline::Budgets) -> Self {
        self.budgets = budgets;
        self
    }

    /// The call budgets.
    pub fn budgets(&self) -> &crate::deadline::Budgets {
        &self.budgets
    }

    /// The same store with another retry policy (tests shorten it).
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The SDK client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The retry policy of batch writes and refused recounts.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    pub(crate) async fn get_item(&self, pk: String, sk: &str) -> Result<Option<Item>, StoreError> {
        retry::bounded("GetItem", self.budgets.read, {
            self.get_at(pk.clone(), sk).consistent_read(true).send()
        })
        .await
        .map(|o| o.item)
    }

    /// Writes `item` unless an item with its key exists: `true` when
    /// written, `false` when it was already there.
    pub(crate) async fn put_if_absent(&self, item: &Item) -> Result<bool, StoreError> {
        let res = retry::conditional("PutItem", self.budgets.write, {
            self.put_of(item.clone())
                .condition_expression("attribute_not_exists(pk)")
                .send()
        })
        .await?;
        Ok(res.is_some())
    }

    pub(super) async fn put(&self, item: Item) -> Result<(), StoreError> {
        retry::bounded("PutItem", self.budgets.write, {
            self.put_of(item.clone()).send()
        })
        .await
        .map(|_| ())
    }
}
