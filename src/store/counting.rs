//! The exact-count protocol of `images_count` (decision 0003): `seq`
//! bumps, guarded updates, recounts.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, Select};

use crate::album::AlbumKey;
use crate::deadline::epoch_ms;

use super::error::is_throttling;
use super::item::{Item, get_n, n};
use super::keys::*;
use super::{Store, StoreError, retry};

impl Store {
    /// Counts an album's image items (strongly consistent, every page of
    /// every shard); 0 for a missing album.
    pub async fn count_images(&self, album: &AlbumKey) -> Result<u64, StoreError> {
        let shards = match self.get_item(album_pk(album), ALBUM_SK).await? {
            Some(item) => super::albums::shards_of(&item)?,
            None => 1,
        };
        self.count_in_shards(album, shards).await
    }

    /// Counts the image items of `shards` shards of `album`, the shards
    /// at once.
    async fn count_in_shards(&self, album: &AlbumKey, shards: u32) -> Result<u64, StoreError> {
        let counts = (0..shards.max(1)).map(|shard| self.count_shard(shard_pk(album, shard)));
        Ok(futures_util::future::try_join_all(counts)
            .await?
            .into_iter()
            .sum())
    }

    async fn count_shard(&self, pk: String) -> Result<u64, StoreError> {
        let mut total = 0u64;
        let mut start: Option<Item> = None;
        loop {
            let out = retry::bounded("Query", self.budgets.page, {
                self.images_query(&pk)
                    .select(Select::Count)
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
    /// album's `seq` and its recount epoch `rseq` and read them back, count,
    /// then store the count only if `seq` is unchanged. Every writer bumps
    /// `seq` before it writes (and a single-image writer again with its ±1),
    /// so a count that raced a write is refused and taken again, and the
    /// last writer to finish always stores a count that includes every
    /// write. The `rseq` bump refuses the ±1 of every single-image write
    /// whose window this recount began in: the count may hold its image.
    pub async fn recount_images(&self, album: &AlbumKey) -> Result<u64, StoreError> {
        crate::metrics::recount();
        for round in 1..=50 {
            let lease = n(epoch_ms(SystemTime::now() + RECOUNT_LEASE));
            let Bumped { seq, shards, .. } = self
                .bump_if(
                    album,
                    &format!("ADD seq :one, rseq :one SET {RECOUNTING_UNTIL} = :lease"),
                    "attribute_exists(pk)",
                    &[(":lease", lease)],
                )
                .await?
                .ok_or_else(|| StoreError::AlbumMissing(album.id.clone()))?;
            crate::metrics::recount_pass();
            let count = self.count_in_shards(album, shards).await?;
            let stored = self
                .update_album_if(
                    album,
                    &format!("SET images_count = :c, counted_seq = :seq REMOVE {RECOUNTING_UNTIL}"),
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
            if let Some(item) = self.get_item(album_pk(album), ALBUM_SK).await?
                && get_n(&item, "counted_seq")? >= seq
            {
                return get_n(&item, "images_count");
            }
        }
        Err(StoreError::Unavailable(format!(
            "album {} kept changing while being counted",
            album.id
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
    pub async fn settle_fresh_count(
        &self,
        album: &AlbumKey,
        count: u64,
    ) -> Result<bool, StoreError> {
        self.update_album_if(
            album,
            "SET images_count = :c, seq = :one, counted_seq = :one",
            "seq = :zero",
            &[(":c", n(count)), (":one", n(1)), (":zero", n(0))],
        )
        .await
    }

    /// Applies `update` to the album item only if `condition` holds; `false`
    /// when it did not. The counting protocol's guarded steps (decision 0003).
    pub(super) async fn update_album_if(
        &self,
        album: &AlbumKey,
        update: &str,
        condition: &str,
        values: &[(&str, AttributeValue)],
    ) -> Result<bool, StoreError> {
        let values: HashMap<String, AttributeValue> = values
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        let res = retry::conditional("UpdateItem", self.budgets.write, {
            self.update_at(album_pk(album), ALBUM_SK)
                .update_expression(update)
                .condition_expression(condition)
                .set_expression_attribute_values(Some(values.clone()))
                .send()
        })
        .await?;
        Ok(res.is_some())
    }

    /// Increments the album's `seq`: the first step of every counted write
    /// (decision 0003). Returns the recount epoch the write's guarded ±1
    /// must still find ([`Store::settle_count`]).
    pub async fn bump_seq(&self, album: &AlbumKey) -> Result<Epoch, StoreError> {
        self.bump_if(album, "ADD seq :one", "attribute_exists(pk)", &[])
            .await?
            .map(|b| b.epoch)
            .ok_or_else(|| StoreError::AlbumMissing(album.id.clone()))
    }

    /// [`Store::bump_seq`] for a writer about to add images: refused with
    /// [`StoreError::Moving`] while the album is being renamed or merged
    /// away (its images would be left behind), so such writers go to the
    /// destination or answer 409 (decision 0011).
    pub async fn bump_seq_to_add(&self, album: &AlbumKey) -> Result<Epoch, StoreError> {
        let condition = "attribute_exists(pk) AND attribute_not_exists(moving_to)";
        if let Some(b) = self.bump_if(album, "ADD seq :one", condition, &[]).await? {
            return Ok(b.epoch);
        }
        match self.album_move(album).await? {
            Some(m) => Err(StoreError::Moving {
                album: album.id.clone(),
                to: m.to,
            }),
            None => Err(StoreError::AlbumMissing(album.id.clone())),
        }
    }

    /// Applies `update` (an `ADD` of `:one` to `seq`, and for a recount
    /// to `rseq` with its lease) if `condition` holds, with `values`
    /// beside `:one`: what the album item says after it, or `None`.
    async fn bump_if(
        &self,
        album: &AlbumKey,
        update: &str,
        condition: &str,
        values: &[(&str, AttributeValue)],
    ) -> Result<Option<Bumped>, StoreError> {
        let values: HashMap<String, AttributeValue> = values
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .chain([(":one".to_string(), n(1))])
            .collect();
        let bumped = retry::conditional("UpdateItem", self.budgets.write, {
            self.update_at(album_pk(album), ALBUM_SK)
                .update_expression(update)
                .condition_expression(condition)
                .set_expression_attribute_values(Some(values.clone()))
                .return_values(ReturnValue::AllNew)
                .send()
        })
        .await?;
        bumped
            .map(|out| {
                let album = out.attributes.unwrap_or_default();
                Ok(Bumped {
                    seq: get_n(&album, "seq")?,
                    epoch: Epoch(match album.get("rseq") {
                        Some(_) => get_n(&album, "rseq")?,
                        None => 0,
                    }),
                    shards: super::albums::shards_of(&album)?,
                    recounting_until: get_n(&album, RECOUNTING_UNTIL)?,
                })
            })
            .transpose()
    }

    /// Adds `delta` to `images_count` (and bumps `seq`) only if no recount
    /// has begun since the write's bump read `epoch`: `true` when it
    /// applied; `false` when a recount came between, or when it is not
    /// known whether it applied. Either way a recount settles the count.
    ///
    /// Guarding on the recount epoch, not on `seq`, lets single-image
    /// writers into one album add their ±1 side by side: under `seq`, any
    /// other writer's bump between a write's two steps refused its ±1 and
    /// sent it to a full recount, so 16 concurrent webhook deliveries
    /// became 16 recounts refusing one another (decision 0003).
    ///
    /// The epoch guard does not refuse the same update applied twice (the
    /// `seq` guard did: the first application bumped it), so this call is
    /// never retried after an answer that may hide an application (a
    /// timeout, a reset, a 5xx): the SDK's retries are off for it, only
    /// throttling (which DynamoDB refuses before applying anything) is
    /// retried here, and anything else leaves the count to a recount. At
    /// worst `policy.max_attempts` throttled attempts with the policy's
    /// backoff, never past the invocation's deadline.
    pub(super) async fn add_count_if_epoch(
        &self,
        album: &AlbumKey,
        delta: i64,
        Epoch(epoch): Epoch,
    ) -> Result<bool, StoreError> {
        let mut values = HashMap::from([(":d".to_string(), n(delta)), (":one".to_string(), n(1))]);
        let condition = if epoch == 0 {
            "attribute_exists(pk) AND attribute_not_exists(rseq)"
        } else {
            values.insert(":r".into(), n(epoch));
            "rseq = :r"
        };
        for attempt in 1..=self.policy.max_attempts.max(1) {
            let answer = retry::bounded_raw("UpdateItem", self.budgets.write, {
                self.update_at(album_pk(album), ALBUM_SK)
                    .update_expression("ADD images_count :d, seq :one")
                    .condition_expression(condition)
                    .set_expression_attribute_values(Some(values.clone()))
                    .customize()
                    .config_override(
                        aws_sdk_dynamodb::config::Builder::default()
                            .retry_config(RetryConfig::disabled()),
                    )
                    .send()
            })
            .await?;
            match answer {
                Ok(_) => return Ok(true),
                Err(e) if is_throttling(&e) => {
                    retry::pause_within_deadline("UpdateItem", self.policy.backoff(attempt))
                        .await?;
                }
                // Refused by its guard, or perhaps applied: recount.
                Err(_) => return Ok(false),
            }
        }
        Ok(false)
    }

    /// Applies a single-image change to the count: the guarded ±1, or a
    /// full recount when a recount came between (decision 0003).
    pub(super) async fn settle_count(
        &self,
        album: &AlbumKey,
        delta: i64,
        epoch: Epoch,
    ) -> Result<(), StoreError> {
        if !self.add_count_if_epoch(album, delta, epoch).await? {
            crate::metrics::count_fallback();
            self.recount_after_write(album).await?;
        }
        Ok(())
    }

    /// Settles the count after a write of the caller's own whose ±1 did
    /// not apply (or may not have): by the recount already running when
    /// there is one, else by a recount of its own.
    ///
    /// A recount bumps the recount epoch, which refuses the ±1 of every
    /// writer in flight; when each of those recounted in turn, each of
    /// their bumps refused the others' ±1 again, and past the partition's
    /// write limit the recounts fed themselves until the album's reads
    /// were spent on them (BENCHMARKS.md, "Past the ceiling"). So a
    /// writer first bumps `seq` (after its write: any count stored under
    /// a later bump includes it) and, while a recount holds its lease
    /// ([`RECOUNTING_UNTIL`]), waits for a stored count whose
    /// `counted_seq` is above its bump: the running recounter's store,
    /// refused by that very bump, is taken again after it. Only when no
    /// lease is held, or it lapses, does the writer recount
    /// (decision 0003). The wait never runs past the invocation's
    /// deadline: a 503 leaves the image marked for its repeat.
    pub(super) async fn recount_after_write(&self, album: &AlbumKey) -> Result<(), StoreError> {
        let bumped = self
            .bump_if(album, "ADD seq :one", "attribute_exists(pk)", &[])
            .await?
            .ok_or_else(|| StoreError::AlbumMissing(album.id.clone()))?;
        let mut lease = bumped.recounting_until;
        let mut round = 0;
        while lease > epoch_ms(SystemTime::now()) {
            round += 1;
            retry::pause_within_deadline("recount", self.policy.backoff(round.min(3))).await?;
            let item = self
                .get_item(album_pk(album), ALBUM_SK)
                .await?
                .ok_or_else(|| StoreError::AlbumMissing(album.id.clone()))?;
            if get_n(&item, "counted_seq")? > bumped.seq {
                crate::metrics::recount_joined();
                return Ok(());
            }
            lease = get_n(&item, RECOUNTING_UNTIL)?;
        }
        self.recount_images(album).await.map(drop)
    }
}

/// The recount epoch (`rseq`) a single-image write's bump read: its ±1
/// applies only if no recount has bumped it since (decision 0003).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Epoch(u64);

/// What a bump of the album item read back.
struct Bumped {
    seq: u64,
    epoch: Epoch,
    shards: u32,
    /// A recount's lease (Unix milliseconds), 0 when none holds one.
    recounting_until: u64,
}

/// How long a recount's round holds its lease ([`RECOUNTING_UNTIL`]): a
/// writer that needs a recount waits for the one running while its lease
/// lasts. Longer than a round takes (one strongly consistent count of the
/// album, ~2 pages per 3,000 images, and a pause of at most the policy's
/// cap), so a live recounter renews it before it lapses; short enough
/// that a recounter that died costs a waiting writer little.
const RECOUNT_LEASE: Duration = Duration::from_secs(3);
