//! `albumctl migrate-album-keys`: moves albums stored under the keys from
//! before album ids were per organization (`A#<album>`, shards
//! `A#<album>#<k>`) to `A#<org>/<album>` (decision 0014), in place.
//!
//! Per album: its album item is copied to the new key (only if absent, so
//! what the API wrote there since is kept), then each legacy partition is
//! read page by page and each page written to the new partitions (each
//! item to its image's shard of the album now stored), then deleted from
//! the legacy one (an item is never in
//! neither place), then the album is recounted, and its legacy album item
//! deleted last. An interrupted run leaves the legacy album item, so a
//! re-run finds the album and finishes it: items already moved are no
//! longer in the legacy partitions, items copied but not yet deleted are
//! rewritten identically, and the recount makes `images_count` exact.
//! `by_image` and `by_tag` entries follow their items (they are indexes).
//!
//! An album in the middle of a rename or merge (`moving_to`) is carried
//! over marks and all: `moving_to` is an id within the organization, so
//! the move's job, or the same request sent again, finishes it under the
//! new keys. Such albums are migrated after all others, so that their
//! destination is there first.
//!
//! The legacy key helpers live here only: nothing else may read that layout.

use album_api::album::{AlbumKey, is_valid_id};
use album_api::store::keys::{
    ALBUM_CONTENT_END, ALBUM_SK, MAX_SHARDS, ORGANIZATION_ID, PK, SHARDS, SK, TAG_IMAGE_SK_PREFIX,
    album_pk, image_id_of_sk, image_pk, tag_image_sk_parts,
};
use album_api::store::{Item, Store, batch};
use aws_sdk_dynamodb::types::AttributeValue;
use clap::Args;

/// `albumctl migrate-album-keys`' arguments.
#[derive(Args, Debug, Clone, Default)]
pub struct MigrateArgs {
    /// Stop after writing this many items (album items included): a run
    /// in steps, or a rehearsal of an interruption. A re-run goes on.
    #[arg(long)]
    pub max_items: Option<u64>,
    /// Items read per legacy partition page (DynamoDB's 1 MB pages when
    /// absent).
    #[arg(long)]
    pub page_size: Option<i32>,
}

/// What a run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Albums found under legacy keys.
    pub albums_found: u64,
    /// Albums wholly moved by this run (their legacy album item deleted).
    pub albums_migrated: u64,
    /// Of those, albums carried over in the middle of a move.
    pub moves_carried: u64,
    /// Images and tag associations written to new keys (and deleted from
    /// the legacy ones).
    pub items_moved: u64,
    /// Albums left alone, with why (ids that could not form a key).
    pub skipped: Vec<String>,
    /// Whether nothing is left to migrate (false when `--max-items` stopped
    /// the run: run it again).
    pub finished: bool,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} legacy album(s) found, {} migrated ({} mid-move), {} item(s) moved, {} skipped; {}",
            self.albums_found,
            self.albums_migrated,
            self.moves_carried,
            self.items_moved,
            self.skipped.len(),
            if self.finished {
                "finished"
            } else {
                "stopped early: run it again"
            }
        )
    }
}

/// `A#<album>`: an album partition of the legacy layout (before 0014).
fn legacy_album_pk(album: &str) -> String {
    format!("A#{album}")
}

/// `A#<album>` or `A#<album>#<k>`: a legacy shard partition.
fn legacy_shard_pk(album: &str, shard: u32) -> String {
    match shard {
        0 => legacy_album_pk(album),
        k => format!("A#{album}#{k}"),
    }
}

/// The album id of a legacy album item's partition key (no `/`: the new
/// layout's keys all have one).
fn legacy_album_of(pk: &str) -> Option<&str> {
    pk.strip_prefix("A#")
        .filter(|rest| !rest.contains('/') && !rest.contains('#'))
}

/// Runs the migration and prints its summary (stderr).
pub async fn run(store: &Store, args: MigrateArgs) -> Result<(), String> {
    let summary = migrate(store, &args).await.map_err(|e| e.to_string())?;
    for why in &summary.skipped {
        eprintln!("skipped: {why}");
    }
    eprintln!("{summary}");
    Ok(())
}

/// Moves every legacy album to the new keys (see the module's doc).
pub async fn migrate(store: &Store, args: &MigrateArgs) -> Result<Summary, MigrateError> {
    let mut albums = legacy_albums(store).await?;
    // Albums being moved go last: their destinations first.
    albums.sort_by_key(|a| a.contains_key("moving_to"));
    let mut summary = Summary {
        albums_found: albums.len() as u64,
        ..Summary::default()
    };
    let mut budget = args.max_items;
    for item in albums {
        let pk = text(&item, PK)?.to_string();
        let id = legacy_album_of(&pk).unwrap_or_default().to_string();
        let org = item
            .get(ORGANIZATION_ID)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default();
        if !is_valid_id(&id) || !is_valid_id(&org) {
            summary.skipped.push(format!(
                "{pk}: organization {org:?} or album id cannot form a key"
            ));
            continue;
        }
        let moving = item.contains_key("moving_to");
        if !migrate_album(
            store,
            &AlbumKey::new(&org, &id),
            item,
            args,
            &mut budget,
            &mut summary,
        )
        .await?
        {
            return Ok(summary);
        }
        summary.albums_migrated += 1;
        summary.moves_carried += u64::from(moving);
    }
    summary.finished = true;
    Ok(summary)
}

/// Every legacy album item (a Scan: this runs once per table).
async fn legacy_albums(store: &Store) -> Result<Vec<Item>, MigrateError> {
    let mut found = Vec::new();
    let mut start: Option<Item> = None;
    loop {
        let out = store
            .client()
            .scan()
            .table_name(store.table())
            .filter_expression("sk = :a AND begins_with(pk, :p)")
            .expression_attribute_values(":a", AttributeValue::S(ALBUM_SK.into()))
            .expression_attribute_values(":p", AttributeValue::S("A#".into()))
            .consistent_read(true)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(|e| MigrateError(album_api::store::describe(&e)))?;
        found.extend(
            out.items()
                .iter()
                .filter(|i| {
                    i.get(PK)
                        .and_then(|v| v.as_s().ok())
                        .and_then(|pk| legacy_album_of(pk))
                        .is_some()
                })
                .cloned(),
        );
        match out.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => return Ok(found),
        }
    }
}

/// Moves one album; `false` when the item budget ran out first.
async fn migrate_album(
    store: &Store,
    key: &AlbumKey,
    legacy: Item,
    args: &MigrateArgs,
    budget: &mut Option<u64>,
    summary: &mut Summary,
) -> Result<bool, MigrateError> {
    if !spend(budget, 1) {
        return Ok(false);
    }
    let mut album_item = legacy.clone();
    album_item.insert(PK.into(), AttributeValue::S(album_pk(key)));
    put_if_absent(store, album_item).await?;
    // Items go where the album now stored reads them: its shard count is
    // the legacy one, unless the API made the album under the new key
    // first (then the legacy items merge into it).
    let album = store
        .get_album(key)
        .await
        .map_err(MigrateError::of)?
        .ok_or_else(|| MigrateError(format!("album {key} vanished while migrated")))?;
    let legacy_shards = legacy
        .get(SHARDS)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(1)
        .clamp(1, MAX_SHARDS);
    for shard in 0..legacy_shards {
        let from = legacy_shard_pk(&key.id, shard);
        loop {
            // Always the first page: what was moved is gone from it.
            let out = store
                .client()
                .query()
                .table_name(store.table())
                .key_condition_expression("pk = :pk AND sk BETWEEN :lo AND :hi")
                .expression_attribute_values(":pk", AttributeValue::S(from.clone()))
                .expression_attribute_values(":lo", AttributeValue::S(TAG_IMAGE_SK_PREFIX.into()))
                .expression_attribute_values(":hi", AttributeValue::S(ALBUM_CONTENT_END.into()))
                .consistent_read(true)
                .set_limit(args.page_size)
                .send()
                .await
                .map_err(|e| MigrateError(album_api::store::describe(&e)))?;
            let mut page = out.items.unwrap_or_default();
            if page.is_empty() {
                break;
            }
            if let Some(left) = *budget {
                if left == 0 {
                    return Ok(false);
                }
                page.truncate(left as usize);
            }
            spend(budget, page.len() as u64);
            let keys: Vec<Item> = page
                .iter()
                .map(|i| {
                    i.iter()
                        .filter(|(k, _)| *k == PK || *k == SK)
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                })
                .collect();
            let mut moved = Vec::with_capacity(page.len());
            for mut item in page {
                let sk = text(&item, SK)?;
                let image = image_id_of_sk(sk)
                    .or_else(|| tag_image_sk_parts(sk).map(|(_, image, _)| image))
                    .ok_or_else(|| MigrateError(format!("{from}: bad sort key {sk}")))?;
                let to = image_pk(key, album.shards, image);
                item.insert(PK.into(), AttributeValue::S(to));
                moved.push(item);
            }
            let n = moved.len() as u64;
            batch::write_all(store, moved)
                .await
                .map_err(MigrateError::of)?;
            batch::delete_all(store, keys)
                .await
                .map_err(MigrateError::of)?;
            summary.items_moved += n;
        }
    }
    // Exact before the legacy album item, the run's marker, goes.
    store.recount_images(key).await.map_err(MigrateError::of)?;
    store
        .client()
        .delete_item()
        .table_name(store.table())
        .key(PK, AttributeValue::S(legacy_album_pk(&key.id)))
        .key(SK, AttributeValue::S(ALBUM_SK.into()))
        .send()
        .await
        .map_err(|e| MigrateError(album_api::store::describe(&e)))?;
    Ok(true)
}

/// Takes `n` from the budget; `false` when it had nothing left.
fn spend(budget: &mut Option<u64>, n: u64) -> bool {
    match budget {
        None => true,
        Some(0) => false,
        Some(left) => {
            *left = left.saturating_sub(n);
            true
        }
    }
}

/// Writes `item` unless an item with its key exists (an album item the
/// API or an earlier run wrote there is kept as it is).
async fn put_if_absent(store: &Store, item: Item) -> Result<(), MigrateError> {
    let res = store
        .client()
        .put_item()
        .table_name(store.table())
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(pk)")
        .send()
        .await;
    match res {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(MigrateError(album_api::store::describe(&e))),
    }
}

fn text<'a>(item: &'a Item, name: &str) -> Result<&'a str, MigrateError> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .ok_or_else(|| MigrateError(format!("item without {name}")))
}

/// Why a migration run stopped (DynamoDB's error, described): re-run it.
#[derive(Debug)]
pub struct MigrateError(pub String);

impl MigrateError {
    fn of(e: album_api::store::StoreError) -> Self {
        Self(e.to_string())
    }
}

impl std::fmt::Display for MigrateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "migration stopped: {} (run it again to go on)", self.0)
    }
}

impl std::error::Error for MigrateError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_keys_are_told_from_new_ones() {
        assert_eq!(legacy_album_of("A#alb"), Some("alb"));
        assert_eq!(legacy_album_of("A#org/alb"), None);
        assert_eq!(legacy_album_of("A#alb#3"), None);
        assert_eq!(legacy_shard_pk("alb", 0), "A#alb");
        assert_eq!(legacy_shard_pk("alb", 3), "A#alb#3");
        let mut b = Some(3);
        assert!(spend(&mut b, 2) && spend(&mut b, 5) && !spend(&mut b, 1));
    }
}
