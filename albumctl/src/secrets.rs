//! `albumctl secrets`: an organization's API secrets, created, listed and
//! revoked (decision 0013).
//!
//! An integrator signs its own tokens with a secret and names the secret's
//! id in `iss` (README, Integrating). The secret is printed once, by
//! `create`, and never again: `list` shows ids, creation times and states
//! only. An organization may hold several active secrets, so a new one can
//! be rolled out before the old one is revoked. A revoked secret's tokens
//! are refused within the functions' cache time (`API_SECRET_CACHE_SECONDS`,
//! at most 60 s).

use std::io::Write;

use album_api::album::is_valid_id;
use album_api::api_secrets::{ApiSecret, is_valid_secret_id};
use album_api::store::Store;
use album_api::store::api_secrets::Revoked;
use clap::Subcommand;

/// `albumctl secrets …`.
#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Create an API secret for an organization: prints its id and the
    /// secret, once (keep the secret on your server; it is never shown again).
    Create {
        /// The organization.
        #[arg(long)]
        org: String,
    },
    /// List an organization's API secrets: id, creation time, state
    /// (active or revoked); never the secret.
    List {
        /// The organization.
        #[arg(long)]
        org: String,
    },
    /// Revoke an API secret: the tokens it signed are refused within the
    /// functions' cache time (at most 60 s).
    Revoke {
        /// The secret's id.
        #[arg(long)]
        id: String,
    },
}

/// Runs one `secrets` command against `store`, writing what it prints to
/// `out` (stdout for the CLI); notes go to stderr.
pub async fn run(
    store: &Store,
    command: SecretsCommand,
    out: &mut impl Write,
) -> Result<(), String> {
    match command {
        SecretsCommand::Create { org } => create(store, &org, out).await,
        SecretsCommand::List { org } => list(store, &org, out).await,
        SecretsCommand::Revoke { id } => revoke(store, &id, out).await,
    }
}

fn io(e: std::io::Error) -> String {
    format!("cannot write the output: {e}")
}

async fn existing_org(store: &Store, org: &str) -> Result<(), String> {
    if !is_valid_id(org) {
        return Err("--org must be 1-128 characters of A-Za-z0-9_-".into());
    }
    match store.organization_exists(org).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(format!("organization {org} does not exist")),
        Err(e) => Err(e.to_string()),
    }
}

/// Creates a secret of `org` and prints `id: <id>` and `secret: <secret>`.
pub async fn create(store: &Store, org: &str, out: &mut impl Write) -> Result<(), String> {
    existing_org(store, org).await?;
    let secret =
        ApiSecret::generate(org, &album_api::service::now_rfc3339()).map_err(|e| e.to_string())?;
    if !store
        .create_api_secret(&secret)
        .await
        .map_err(|e| e.to_string())?
    {
        return Err("a secret with that id exists already; run the command again".into());
    }
    writeln!(out, "id: {}", secret.id).map_err(io)?;
    writeln!(out, "secret: {}", secret.key.expose()).map_err(io)?;
    eprintln!(
        "API secret {} created for organization {org}: keep the secret on your server, it is not shown again",
        secret.id
    );
    Ok(())
}

/// Prints one line per secret of `org`: id, creation time, state.
pub async fn list(store: &Store, org: &str, out: &mut impl Write) -> Result<(), String> {
    existing_org(store, org).await?;
    let secrets = store
        .organization_api_secrets(org)
        .await
        .map_err(|e| e.to_string())?;
    for s in &secrets {
        let state = match &s.revoked_at {
            None => "active".to_string(),
            Some(at) => format!("revoked {at}"),
        };
        writeln!(out, "{}  {}  {state}", s.id, s.created_at).map_err(io)?;
    }
    eprintln!("{} API secret(s) of organization {org}", secrets.len());
    Ok(())
}

/// Revokes secret `id`; revoking a revoked secret changes nothing.
pub async fn revoke(store: &Store, id: &str, out: &mut impl Write) -> Result<(), String> {
    if !is_valid_secret_id(id) {
        return Err("--id must be 1-128 characters of A-Za-z0-9_-".into());
    }
    let now = album_api::service::now_rfc3339();
    match store
        .revoke_api_secret(id, &now)
        .await
        .map_err(|e| e.to_string())?
    {
        Revoked::Now => writeln!(out, "{id} revoked").map_err(io),
        Revoked::Already => writeln!(out, "{id} was revoked already").map_err(io),
        Revoked::Unknown => Err(format!("no API secret has the id {id}")),
    }
}
