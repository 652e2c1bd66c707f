//! The application's dependencies and the steps every endpoint shares:
//! authenticating the caller and rendering an album.

use std::time::Duration;

use lambda_runtime::Error;

use crate::album::{Album, AlbumJson, THUMBNAILS};
use crate::api_secrets::{ApiSecret, SecretCache};
use crate::auth::session::TokenRules;
use crate::auth::{self, Ability, Issuer, Principal};
use crate::cloudinary::{self, UploadForm};
use crate::config::Config;
use crate::config::Needs;
use crate::deadline::Budgets;
use crate::error::ApiError;
use crate::secret_refresh::LiveKeys;
use crate::secret_source;
use crate::store::copy::CopyOptions;
use crate::store::moves::MoveState;
use crate::store::{Store, StoredImage, sdk_config_from_env};

/// Extra life of a notification token beyond its upload form's `expires_at`
/// (15 minutes): an upload begun just before the form expires still has
/// its transfer and Cloudinary's notification (or a retry of it) land.
/// Cloudinary itself accepts a signature up to an hour after its
/// `timestamp`; an upload later than this grace is stored there but never
/// recorded in an album (decision 0016).
pub const NOTIFICATION_GRACE_SECONDS: u64 = 15 * 60;

/// Everything a handler depends on, built once per Lambda instance.
#[derive(Clone, Debug)]
pub struct App {
    /// Validated configuration.
    pub config: Config,
    /// The table.
    pub store: Store,
    /// Tuning of album copies.
    pub copy: CopyOptions,
    /// Time an event function keeps free before its invocation's deadline
    /// when it stops copying (in-flight batches finish, progress is saved).
    pub deadline_margin: Duration,
    /// Time an event function keeps free before its invocation's deadline
    /// after its last DynamoDB call (less than `deadline_margin`, so the
    /// hand-off still fits): the invocation fails in time instead of timing
    /// out.
    pub answer_margin: Duration,
    /// Most source items one duplicate slice copies before it hands off
    /// (`None`: as many as its deadline allows). Tests and the dev server
    /// set it to get several slices whatever the machine's speed.
    pub slice_items: Option<u64>,
    /// Organization API secrets looked up by this process, each kept for
    /// at most `Config::api_secret_cache` (≤ 60 s): the bound on how long a
    /// revoked secret keeps working here (`crate::api_secrets`).
    pub api_secrets: SecretCache,
    /// The organizations' quota limits, read lately (decision 0015).
    pub quotas: crate::quota::LimitBook,
}

impl App {
    /// An app over an existing store.
    pub fn new(config: Config, store: Store) -> Self {
        Self {
            api_secrets: SecretCache::new(config.api_secret_cache),
            quotas: crate::quota::LimitBook::new(config.quotas, crate::quota::LIMITS_CACHE),
            config,
            store,
            copy: CopyOptions::default(),
            deadline_margin: crate::deadline::SAFETY_MARGIN,
            answer_margin: crate::deadline::ANSWER_MARGIN,
            slice_items: None,
        }
    }

    /// The same app caching looked-up API secrets for `ttl` instead (at
    /// most 60 s; tests shorten it), with an empty cache.
    pub fn with_secret_cache_ttl(mut self, ttl: Duration) -> Self {
        self.config.api_secret_cache = ttl;
        self.api_secrets = SecretCache::new(ttl);
        self
    }

    /// The time budgets of routes and calls (decision 0006), one set: the
    /// store's. A duplicate copies inline for `sync_copy` before it answers
    /// 202 with a job (API Gateway gives a request ~29 s).
    pub fn budgets(&self) -> &Budgets {
        self.store.budgets()
    }

    /// Reads the environment, reads the secrets `needs` names (from the
    /// environment, or Secrets Manager when only their ARNs are given),
    /// validates it all and builds the DynamoDB client: Lambda init. Fails
    /// (and the function with it) on bad configuration.
    pub async fn from_env(needs: Needs) -> Result<Self, Error> {
        let env = |k: &str| std::env::var(k).ok();
        let budgets = Budgets::from_env()?;
        let sdk = sdk_config_from_env(&budgets).await;
        let secrets = secret_source::resolve(needs, &env, &sdk).await?;
        let mut config = Config::from_lookup(needs, |k| secrets.value(k).or_else(|| env(k)))?;
        if let Some(client) = secrets.client.clone() {
            config.keys =
                LiveKeys::refreshing(client, &secrets.arns, &secrets.values, config.secret_rules)?;
        }
        let store = Store::connect(&sdk, config.table_name.clone())
            .with_budgets(budgets)
            .with_job_ttl(config.job_ttl);
        let mut app = Self::new(config, store);
        if let Ok(v) = std::env::var("COPY_CONCURRENCY") {
            app.copy.concurrency = match v.trim().parse::<usize>() {
                Ok(c) if (1..=64).contains(&c) => c,
                _ => return Err("COPY_CONCURRENCY must be an integer from 1 to 64".into()),
            };
        }
        Ok(app)
    }
}

/// Current Unix time in seconds.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Verifies the caller's token and finds the organization it acts for.
///
/// A token without `iss` is a user token: verified with `JWT_SECRET`
/// (its current version, or its previous one during a rotation's overlap,
/// decision 0018; the keys are re-read first when their cache TTL has
/// passed), its user's organization read from the table; a token for a user that no
/// longer exists is refused (401). A token whose `iss` names an active
/// organization API secret is verified with that secret and acts for its
/// organization (decision 0013); an unknown or revoked `iss` is a 401. The
/// secret comes from the process's cache while younger than
/// `Config::api_secret_cache` (≤ 60 s), so a warm invocation makes no
/// DynamoDB call for it. Both kinds obey the lifetime rules
/// (`auth::session`).
pub async fn authenticate(
    app: &App,
    authorization: Option<&str>,
    now: i64,
) -> Result<Principal, ApiError> {
    let header = authorization
        .ok_or_else(|| ApiError::Unauthorized("missing Authorization header".into()))?;
    let token = auth::token_from_header(header)
        .ok_or_else(|| ApiError::Unauthorized("malformed Authorization header".into()))?;
    let rules = TokenRules::new(app.config.token_max_lifetime_seconds);
    app.config.keys.refresh_if_due().await?;
    match auth::integrator::issuer_of(token)? {
        None => user_principal(app, token, now, &rules).await,
        Some(secret_id) => integrator_principal(app, token, &secret_id, now, &rules).await,
    }
}

async fn user_principal(
    app: &App,
    token: &str,
    now: i64,
    rules: &TokenRules,
) -> Result<Principal, ApiError> {
    let verified = app.config.jwt_keys()?.verify(now, |key| {
        auth::verify_api_token_with(token, key, now, rules)
    })?;
    let organization_id = app
        .store
        .user_organization(&verified.user_id)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("unknown user".into()))?;
    Ok(Principal {
        user_id: verified.user_id,
        organization_id,
        abilities: verified.abilities,
        claims: verified.claims,
        issuer: None,
        session_ends_at: verified.session_ends_at,
    })
}

async fn integrator_principal(
    app: &App,
    token: &str,
    secret_id: &str,
    now: i64,
    rules: &TokenRules,
) -> Result<Principal, ApiError> {
    let secret = app
        .api_secrets
        .get(&app.store, secret_id)
        .await?
        .filter(ApiSecret::is_active)
        .ok_or_else(|| ApiError::Unauthorized("unknown or revoked API secret".into()))?;
    let mut verified = auth::integrator::verify(token, &secret, now)?;
    let session_ends_at = rules.start_session(&mut verified.claims, now)?;
    let names_user = verified.user_id.is_some();
    Ok(Principal {
        user_id: verified.user_id.unwrap_or_else(|| secret.id.clone()),
        organization_id: secret.organization_id,
        abilities: verified.abilities,
        claims: verified.claims,
        issuer: Some(Issuer {
            secret_id: secret.id,
            key: secret.key,
            names_user,
        }),
        session_ends_at,
    })
}

/// An album the caller may reach: 404 when its organization holds none of
/// that id (whatever other organizations hold), 401 (`X-message: Access denied`) when the token lacks `ability`.
pub async fn album_for(
    app: &App,
    principal: &Principal,
    album_id: &str,
    abilities: &[Ability],
) -> Result<Album, ApiError> {
    Ok(album_and_move_for(app, principal, album_id, abilities)
        .await?
        .0)
}

/// [`album_for`], with the move the album is in, if any (decision 0011).
pub async fn album_and_move_for(
    app: &App,
    principal: &Principal,
    album_id: &str,
    abilities: &[Ability],
) -> Result<(Album, Option<MoveState>), ApiError> {
    let not_found = || ApiError::NotFound(format!("album {album_id} not found"));
    // Album ids are per organization (decision 0014): the caller's
    // organization is half the key, so another's album of this id is
    // never read. An organization id that could shift a key's parts names
    // no album either.
    if !crate::album::is_valid_id(album_id)
        || !crate::album::is_valid_id(&principal.organization_id)
    {
        return Err(not_found());
    }
    // Every album a request reads passes here: the invocation's first is
    // its `album_id` log key and trace annotation (once it is a valid id,
    // so a hostile path cannot bloat either).
    crate::telemetry::annotate_album(album_id);
    let (album, moving) = app
        .store
        .get_album_and_move(&principal.album_key(album_id))
        .await?
        .ok_or_else(not_found)?;
    if !abilities.iter().all(|a| principal.can(album_id, *a)) {
        return Err(ApiError::Forbidden(format!(
            "this token may not do that on album {album_id}"
        )));
    }
    Ok((album, moving))
}

/// The 409 of an album that is being renamed or merged away: what it
/// holds is on its way elsewhere (decision 0011).
pub fn moving_conflict(album_id: &str, to: &str) -> ApiError {
    ApiError::Conflict(format!("album {album_id} is being moved to {to}"))
}

/// The signed upload form of `album`, or `None` when the caller may not upload there.
pub fn upload_form_for(
    app: &App,
    principal: &Principal,
    album: &Album,
    now: i64,
) -> Result<Option<UploadForm>, ApiError> {
    if !principal.can(&album.id, Ability::ImageUpload) {
        return Ok(None);
    }
    let cfg = &app.config;
    let token = auth::issue_notification_token_for(
        &principal.user_id,
        principal.issuer.as_ref().map(|i| i.secret_id.as_str()),
        &album.id,
        &album.organization_id,
        cfg.notification_keys()?.signing(now),
        now,
        cfg.upload_form_ttl_seconds + NOTIFICATION_GRACE_SECONDS,
    )?;
    let url = format!("{}/api/v1/cloudinary?token={token}", cfg.public_api_url);
    Ok(Some(cloudinary::upload_form(
        cfg.cloudinary()?,
        &album.organization_id,
        &album.id,
        url,
        now + cfg.upload_form_ttl_seconds as i64,
    )))
}

/// Renders the contract's album JSON (as a string, compact, as the API
/// sends it) with its newest images as thumbnails.
pub async fn render_album(
    app: &App,
    principal: &Principal,
    album: &Album,
    now: i64,
) -> Result<String, ApiError> {
    with_album_json(app, principal, album, now, |json| {
        serde_json::to_string(json)
    })
    .await
}

/// [`render_album`] as a JSON value, to embed in another answer (a job's).
pub async fn album_value(
    app: &App,
    principal: &Principal,
    album: &Album,
    now: i64,
) -> Result<serde_json::Value, ApiError> {
    with_album_json(app, principal, album, now, |json| {
        serde_json::to_value(json)
    })
    .await
}

/// Builds the album JSON of `album` (it borrows the thumbnails read here)
/// and hands it to `serialize`.
async fn with_album_json<R>(
    app: &App,
    principal: &Principal,
    album: &Album,
    now: i64,
    serialize: impl FnOnce(&AlbumJson) -> serde_json::Result<R>,
) -> Result<R, ApiError> {
    let thumbs: Vec<StoredImage> = app.store.newest_images(album, THUMBNAILS).await?;
    let cld = app.config.cloudinary()?;
    let json = AlbumJson {
        id: &album.id,
        public_id: &album.id,
        images_count: album.images_count,
        views_count: album.views_count,
        upload_form: upload_form_for(app, principal, album, now)?,
        organization_id: &album.organization_id,
        thumbnails: thumbs
            .iter()
            .map(|t| t.record.render(&t.id, &album.id, cld))
            .collect(),
    };
    serialize(&json).map_err(|e| ApiError::Internal(format!("album JSON: {e}")))
}

/// The caller's refreshed token, sent as `X-token` on every success:
/// re-signed with the integrator's API secret that signed it, or with
/// `JWT_SECRET`'s signing version (so a token of the previous version
/// comes back signed with the current one once every cache has it,
/// decision 0018), never past the end of its session (`auth::session`).
pub fn x_token(app: &App, principal: &Principal, now: i64) -> Result<String, ApiError> {
    let ttl = app.config.token_ttl_seconds;
    match &principal.issuer {
        Some(issuer) => auth::refreshed_token(principal, &issuer.key, now, ttl),
        None => auth::refreshed_token(principal, app.config.jwt_keys()?.signing(now), now, ttl),
    }
}

/// Current time as RFC 3339 (UTC, milliseconds).
pub fn now_rfc3339() -> String {
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::now_utc()
        .format(&fmt)
        .unwrap_or_default()
}
