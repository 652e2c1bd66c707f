//! An organization's quota overrides and usage: the items that make the
//! quotas exact under concurrency (decision 0015).
//!
//! | item        | `pk`      | `sk`   | attributes |
//! |-------------|-----------|--------|------------|
//! | overrides   | `O#<org>` | `QL`   | `images_per_album`, `images_copied_per_day`, `jobs_at_once` (each optional) |
//! | usage       | `O#<org>` | `QU`   | `running` (string set of the ids of the duplication jobs running), `c#<UTC day>` (images copied that day) |
//! | stopped job | `O#<org>` | `QP#<destination>#<source>` | `job`: the job a quota stopped, which repeating the duplicate resumes |
//!
//! Every admission is one conditional `UpdateItem` of the usage item (the
//! copies of the day, checked with the running jobs), and every slot one
//! more: two requests racing for the last slot or the last images of the
//! day cannot both pass.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::item::{Item, get_n, get_s, n, s};
use super::keys::{EXPIRES_AT, PK, SK, org_pk};
use super::{Store, StoreError, retry};
use crate::quota::{Limits, Overrides};

/// Sort key of an organization's quota overrides.
pub const OVERRIDES_SK: &str = "QL";
/// Sort key of an organization's usage.
pub const USAGE_SK: &str = "QU";
/// The usage item's set of the duplication jobs running.
pub const RUNNING: &str = "running";

/// The attribute counting images copied on UTC day `day` (`YYYY-MM-DD`).
pub fn day_attribute(day: &str) -> String {
    format!("c#{day}")
}

/// The sort key of the stopped-job pointer of a (destination, source) pair.
fn stopped_sk(destination: &str, source: &str) -> String {
    format!("QP#{destination}#{source}")
}

/// An organization's usage as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// The ids of the duplication jobs running.
    pub running: Vec<String>,
    /// Images copied per UTC day still recorded.
    pub copied: HashMap<String, u64>,
}

impl Usage {
    /// Images copied on `day`.
    pub fn copied_on(&self, day: &str) -> u64 {
        self.copied.get(day).copied().unwrap_or(0)
    }
}

fn usage_of(item: &Item) -> Result<Usage, StoreError> {
    let mut usage = Usage::default();
    if let Some(AttributeValue::Ss(set)) = item.get(RUNNING) {
        usage.running = set.clone();
    }
    for name in item.keys() {
        if let Some(day) = name.strip_prefix("c#") {
            usage.copied.insert(day.to_string(), get_n(item, name)?);
        }
    }
    Ok(usage)
}

impl Store {
    /// The organization's quota overrides (none set: all `None`).
    pub async fn quota_overrides(&self, org: &str) -> Result<Overrides, StoreError> {
        let Some(item) = self.get_item(org_pk(org), OVERRIDES_SK).await? else {
            return Ok(Overrides::default());
        };
        let get = |name: &str| -> Result<Option<u64>, StoreError> {
            item.contains_key(name)
                .then(|| get_n(&item, name))
                .transpose()
        };
        Ok(Overrides {
            images_per_album: get("images_per_album")?,
            images_copied_per_day: get("images_copied_per_day")?,
            jobs_at_once: get("jobs_at_once")?,
        })
    }

    /// Sets the given overrides of `org` (the others are kept).
    pub async fn set_quota_overrides(&self, org: &str, o: &Overrides) -> Result<(), StoreError> {
        let fields = [
            ("images_per_album", o.images_per_album),
            ("images_copied_per_day", o.images_copied_per_day),
            ("jobs_at_once", o.jobs_at_once),
        ];
        let set: Vec<_> = fields.iter().filter(|(_, v)| v.is_some()).collect();
        if set.is_empty() {
            return Ok(());
        }
        let expression = set
            .iter()
            .map(|(k, _)| format!("{k} = :{k}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut update = self
            .update_at(org_pk(org), OVERRIDES_SK)
            .update_expression(format!("SET {expression}"));
        for (k, v) in set {
            update = update.expression_attribute_values(format!(":{k}"), n(v.unwrap_or(0)));
        }
        retry::bounded("UpdateItem", self.budgets.write, update.send())
            .await
            .map(|_| ())
    }

    /// The organization's usage (nothing recorded: empty).
    pub async fn quota_usage(&self, org: &str) -> Result<Usage, StoreError> {
        match self.get_item(org_pk(org), USAGE_SK).await? {
            None => Ok(Usage::default()),
            Some(item) => usage_of(&item),
        }
    }

    /// Reserves `images` copies of `day` in one conditional write: only if
    /// the day's copies stay within `limits.images_copied_per_day` and
    /// fewer than `limits.jobs_at_once` jobs run. `false` (nothing
    /// written) otherwise.
    pub async fn admit_copy(
        &self,
        org: &str,
        day: &str,
        images: u64,
        limits: &Limits,
    ) -> Result<bool, StoreError> {
        let Some(room) = limits.images_copied_per_day.checked_sub(images) else {
            return Ok(false);
        };
        let res = retry::conditional("UpdateItem", self.budgets.write, {
            self.update_at(org_pk(org), USAGE_SK)
                .update_expression("ADD #c :n")
                .condition_expression(
                    "(attribute_not_exists(#c) OR #c <= :room) \
                     AND (attribute_not_exists(#r) OR size(#r) < :max)",
                )
                .expression_attribute_names("#c", day_attribute(day))
                .expression_attribute_names("#r", RUNNING)
                .expression_attribute_values(":n", n(images))
                .expression_attribute_values(":room", n(room))
                .expression_attribute_values(":max", n(limits.jobs_at_once))
                .send()
        })
        .await?;
        Ok(res.is_some())
    }

    /// Takes a running slot for job `slot`: only if fewer than `max` jobs
    /// run, or the job holds it already.
    pub async fn take_slot(&self, org: &str, slot: &str, max: u64) -> Result<bool, StoreError> {
        let res = retry::conditional("UpdateItem", self.budgets.write, {
            self.update_at(org_pk(org), USAGE_SK)
                .update_expression("ADD #r :slot")
                .condition_expression(
                    "attribute_not_exists(#r) OR size(#r) < :max OR contains(#r, :one)",
                )
                .expression_attribute_names("#r", RUNNING)
                .expression_attribute_values(":slot", AttributeValue::Ss(vec![slot.into()]))
                .expression_attribute_values(":one", s(slot))
                .expression_attribute_values(":max", n(max))
                .send()
        })
        .await?;
        Ok(res.is_some())
    }

    /// Reserves `images` more copies of `day` only if the day's copies
    /// stay within `per_day`: `false` (nothing written) otherwise.
    pub async fn reserve_copies(
        &self,
        org: &str,
        day: &str,
        images: u64,
        per_day: u64,
    ) -> Result<bool, StoreError> {
        let Some(room) = per_day.checked_sub(images) else {
            return Ok(false);
        };
        let res = retry::conditional("UpdateItem", self.budgets.write, {
            self.update_at(org_pk(org), USAGE_SK)
                .update_expression("ADD #c :n")
                .condition_expression("attribute_not_exists(#c) OR #c <= :room")
                .expression_attribute_names("#c", day_attribute(day))
                .expression_attribute_values(":n", n(images))
                .expression_attribute_values(":room", n(room))
                .send()
        })
        .await?;
        Ok(res.is_some())
    }

    /// Adds `delta` (negative: a refund of a reservation not used) to the
    /// copies of `day`, and frees running slots `release`, in one write.
    pub async fn settle_copies(
        &self,
        org: &str,
        day: &str,
        delta: i64,
        release: &[String],
    ) -> Result<(), StoreError> {
        let mut clauses = Vec::new();
        let mut update = self.update_at(org_pk(org), USAGE_SK);
        if delta != 0 {
            clauses.push("ADD #c :d");
            update = update
                .expression_attribute_names("#c", day_attribute(day))
                .expression_attribute_values(":d", n(delta));
        }
        if !release.is_empty() {
            clauses.push("DELETE #r :slots");
            update = update
                .expression_attribute_names("#r", RUNNING)
                .expression_attribute_values(":slots", AttributeValue::Ss(release.to_vec()));
        }
        if clauses.is_empty() {
            return Ok(());
        }
        let update = update.update_expression(clauses.join(" "));
        retry::bounded("UpdateItem", self.budgets.write, update.send())
            .await
            .map(|_| ())
    }

    /// The job a quota stopped for the (destination, source) pair, if any.
    pub async fn stopped_job(
        &self,
        org: &str,
        destination: &str,
        source: &str,
    ) -> Result<Option<String>, StoreError> {
        match self
            .get_item(org_pk(org), &stopped_sk(destination, source))
            .await?
        {
            None => Ok(None),
            Some(item) => Ok(Some(get_s(&item, "job")?.to_string())),
        }
    }

    /// Records that a quota stopped `job` copying `source` into
    /// `destination` (kept as long as the job item, `expires_at`).
    pub async fn put_stopped_job(
        &self,
        org: &str,
        destination: &str,
        source: &str,
        job: &str,
        expires_at: u64,
    ) -> Result<(), StoreError> {
        self.put(HashMap::from([
            (PK.into(), s(org_pk(org))),
            (SK.into(), s(stopped_sk(destination, source))),
            ("job".into(), s(job)),
            (EXPIRES_AT.into(), n(expires_at)),
        ]))
        .await
    }

    /// Forgets the stopped job of a pair (it was resumed).
    pub async fn delete_stopped_job(
        &self,
        org: &str,
        destination: &str,
        source: &str,
    ) -> Result<(), StoreError> {
        retry::bounded("DeleteItem", self.budgets.write, {
            self.delete_at(org_pk(org), stopped_sk(destination, source))
                .send()
        })
        .await
        .map(|_| ())
    }

    /// Sets a job a quota stopped running again from its saved key, handed
    /// off (a stream record: the worker runs its next slice). `None` unless
    /// it was failed (so two resumes cannot both reopen it).
    pub async fn reopen_job(
        &self,
        id: &str,
        now: &str,
    ) -> Result<Option<crate::store::jobs::Job>, StoreError> {
        let res = retry::conditional("UpdateItem", self.budgets.write, {
            self.update_at(crate::store::jobs::job_pk(id), crate::store::jobs::JOB_SK)
                .update_expression(
                    "SET #st = :running, handoff = slices + :one, idle_slices = :zero, \
                     updated_at = :t REMOVE #err, expires_at",
                )
                .condition_expression("#st = :failed")
                .expression_attribute_names("#st", "status")
                .expression_attribute_names("#err", "error")
                .expression_attribute_values(":running", s("running"))
                .expression_attribute_values(":failed", s("failed"))
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":zero", n(0))
                .expression_attribute_values(":t", s(now))
                .return_values(ReturnValue::AllNew)
                .send()
        })
        .await?;
        match res.and_then(|o| o.attributes) {
            None => Ok(None),
            Some(item) => Ok(Some(crate::store::jobs::job_from(&item)?)),
        }
    }

    /// Ends a held job that a quota stopped: `failed` with `why`, its
    /// progress and resume key kept (so it can be reopened), lease
    /// released, expiring as finished jobs do. `false` when the lease was lost.
    pub async fn stop_job(
        &self,
        id: &str,
        owner: &str,
        resume: Option<&super::PageKey>,
        copied: u64,
        why: &str,
        now: &str,
    ) -> Result<bool, StoreError> {
        let mut set = "SET #st = :failed, #err = :e, images_copied = :c, updated_at = :t, \
                       expires_at = :x"
            .to_string();
        let mut values = vec![
            (":failed", s("failed")),
            (":e", s(why)),
            (":c", n(copied)),
            (":t", s(now)),
            (":x", n(self.job_expiry())),
        ];
        if let Some(r) = resume {
            set.push_str(", resume = :r");
            values.push((":r", s(super::jobs::encode_key(r))));
        }
        let expression = format!("{set} REMOVE lease_owner, lease_until, handoff");
        self.update_held_job(id, owner, &expression, values).await
    }

    /// When a job stopped now expires (epoch seconds), for its pointer.
    pub fn stopped_job_expiry(&self) -> u64 {
        self.job_expiry()
    }
}
