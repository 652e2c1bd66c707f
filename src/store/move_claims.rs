//! Move claims: which album a move under way takes an image to.
//!
//! Two moves of one image to two albums, run at once, would each put it
//! in its destination and each delete its source: the image would end in
//! both. A move first claims the image for its destination, one item per
//! (organization, image), `pk = O#<org>`, `sk = M#<image id>`, naming the
//! destination: a claim for another destination refuses the move (409,
//! try again), one for the same destination lets it in (a retry of a move
//! cut off, or the same move sent twice, which are exact together). The
//! claim is removed when the move ends and expires after [`CLAIM_TTL`]
//! otherwise (a crashed move holds the image no longer than that).

use std::time::Duration;

use super::item::{n, s};
use super::keys::{EXPIRES_AT, org_pk};
use super::{Store, StoreError, retry};

/// How long a claim holds an image after its move last took it: longer
/// than a request's whole budget.
pub const CLAIM_TTL: Duration = Duration::from_secs(60);
const TO: &str = "to";

fn claim_sk(image_id: &str) -> String {
    format!("M#{image_id}")
}

impl Store {
    /// Claims image `image_id` of `org` for a move to `to` at `now`
    /// (epoch seconds): `false` when a move to another album holds it.
    pub async fn claim_for_move(
        &self,
        org: &str,
        image_id: &str,
        to: &str,
        now: u64,
    ) -> Result<bool, StoreError> {
        let res = retry::conditional("UpdateItem", self.budgets.write, {
            self.update_at(org_pk(org), claim_sk(image_id))
                .update_expression("SET #to = :to, #x = :x")
                .condition_expression("attribute_not_exists(pk) OR #to = :to OR #x < :now")
                .expression_attribute_names("#to", TO)
                .expression_attribute_names("#x", EXPIRES_AT)
                .expression_attribute_values(":to", s(to))
                .expression_attribute_values(":x", n(now + CLAIM_TTL.as_secs()))
                .expression_attribute_values(":now", n(now))
                .send()
        })
        .await?;
        Ok(res.is_some())
    }

    /// Ends the claim of a move to `to` (another move's claim is kept).
    pub async fn release_move_claim(
        &self,
        org: &str,
        image_id: &str,
        to: &str,
    ) -> Result<(), StoreError> {
        retry::conditional("DeleteItem", self.budgets.write, {
            self.delete_at(org_pk(org), claim_sk(image_id))
                .condition_expression("#to = :to")
                .expression_attribute_names("#to", TO)
                .expression_attribute_values(":to", s(to))
                .send()
        })
        .await
        .map(|_| ())
    }
}
