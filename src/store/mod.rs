//! DynamoDB persistence: items <-> domain, queries, and the batch copier.
//!
//! One table holds everything (key scheme in [`keys`]). The [`Store`] is the
//! only code that speaks DynamoDB; handlers and the duplication use-case see
//! domain types. There is deliberately no store trait: tests run against a
//! real DynamoDB-compatible server (with a fault-injecting proxy for what it
//! cannot produce), so a second, in-memory implementation would only be a
//! place for behaviour to diverge.

pub mod copy;
pub mod jobs;
pub mod keys;
pub mod retry;

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, Select};

use crate::album::Album;
use crate::error::ApiError;
use crate::image::{ImageRecord, sort_millis};
use keys::*;
pub use retry::RetryPolicy;

/// A DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

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

pub(crate) fn is_conditional_failure<E: ProvideErrorMetadata>(err: &SdkError<E>) -> bool {
    matches!(err, SdkError::ServiceError(se) if se.err().code() == Some("ConditionalCheckFailedException"))
}

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}
pub(crate) fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}
pub(crate) fn get_s<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v),
        _ => Err(StoreError::Corrupt(format!(
            "attribute {name} missing or not a string"
        ))),
    }
}
pub(crate) fn get_n(item: &Item, name: &str) -> Result<u64, StoreError> {
    match item.get(name) {
        None => Ok(0),
        Some(AttributeValue::N(v)) => v
            .parse::<i64>()
            .map(|x| x.max(0) as u64)
            .map_err(|_| StoreError::Corrupt(format!("attribute {name} is not an integer"))),
        _ => Err(StoreError::Corrupt(format!(
            "attribute {name} is not a number"
        ))),
    }
}

/// An image as read back: its id and its stored record.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredImage {
    /// Image id.
    pub id: String,
    /// Stored record.
    pub record: ImageRecord,
}

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

/// Builds an SDK client from the environment (`AWS_ENDPOINT_URL_DYNAMODB`
/// included) with [`tuned`] settings.
pub async fn client_from_env(budgets: &crate::deadline::Budgets) -> Client {
    let conf = tuned(
        aws_config::defaults(aws_config::BehaviorVersion::latest()),
        budgets,
    )
    .load()
    .await;
    Client::new(&conf)
}

/// The table, with the operations the API needs.
#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    table: String,
    policy: RetryPolicy,
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
        }
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
            self.client
                .get_item()
                .table_name(&self.table)
                .key(PK, s(pk.clone()))
                .key(SK, s(sk))
                .consistent_read(true)
                .send()
        })
        .await
        .map(|o| o.item)
    }

    /// Writes `item` unless an item with its key exists: `true` when
    /// written, `false` when it was already there.
    pub(crate) async fn put_if_absent(&self, item: &Item) -> Result<bool, StoreError> {
        let res = retry::conditional("PutItem", self.budgets.write, {
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item.clone()))
                .condition_expression("attribute_not_exists(pk)")
                .send()
        })
        .await?;
        Ok(res.is_some())
    }

    /// Creates or replaces an organization.
    pub async fn put_organization(&self, id: &str, name: &str) -> Result<(), StoreError> {
        self.put(HashMap::from([
            (PK.into(), s(org_pk(id))),
            (SK.into(), s(ORG_SK)),
            ("name".into(), s(name)),
        ]))
        .await
    }

    /// Whether an organization exists.
    pub async fn organization_exists(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.get_item(org_pk(id), ORG_SK).await?.is_some())
    }

    /// Creates or replaces a user of `organization_id`.
    pub async fn put_user(&self, id: &str, organization_id: &str) -> Result<(), StoreError> {
        self.put(HashMap::from([
            (PK.into(), s(user_pk(id))),
            (SK.into(), s(USER_SK)),
            (ORGANIZATION_ID.into(), s(organization_id)),
        ]))
        .await
    }

    /// The organization of user `id`, if the user exists.
    pub async fn user_organization(&self, id: &str) -> Result<Option<String>, StoreError> {
        match self.get_item(user_pk(id), USER_SK).await? {
            None => Ok(None),
            Some(item) => Ok(Some(get_s(&item, ORGANIZATION_ID)?.to_string())),
        }
    }

    async fn put(&self, item: Item) -> Result<(), StoreError> {
        retry::bounded("PutItem", self.budgets.write, {
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item.clone()))
                .send()
        })
        .await
        .map(|_| ())
    }

    /// Reads an album (strongly consistent).
    pub async fn get_album(&self, id: &str) -> Result<Option<Album>, StoreError> {
        match self.get_item(album_pk(id), ALBUM_SK).await? {
            None => Ok(None),
            Some(item) => Ok(Some(Album {
                id: id.to_string(),
                organization_id: get_s(&item, ORGANIZATION_ID)?.to_string(),
                images_count: get_n(&item, "images_count")?,
                views_count: get_n(&item, "views_count")?,
                created_at: get_s(&item, "created_at").unwrap_or_default().to_string(),
            })),
        }
    }

    /// Creates `album` unless an album with its id exists; either way returns
    /// the album now stored (the caller checks its organization). Conditional,
    /// so two concurrent creators cannot overwrite each other.
    pub async fn create_album_if_absent(&self, album: &Album) -> Result<Album, StoreError> {
        Ok(self.create_or_get_album(album).await?.0)
    }

    /// Like [`Store::create_album_if_absent`], and says whether this call
    /// created the album (`true`) or found one (`false`).
    pub async fn create_or_get_album(&self, album: &Album) -> Result<(Album, bool), StoreError> {
        if self.create_album(album).await? {
            return Ok((album.clone(), true));
        }
        let found = self.get_album(&album.id).await?.ok_or_else(|| {
            StoreError::Corrupt("album vanished after a conditional failure".into())
        })?;
        Ok((found, false))
    }

    /// Creates `album` (with `seq` 0) unless an album with its id exists;
    /// `true` when this call created it. A creator knows that nothing was in
    /// the album before it, which lets a copy into it settle the count
    /// without reading the copy back ([`Store::settle_fresh_count`]).
    async fn create_album(&self, album: &Album) -> Result<bool, StoreError> {
        let item = HashMap::from([
            (PK.into(), s(album_pk(&album.id))),
            (SK.into(), s(ALBUM_SK)),
            (ORGANIZATION_ID.into(), s(&album.organization_id)),
            ("images_count".into(), n(album.images_count)),
            ("views_count".into(), n(album.views_count)),
            ("created_at".into(), s(&album.created_at)),
            ("seq".into(), n(0)),
        ]);
        self.put_if_absent(&item).await
    }

    /// Writes images into an album in batches, as a copy does (seeding and
    /// tests; the webhook has its own idempotent path). Recounts the album
    /// afterwards.
    pub async fn put_images(
        &self,
        album_id: &str,
        images: &[StoredImage],
    ) -> Result<u64, StoreError> {
        let mut requests = Vec::with_capacity(images.len());
        for img in images {
            requests.push(self.image_item(album_id, &img.id, &img.record)?);
        }
        copy::write_all(self, requests).await?;
        self.recount_images(album_id).await
    }

    /// The item of an image.
    pub fn image_item(
        &self,
        album_id: &str,
        image_id: &str,
        record: &ImageRecord,
    ) -> Result<Item, StoreError> {
        let millis = sort_millis(&record.created_at).ok_or_else(|| {
            StoreError::Corrupt(format!("image {image_id} has an invalid created_at"))
        })?;
        let data = serde_json::to_string(record).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(HashMap::from([
            (PK.into(), s(album_pk(album_id))),
            (SK.into(), s(image_sk(millis, image_id))),
            (IMAGE_ID.into(), s(image_id)),
            (DATA.into(), s(data)),
        ]))
    }

    /// Decodes an image item (needs `sk` and `d`).
    pub fn decode_image(item: &Item) -> Result<StoredImage, StoreError> {
        let sk = get_s(item, SK)?;
        let id =
            image_id_of_sk(sk).ok_or_else(|| StoreError::Corrupt(format!("bad image key {sk}")))?;
        let record = serde_json::from_str(get_s(item, DATA)?)
            .map_err(|e| StoreError::Corrupt(format!("image {id}: {e}")))?;
        Ok(StoredImage {
            id: id.to_string(),
            record,
        })
    }

    /// The `limit` newest images of an album, newest first.
    pub async fn newest_images(
        &self,
        album_id: &str,
        limit: usize,
    ) -> Result<Vec<StoredImage>, StoreError> {
        Ok(self.images_page(album_id, limit, None).await?.0)
    }

    /// Counts an album's image items (strongly consistent, every page).
    pub async fn count_images(&self, album_id: &str) -> Result<u64, StoreError> {
        let mut total = 0u64;
        let mut start: Option<Item> = None;
        loop {
            let out = retry::bounded("Query", self.budgets.page, {
                self.client
                    .query()
                    .table_name(&self.table)
                    .key_condition_expression("pk = :pk AND begins_with(sk, :img)")
                    .expression_attribute_values(":pk", s(album_pk(album_id)))
                    .expression_attribute_values(":img", s(IMAGE_SK_PREFIX))
                    .select(Select::Count)
                    .consistent_read(true)
                    .set_exclusive_start_key(start.clone())
                    .send()
            })
            .await?;
            total += out.count().max(0) as u64;
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(total),
            }
        }
    }

    /// Sets `images_count` to the number of image items, exactly, even while
    /// other writers add or remove images.
    ///
    /// Protocol (see `docs/decisions/0003-exact-images-count.md`): bump the
    /// album's `seq` and read it back, count, then store the count only if
    /// `seq` is unchanged. Every writer bumps `seq` before it writes (and a
    /// single-image writer again with its ±1), so a count that raced a write
    /// is refused and taken again, and the last writer to finish always
    /// stores a count that includes every write.
    pub async fn recount_images(&self, album_id: &str) -> Result<u64, StoreError> {
        for round in 1..=50 {
            let seq = self.bump_seq(album_id).await?;
            let count = self.count_images(album_id).await?;
            let stored = self
                .update_album_if(
                    album_id,
                    "SET images_count = :c, counted_seq = :seq",
                    "seq = :seq",
                    &[(":c", n(count)), (":seq", n(seq))],
                )
                .await?;
            if stored {
                return Ok(count);
            }
            // Someone bumped `seq` meanwhile. Concurrent recounters refuse
            // each other's counts (every bump does): retrying at once kept
            // ~30 of them in lock-step until all gave up (503). So pause
            // (jittered, to spread the contenders), then stop if a recount
            // that bumped after us has been stored: it counted every write
            // we answer for (`counted_seq`). The pause never runs past the
            // invocation's deadline (decision 0006).
            retry::pause_within_deadline("recount", self.policy.backoff(round)).await?;
            if let Some(item) = self.get_item(album_pk(album_id), ALBUM_SK).await?
                && get_n(&item, "counted_seq")? >= seq
            {
                return get_n(&item, "images_count");
            }
        }
        Err(StoreError::Unavailable(format!(
            "album {album_id} kept changing while being counted"
        )))
    }

    /// Stores `count` as the album's `images_count` only if no counted write
    /// has touched the album since it was created (`seq` still 0); `true`
    /// when stored. For a copy into a destination it created itself and
    /// finished in one run: every other writer bumps `seq` before it writes
    /// (copies included, see `CopyOptions::fresh_destination`), so an
    /// untouched `seq` means the album holds exactly the `count` images the
    /// copy wrote, and the recount's full read of them can be skipped
    /// (decision 0003). `false`: someone else wrote; recount.
    pub async fn settle_fresh_count(&self, album_id: &str, count: u64) -> Result<bool, StoreError> {
        self.update_album_if(
            album_id,
            "SET images_count = :c, seq = :one, counted_seq = :one",
            "seq = :zero",
            &[(":c", n(count)), (":one", n(1)), (":zero", n(0))],
        )
        .await
    }

    /// Applies `update` to the album item only if `condition` holds; `false`
    /// when it did not. The counting protocol's guarded steps (decision 0003).
    async fn update_album_if(
        &self,
        album_id: &str,
        update: &str,
        condition: &str,
        values: &[(&str, AttributeValue)],
    ) -> Result<bool, StoreError> {
        let values: HashMap<String, AttributeValue> = values
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        let res = retry::conditional("UpdateItem", self.budgets.write, {
            self.client
                .update_item()
                .table_name(&self.table)
                .key(PK, s(album_pk(album_id)))
                .key(SK, s(ALBUM_SK))
                .update_expression(update)
                .condition_expression(condition)
                .set_expression_attribute_values(Some(values.clone()))
                .send()
        })
        .await?;
        Ok(res.is_some())
    }

    /// Increments the album's `seq` and returns the new value: the first
    /// step of every counted write (decision 0003).
    pub async fn bump_seq(&self, album_id: &str) -> Result<u64, StoreError> {
        let bumped = retry::bounded("UpdateItem", self.budgets.write, {
            self.client
                .update_item()
                .table_name(&self.table)
                .key(PK, s(album_pk(album_id)))
                .key(SK, s(ALBUM_SK))
                .update_expression("ADD seq :one")
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_values(":one", n(1))
                .return_values(ReturnValue::UpdatedNew)
                .send()
        })
        .await?;
        bumped
            .attributes
            .as_ref()
            .map(|a| get_n(a, "seq"))
            .transpose()
            .map(|s| s.unwrap_or(0))
    }

    /// Adds `delta` to `images_count` (and bumps `seq`) only if `seq` is
    /// still `seq`; `false` when another writer or a recount came between.
    async fn add_count_if_seq(
        &self,
        album_id: &str,
        delta: i64,
        seq: u64,
    ) -> Result<bool, StoreError> {
        self.update_album_if(
            album_id,
            "ADD images_count :d, seq :one",
            "seq = :seq",
            &[(":d", n(delta)), (":one", n(1)), (":seq", n(seq))],
        )
        .await
    }

    /// Applies a single-image change to the count: the guarded increment,
    /// or a full recount when another writer came between (decision 0003).
    async fn settle_count(&self, album_id: &str, delta: i64, seq: u64) -> Result<(), StoreError> {
        if !self.add_count_if_seq(album_id, delta, seq).await? {
            self.recount_images(album_id).await?;
        }
        Ok(())
    }

    /// Records one image unless an image with its id is already in the
    /// album; keeps `images_count` exact. Returns whether it was new. A
    /// repeat (e.g. a re-delivered webhook) recounts, which also repairs a
    /// count left short by a crash between the write and the increment.
    pub async fn add_image(&self, album_id: &str, image: &StoredImage) -> Result<bool, StoreError> {
        let item = self.image_item(album_id, &image.id, &image.record)?;
        let seq = self.bump_seq(album_id).await?;
        if self.put_if_absent(&item).await? {
            self.settle_count(album_id, 1, seq).await?;
            Ok(true)
        } else {
            self.recount_images(album_id).await?;
            Ok(false)
        }
    }

    /// Deletes the image at `sk` of an album; keeps `images_count` exact.
    /// Returns whether it existed (a second delete recounts and says no).
    pub async fn remove_image(&self, album_id: &str, sk: &str) -> Result<bool, StoreError> {
        let seq = self.bump_seq(album_id).await?;
        let res = retry::conditional("DeleteItem", self.budgets.write, {
            self.client
                .delete_item()
                .table_name(&self.table)
                .key(PK, s(album_pk(album_id)))
                .key(SK, s(sk))
                .condition_expression("attribute_exists(pk)")
                .send()
        })
        .await?;
        match res {
            Some(_) => {
                self.settle_count(album_id, -1, seq).await?;
                Ok(true)
            }
            None => {
                self.recount_images(album_id).await?;
                Ok(false)
            }
        }
    }

    /// The album and sort key of image `image_id` (through the `by_image`
    /// index, which is eventually consistent).
    pub async fn find_image(&self, image_id: &str) -> Result<Option<(String, String)>, StoreError> {
        let out = retry::bounded("Query", self.budgets.read, {
            self.client
                .query()
                .table_name(&self.table)
                .index_name(BY_IMAGE_INDEX)
                .key_condition_expression("iid = :id")
                .expression_attribute_values(":id", s(image_id))
                .limit(1)
                .send()
        })
        .await?;
        let Some(item) = out.items().first() else {
            return Ok(None);
        };
        let pk = get_s(item, PK)?;
        let album = pk
            .strip_prefix("A#")
            .ok_or_else(|| StoreError::Corrupt(format!("image {image_id} indexed under {pk}")))?;
        Ok(Some((album.to_string(), get_s(item, SK)?.to_string())))
    }

    /// One page of an album's images, newest first, and the key to continue
    /// after (only when more images follow).
    pub async fn images_page(
        &self,
        album_id: &str,
        limit: usize,
        start: Option<Item>,
    ) -> Result<(Vec<StoredImage>, Option<Item>), StoreError> {
        let out = retry::bounded("Query", self.budgets.read, {
            self.client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :img)")
                .expression_attribute_values(":pk", s(album_pk(album_id)))
                .expression_attribute_values(":img", s(IMAGE_SK_PREFIX))
                .projection_expression("sk, d")
                .scan_index_forward(false)
                .consistent_read(true)
                .limit(limit as i32 + 1)
                .set_exclusive_start_key(start.clone())
                .send()
        })
        .await?;
        let mut images = out
            .items()
            .iter()
            .map(Self::decode_image)
            .collect::<Result<Vec<_>, _>>()?;
        // More follow when the Query found one beyond `limit`, or when its
        // 1 MB page ended first (large items): continue after the last kept.
        let page_cut_short = out
            .last_evaluated_key
            .as_ref()
            .is_some_and(|k| !k.is_empty());
        let more = images.len() > limit || page_cut_short;
        images.truncate(limit);
        let next = (more && !images.is_empty()).then(|| {
            let last = &out.items()[images.len() - 1];
            Item::from([
                (PK.to_string(), s(album_pk(album_id))),
                (SK.to_string(), last[SK].clone()),
            ])
        });
        Ok((images, next))
    }

    /// One page of an organization's album ids (through `by_organization`)
    /// and the key to continue after (only when more follow).
    pub async fn organization_albums_page(
        &self,
        organization_id: &str,
        limit: usize,
        start: Option<Item>,
    ) -> Result<(Vec<String>, Option<Item>), StoreError> {
        let mut ids = Vec::new();
        let mut start = start;
        let mut next = None;
        // A GSI page may end short of `limit`; keep reading until it is full.
        loop {
            let out = retry::bounded("Query", self.budgets.read, {
                self.client
                    .query()
                    .table_name(&self.table)
                    .index_name(BY_ORGANIZATION_INDEX)
                    .key_condition_expression("organization_id = :o AND sk = :a")
                    .expression_attribute_values(":o", s(organization_id))
                    .expression_attribute_values(":a", s(ALBUM_SK))
                    .limit((limit - ids.len()) as i32 + 1)
                    .set_exclusive_start_key(start.clone())
                    .send()
            })
            .await?;
            for item in out.items() {
                if ids.len() == limit {
                    // One more exists: continue after the last one kept.
                    return Ok((ids, next));
                }
                let pk = get_s(item, PK)?;
                ids.push(pk.trim_start_matches("A#").to_string());
                next = Some(item.clone());
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok((ids, None)),
            }
        }
    }
}

/// DynamoDB's size of an item: attribute names plus values (strings and
/// numbers as their text), as billed.
pub fn item_size(item: &Item) -> usize {
    item.iter()
        .map(|(k, v)| {
            k.len()
                + match v {
                    AttributeValue::S(s) | AttributeValue::N(s) => s.len(),
                    AttributeValue::B(b) => b.as_ref().len(),
                    _ => 8,
                }
        })
        .sum()
}
