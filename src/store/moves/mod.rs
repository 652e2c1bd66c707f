//! Album moves (decision 0011): rename and merge carry an album's items to
//! another album, a re-shard to other partitions of its own (decision 0012).
//!
//! A move marks its source first ([`marks`]), then moves its items, each
//! batch written to the destination before it is deleted from the source
//! ([`items`]), and deletes the source's album item last. The use-case
//! that drives it is [`crate::album_move`].

pub mod items;
pub mod marks;
pub mod reshard;

pub use items::{MoveFailure, MoveReport, move_items};
pub(super) use marks::move_state_of;
pub use marks::{Mark, MoveState};
