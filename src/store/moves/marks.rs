//! The marks on a source album item that make its move (rename, merge)
//! resumable and exclusive (decision 0011).
//!
//! A move first marks its source with `moving_to` (the destination) and
//! `move_id` (its job id). From then on nobody may add images to the
//! source ([`Store::bump_seq_to_add`]), another move of it to a different
//! id is refused, and re-sending the same request finds the mark and
//! finishes the move. The items themselves move through
//! [`super::items::move_items`]; the album item goes last.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use crate::album::AlbumKey;
use crate::store::item::{Item, get_s, n, s};
use crate::store::keys::*;
use crate::store::{Store, StoreError, retry};

/// A move in progress, as marked on its source album.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MoveState {
    /// The destination album id (in the source's organization).
    pub to: String,
    /// The move's job id.
    pub job_id: String,
    /// Whether it merges into an album that existed before it.
    pub merge: bool,
}

pub(in crate::store) fn move_state_of(item: &Item) -> Option<MoveState> {
    let to = get_s(item, "moving_to").ok()?.to_string();
    Some(MoveState {
        to,
        job_id: get_s(item, "move_id").unwrap_or_default().to_string(),
        merge: matches!(item.get("move_merge"), Some(AttributeValue::Bool(true))),
    })
}

/// What marking an album as moving gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mark {
    /// The album is marked (now or before) as moving to the destination asked.
    Marked(MoveState),
    /// It is being moved somewhere else.
    MovingElsewhere(MoveState),
    /// There is no such album.
    Missing,
}

impl Store {
    /// The move album `id` is in, if any (`None` too when the album is missing).
    pub async fn album_move(&self, id: &AlbumKey) -> Result<Option<MoveState>, StoreError> {
        Ok(self
            .get_item(album_pk(id), ALBUM_SK)
            .await?
            .as_ref()
            .and_then(move_state_of))
    }

    /// Marks album `id` as moving to `to` with job `job_id`, unless it is
    /// already moving (to `to`: that mark, with its job, is kept and
    /// returned; elsewhere: refused). Bumps `seq`: writers that announced
    /// themselves before see their guarded count refused and recount.
    pub async fn mark_moving(
        &self,
        id: &AlbumKey,
        to: &str,
        job_id: &str,
        merge: bool,
    ) -> Result<Mark, StoreError> {
        let res = retry::conditional("UpdateItem", self.budgets.write, {
            self.update_at(album_pk(id), ALBUM_SK)
                .update_expression(
                    "SET moving_to = :to, move_id = if_not_exists(move_id, :job), \
                     move_merge = if_not_exists(move_merge, :merge) ADD seq :one",
                )
                .condition_expression(
                    "attribute_exists(pk) AND (attribute_not_exists(moving_to) OR moving_to = :to)",
                )
                .expression_attribute_values(":to", s(to))
                .expression_attribute_values(":job", s(job_id))
                .expression_attribute_values(":merge", AttributeValue::Bool(merge))
                .expression_attribute_values(":one", n(1))
                .return_values(ReturnValue::AllNew)
                .send()
        })
        .await?;
        if let Some(out) = res {
            let item = out.attributes.unwrap_or_default();
            return move_state_of(&item)
                .map(Mark::Marked)
                .ok_or_else(|| StoreError::Corrupt("move mark not stored".into()));
        }
        match self.get_item(album_pk(id), ALBUM_SK).await? {
            None => Ok(Mark::Missing),
            Some(item) => match move_state_of(&item) {
                Some(m) if m.to == to => Ok(Mark::Marked(m)),
                Some(m) => Ok(Mark::MovingElsewhere(m)),
                None => Err(StoreError::Unavailable(format!(
                    "album {} changed while being marked for a move",
                    id.id
                ))),
            },
        }
    }

    /// Takes the move mark off album `id` if it is still that of move
    /// `job_id` to `to` (a move given up: decision 0011).
    pub async fn unmark_moving(
        &self,
        id: &AlbumKey,
        to: &str,
        job_id: &str,
    ) -> Result<bool, StoreError> {
        self.update_album_if(
            id,
            "REMOVE moving_to, move_id, move_merge",
            "moving_to = :to AND move_id = :job",
            &[(":to", s(to)), (":job", s(job_id))],
        )
        .await
    }

    /// Deletes the album item of a moved album, if it is still marked as
    /// moving to `to` (the last step of a move: its items are gone).
    pub async fn delete_moved_album(&self, id: &AlbumKey, to: &str) -> Result<bool, StoreError> {
        let res = retry::conditional("DeleteItem", self.budgets.write, {
            self.delete_at(album_pk(id), ALBUM_SK)
                .condition_expression("moving_to = :to")
                .expression_attribute_values(":to", s(to))
                .send()
        })
        .await?;
        Ok(res.is_some())
    }
}
