//! `albumctl quotas`: an organization's quota overrides, set and shown
//! with its usage (decision 0015).
//!
//! An override replaces the deployment's parameter (`QuotaImagesPerAlbum`,
//! `QuotaImagesCopiedPerDay`, `QuotaJobsAtOnce`) for one organization; the
//! functions see it within their limits cache (30 s). A job a quota stopped
//! is resumed by its client repeating the request once the quota allows.

use std::io::Write;

use album_api::quota::{Limits, Overrides, utc_day};
use album_api::store::Store;
use clap::Subcommand;
use serde_json::json;

/// `albumctl quotas …`.
#[derive(Debug, Subcommand)]
pub enum QuotasCommand {
    /// Override some of an organization's quotas (the others keep theirs).
    Set {
        /// The organization.
        org: String,
        /// Most images one album may hold.
        #[arg(long)]
        images_per_album: Option<u64>,
        /// Most images copied per UTC day.
        #[arg(long)]
        images_copied_per_day: Option<u64>,
        /// Most duplication jobs running at once.
        #[arg(long)]
        jobs_at_once: Option<u64>,
    },
    /// Show an organization's overrides, effective limits (over the
    /// deployment's `QUOTA_*` values in this environment, else the
    /// defaults) and usage, as JSON.
    Show {
        /// The organization.
        org: String,
    },
}

/// Runs one `quotas` command against `store`, writing what it prints to
/// `out` (stdout for the CLI). `defaults` are the deployment's limits.
pub async fn run(
    store: &Store,
    command: QuotasCommand,
    defaults: Limits,
    out: &mut impl Write,
) -> Result<(), String> {
    match command {
        QuotasCommand::Set {
            org,
            images_per_album,
            images_copied_per_day,
            jobs_at_once,
        } => {
            let o = Overrides {
                images_per_album,
                images_copied_per_day,
                jobs_at_once,
            };
            for v in [images_per_album, images_copied_per_day, jobs_at_once]
                .into_iter()
                .flatten()
            {
                if !(1..=1_000_000_000).contains(&v) {
                    return Err(format!("a quota is from 1 to 1000000000, not {v}"));
                }
            }
            if o == Overrides::default() {
                return Err("name at least one quota to set".into());
            }
            known(store, &org).await?;
            store
                .set_quota_overrides(&org, &o)
                .await
                .map_err(|e| e.to_string())?;
            show(store, &org, defaults, out).await
        }
        QuotasCommand::Show { org } => {
            known(store, &org).await?;
            show(store, &org, defaults, out).await
        }
    }
}

async fn known(store: &Store, org: &str) -> Result<(), String> {
    match store.organization_exists(org).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(format!("no organization {org}")),
        Err(e) => Err(e.to_string()),
    }
}

async fn show(
    store: &Store,
    org: &str,
    defaults: Limits,
    out: &mut impl Write,
) -> Result<(), String> {
    let overrides = store
        .quota_overrides(org)
        .await
        .map_err(|e| e.to_string())?;
    let usage = store.quota_usage(org).await.map_err(|e| e.to_string())?;
    let today = utc_day(time::OffsetDateTime::now_utc());
    let shown = json!({
        "organization_id": org,
        "overrides": overrides,
        "limits": overrides.over(defaults),
        "usage": {
            "day": today,
            "images_copied_today": usage.copied_on(&today),
            "jobs_running": usage.running.len(),
        },
    });
    writeln!(
        out,
        "{}",
        serde_json::to_string_pretty(&shown).unwrap_or_default()
    )
    .map_err(|e| e.to_string())
}
