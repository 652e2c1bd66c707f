//! Runtime configuration, read from the environment once at Lambda init.
//!
//! Every function validates its whole configuration before it takes its first
//! event, so a misconfigured deployment fails at cold start with a message
//! naming the variable, instead of answering 500s at request time.

mod error;
mod needs;

pub use error::ConfigError;
pub use needs::{Needs, SecretName};

use std::time::Duration;

use crate::cloudinary::CloudinaryConfig;
use crate::error::ApiError;
use crate::secret::{Keys, MIN_SECRET_BYTES, Secret};
use crate::secret_refresh::{LiveKeys, Rules, SigningKeys};

/// Default lifetime of a signed upload form (`UPLOAD_FORM_TTL_SECONDS`):
/// an hour, long enough to pick and send a batch of photos, short enough
/// that a leaked form is soon worthless, since forms cannot be revoked
/// (decision 0016).
pub const DEFAULT_UPLOAD_FORM_TTL_SECONDS: u64 = 3_600;
/// The longest an upload form may live: a day.
pub const MAX_UPLOAD_FORM_TTL_SECONDS: u64 = 86_400;
/// Default lifetime of the refreshed `X-token` (four hours).
pub const DEFAULT_TOKEN_TTL_SECONDS: u64 = 14_400;
/// Default `TOKEN_MAX_LIFETIME_SECONDS` (24 h): the longest an API token
/// may be valid from now, and the longest `X-token` renewals keep a session
/// alive. A day covers a working session and an integrator's 12-hour
/// tokens (SharinPix's example), and bounds what a leaked token is worth.
pub const DEFAULT_TOKEN_MAX_LIFETIME_SECONDS: u64 = 86_400;
/// Default days a finished job item is kept (`JOB_TTL_DAYS`): far longer
/// than any re-delivery of the event that started it (6 h at most), so a
/// late re-delivery still finds its job done instead of copying again.
pub const DEFAULT_JOB_TTL_DAYS: u64 = 30;
/// Cloudinary's API, where imports ask for uploads.
pub const DEFAULT_CLOUDINARY_API_URL: &str = "https://api.cloudinary.com";
/// Default days a deleted image stays in the trash (`TRASH_RETENTION_DAYS`).
pub const DEFAULT_TRASH_RETENTION_DAYS: u64 = 30;
/// The longest a looked-up organization API secret may stay cached
/// (`API_SECRET_CACHE_SECONDS`): the bound on how long a revoked secret
/// keeps working on a warm function (decision 0013).
pub const MAX_API_SECRET_CACHE: Duration = Duration::from_secs(60);
/// How long a looked-up API secret stays cached when nobody says.
pub const DEFAULT_API_SECRET_CACHE: Duration = Duration::from_secs(30);
/// How long a warm function uses the signing secrets it read before it
/// reads them again (`SECRET_CACHE_SECONDS`) when nobody says: five
/// minutes, so a rotation reaches every warm function within that and a
/// function makes one `GetSecretValue` per secret per 5 minutes
/// (decision 0018).
pub const DEFAULT_SECRET_CACHE: Duration = Duration::from_secs(300);
/// The longest `SECRET_CACHE_SECONDS`: an hour.
pub const MAX_SECRET_CACHE: Duration = Duration::from_secs(3_600);

/// Everything a function needs from its environment.
#[derive(Clone, Debug)]
pub struct Config {
    /// The single DynamoDB table holding organizations, users, albums and images.
    pub table_name: String,
    /// The HS256 keys of user tokens (`JWT_SECRET` itself, as operators
    /// and integrators sign them), of cursors (derived from it) and of
    /// notification tokens (derived from `NOTIFICATION_SECRET`), those the
    /// function declared it needs ([`Needs`]); re-read after
    /// `secret_rules.ttl` when they come from Secrets Manager (decision
    /// 0018). See [`Config::jwt_keys`].
    pub keys: LiveKeys,
    /// `SECRET_CACHE_SECONDS` (1 to 3600, default 300) and
    /// `SECRET_OVERLAP_SECONDS` (0 to a year, default
    /// `TOKEN_MAX_LIFETIME_SECONDS`, so no token valid at a rotation is
    /// refused for it).
    pub secret_rules: Rules,
    /// Parsed `CLOUDINARY_URL`, when needed; see [`Config::cloudinary`].
    pub cloudinary_url: Option<CloudinaryConfig>,
    /// Public base URL of this API (no trailing slash); the webhook URL in
    /// upload forms is built from it.
    pub public_api_url: String,
    /// Cloudinary's API (`CLOUDINARY_API_URL`, default
    /// `https://api.cloudinary.com`): where imports ask for uploads; the
    /// tests point it at a local stand-in.
    pub cloudinary_api_url: String,
    /// Seconds an upload form stays valid (`UPLOAD_FORM_TTL_SECONDS`, a
    /// minute to a day, default an hour).
    pub upload_form_ttl_seconds: u64,
    /// Seconds a refreshed `X-token` stays valid.
    pub token_ttl_seconds: u64,
    /// The token-lifetime rule (`TOKEN_MAX_LIFETIME_SECONDS`, default 24 h):
    /// an API token whose `exp` lies further ahead is refused, and `X-token`
    /// renewals never carry a session past this long after it began
    /// (`auth::session`).
    pub token_max_lifetime_seconds: u64,
    /// How long a looked-up organization API secret stays cached in the
    /// process (`API_SECRET_CACHE_SECONDS`, 0 to 60, default 30): the most
    /// a revoked secret keeps working on a warm function
    /// (`crate::api_secrets`).
    pub api_secret_cache: Duration,
    /// How long a finished (done or failed) job item is kept before
    /// DynamoDB's TTL deletes it (`JOB_TTL_DAYS`, default 30).
    pub job_ttl: Duration,
    /// How long a deleted image stays in the trash, restorable, before
    /// DynamoDB's TTL deletes it (`TRASH_RETENTION_DAYS`, default 30).
    pub trash_retention: Duration,
    /// The deployment's quotas of every organization
    /// (`QUOTA_IMAGES_PER_ALBUM`, `QUOTA_IMAGES_COPIED_PER_DAY`,
    /// `QUOTA_JOBS_AT_ONCE`; an organization's overrides in the table
    /// replace them, decision 0015).
    pub quotas: crate::quota::Limits,
}

impl Config {
    /// Reads and validates the process environment, secrets included (so
    /// only for functions whose secrets are in it; a deployed function
    /// resolves them first, see [`crate::App::from_env`]).
    pub fn from_env(needs: Needs) -> Result<Self, ConfigError> {
        Self::from_lookup(needs, |k| std::env::var(k).ok())
    }

    /// Reads and validates configuration from any key lookup (tests pass a
    /// map): the secrets `needs` names are required, the others not read.
    pub fn from_lookup(
        needs: Needs,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let vars = Vars(&get);
        let (token_ttl_seconds, token_max_lifetime_seconds) = vars.token_lifetimes()?;
        let jwt = needs
            .jwt
            .then(|| vars.signing_secret("JWT_SECRET"))
            .transpose()?;
        let notification = needs
            .notification
            .then(|| vars.signing_secret("NOTIFICATION_SECRET"))
            .transpose()?;
        let secret_rules = Rules {
            ttl: Duration::from_secs(vars.number(
                "SECRET_CACHE_SECONDS",
                DEFAULT_SECRET_CACHE.as_secs(),
                1..=MAX_SECRET_CACHE.as_secs(),
                "a number of seconds between 1 and 3600",
            )?),
            overlap: Duration::from_secs(vars.number(
                "SECRET_OVERLAP_SECONDS",
                token_max_lifetime_seconds,
                0..=31_536_000,
                "a number of seconds between 0 and 31536000",
            )?),
        };
        Ok(Self {
            table_name: vars.required("TABLE_NAME")?,
            keys: LiveKeys::fixed(SigningKeys::single(jwt, notification)),
            secret_rules,
            cloudinary_url: needs.cloudinary.then(|| vars.cloudinary()).transpose()?,
            public_api_url: vars.public_api_url()?,
            cloudinary_api_url: vars.http_url("CLOUDINARY_API_URL", DEFAULT_CLOUDINARY_API_URL)?,
            upload_form_ttl_seconds: vars.number(
                "UPLOAD_FORM_TTL_SECONDS",
                DEFAULT_UPLOAD_FORM_TTL_SECONDS,
                60..=MAX_UPLOAD_FORM_TTL_SECONDS,
                "a number of seconds between 60 and 86400",
            )?,
            token_ttl_seconds,
            token_max_lifetime_seconds,
            api_secret_cache: Duration::from_secs(vars.number(
                "API_SECRET_CACHE_SECONDS",
                DEFAULT_API_SECRET_CACHE.as_secs(),
                0..=MAX_API_SECRET_CACHE.as_secs(),
                "a number of seconds between 0 and 60",
            )?),
            job_ttl: Duration::from_secs(vars.days("JOB_TTL_DAYS", DEFAULT_JOB_TTL_DAYS)? * 86_400),
            trash_retention: Duration::from_secs(
                vars.days("TRASH_RETENTION_DAYS", DEFAULT_TRASH_RETENTION_DAYS)? * 86_400,
            ),
            quotas: vars.quotas()?,
        })
    }
}

/// The deployment's quotas from any key lookup (`QUOTA_*`; defaults when
/// absent): what `albumctl quotas show` reports beside the overrides.
pub fn quota_limits(
    get: impl Fn(&str) -> Option<String>,
) -> Result<crate::quota::Limits, ConfigError> {
    Vars(&get).quotas()
}

/// The variables of one lookup, each read and validated by its kind.
struct Vars<'a, F: Fn(&str) -> Option<String>>(&'a F);

impl<F: Fn(&str) -> Option<String>> Vars<'_, F> {
    /// The value, trimmed; `None` when absent or blank.
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.get(name).ok_or(ConfigError::Missing(name))
    }

    /// Seconds from 1 to a year; `default` when absent or blank.
    fn seconds(&self, name: &'static str, default: u64) -> Result<u64, ConfigError> {
        self.number(
            name,
            default,
            1..=31_536_000,
            "a number of seconds between 1 and 31536000",
        )
    }

    /// Days from 1 to ten years; `default` when absent or blank.
    fn days(&self, name: &'static str, default: u64) -> Result<u64, ConfigError> {
        self.number(
            name,
            default,
            1..=3650,
            "a number of days between 1 and 3650",
        )
    }

    /// `TOKEN_TTL_SECONDS` and `TOKEN_MAX_LIFETIME_SECONDS` (a minute to a
    /// year): a renewed `X-token` must itself be acceptable, so its lifetime
    /// may not exceed the maximum.
    fn token_lifetimes(&self) -> Result<(u64, u64), ConfigError> {
        let ttl = self.seconds("TOKEN_TTL_SECONDS", DEFAULT_TOKEN_TTL_SECONDS)?;
        let max = self.number(
            "TOKEN_MAX_LIFETIME_SECONDS",
            DEFAULT_TOKEN_MAX_LIFETIME_SECONDS,
            60..=31_536_000,
            "a number of seconds between 60 and 31536000",
        )?;
        if ttl > max {
            return Err(ConfigError::Invalid {
                name: "TOKEN_TTL_SECONDS",
                reason: "must not exceed TOKEN_MAX_LIFETIME_SECONDS".into(),
            });
        }
        Ok((ttl, max))
    }

    /// The deployment's quotas, each from 1 to a billion.
    fn quotas(&self) -> Result<crate::quota::Limits, ConfigError> {
        let d = crate::quota::Limits::default();
        let quota = |name, default| {
            self.number(
                name,
                default,
                1..=1_000_000_000,
                "a number between 1 and 1000000000",
            )
        };
        Ok(crate::quota::Limits {
            images_per_album: quota("QUOTA_IMAGES_PER_ALBUM", d.images_per_album)?,
            images_copied_per_day: quota("QUOTA_IMAGES_COPIED_PER_DAY", d.images_copied_per_day)?,
            jobs_at_once: quota("QUOTA_JOBS_AT_ONCE", d.jobs_at_once)?,
        })
    }

    fn number(
        &self,
        name: &'static str,
        default: u64,
        range: std::ops::RangeInclusive<u64>,
        expected: &str,
    ) -> Result<u64, ConfigError> {
        let Some(v) = self.get(name) else {
            return Ok(default);
        };
        match v.parse::<u64>() {
            Ok(n) if range.contains(&n) => Ok(n),
            _ => Err(ConfigError::Invalid {
                name,
                reason: format!("expected {expected}"),
            }),
        }
    }

    /// A signing secret of at least [`MIN_SECRET_BYTES`] bytes: a shorter
    /// one caps the strength of every key derived from it.
    fn signing_secret(&self, name: &'static str) -> Result<Secret, ConfigError> {
        let value = self.required(name)?;
        if value.len() < MIN_SECRET_BYTES {
            return Err(ConfigError::Invalid {
                name,
                reason: format!("must be at least {MIN_SECRET_BYTES} bytes"),
            });
        }
        Ok(Secret::new(value))
    }

    fn cloudinary(&self) -> Result<CloudinaryConfig, ConfigError> {
        CloudinaryConfig::parse(&self.required("CLOUDINARY_URL")?).map_err(|e| {
            ConfigError::Invalid {
                name: "CLOUDINARY_URL",
                reason: e.to_string(),
            }
        })
    }

    /// The API's public base URL, without a trailing slash.
    /// An http(s) URL without its trailing `/`; `default` when absent.
    fn http_url(&self, name: &'static str, default: &str) -> Result<String, ConfigError> {
        let url = self.get(name).unwrap_or_else(|| default.to_string());
        let url = url.trim_end_matches('/').to_string();
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(ConfigError::Invalid {
                name,
                reason: "must start with https:// or http://".into(),
            });
        }
        Ok(url)
    }

    fn public_api_url(&self) -> Result<String, ConfigError> {
        let url = self.required("PUBLIC_API_URL")?;
        let url = url.trim_end_matches('/').to_string();
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(ConfigError::Invalid {
                name: "PUBLIC_API_URL",
                reason: "must start with https:// or http://".into(),
            });
        }
        Ok(url)
    }
}

impl Config {
    /// The HS256 keys of user tokens held now (current and previous
    /// version). An internal error (500), never a panic, when the function
    /// did not declare them: a wiring mistake the handlers' tests would
    /// show.
    pub fn jwt_keys(&self) -> Result<Keys, ApiError> {
        self.keys
            .snapshot()
            .jwt
            .clone()
            .ok_or_else(|| ApiError::Internal("this function reads no JWT secret".into()))
    }

    /// The keys of pagination cursors, under the same rule.
    pub fn cursor_keys(&self) -> Result<Keys, ApiError> {
        self.keys
            .snapshot()
            .cursor
            .clone()
            .ok_or_else(|| ApiError::Internal("this function reads no JWT secret".into()))
    }

    /// The keys of notification tokens, under the same rule.
    pub fn notification_keys(&self) -> Result<Keys, ApiError> {
        self.keys
            .snapshot()
            .notification
            .clone()
            .ok_or_else(|| ApiError::Internal("this function reads no notification secret".into()))
    }

    /// Cloudinary's account and signing secret, under the same rule.
    pub fn cloudinary(&self) -> Result<&CloudinaryConfig, ApiError> {
        self.cloudinary_url
            .as_ref()
            .ok_or_else(|| ApiError::Internal("this function reads no Cloudinary URL".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    const FULL: &[(&str, &str)] = &[
        ("TABLE_NAME", "albums"),
        ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
        (
            "NOTIFICATION_SECRET",
            "notification-secret-0123456789abcdef",
        ),
        ("CLOUDINARY_URL", "cloudinary://123:abc@demo"),
        ("PUBLIC_API_URL", "https://api.example.com/"),
    ];

    #[test]
    fn loads_defaults_and_trims_the_public_url() {
        let c = Config::from_lookup(Needs::JWT_AND_CLOUDINARY, env(FULL)).unwrap();
        assert_eq!(c.public_api_url, "https://api.example.com");
        assert_eq!(c.upload_form_ttl_seconds, 3_600);
        assert_eq!(c.token_ttl_seconds, 14_400);
        assert_eq!(c.cloudinary().unwrap().cloud_name, "demo");
        assert_eq!(c.job_ttl, std::time::Duration::from_secs(30 * 86_400));
    }

    #[test]
    fn reads_only_the_secrets_the_function_needs() {
        let pairs = [FULL[0], FULL[4]];
        let c = Config::from_lookup(Needs::NONE, env(&pairs)).unwrap();
        assert!(c.jwt_keys().is_err() && c.cloudinary().is_err());
        let e = Config::from_lookup(Needs::JWT, env(&pairs)).unwrap_err();
        assert_eq!(e, ConfigError::Missing("JWT_SECRET"));
        let c = Config::from_lookup(Needs::JWT, env(&FULL[..4])).map(|_| ());
        assert_eq!(c.unwrap_err(), ConfigError::Missing("PUBLIC_API_URL"));
    }

    #[test]
    fn job_ttl_is_whole_days_from_one_to_ten_years() {
        let mut pairs = FULL.to_vec();
        pairs.push(("JOB_TTL_DAYS", "7"));
        let c = Config::from_lookup(Needs::NONE, env(&pairs)).unwrap();
        assert_eq!(c.job_ttl, std::time::Duration::from_secs(7 * 86_400));
        for bad in ["0", "3651", "a week"] {
            let mut pairs = FULL.to_vec();
            pairs.push(("JOB_TTL_DAYS", bad));
            let e = Config::from_lookup(Needs::NONE, env(&pairs)).unwrap_err();
            assert!(
                matches!(
                    e,
                    ConfigError::Invalid {
                        name: "JOB_TTL_DAYS",
                        ..
                    }
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn quotas_default_or_from_one_to_a_billion() {
        let c = Config::from_lookup(Needs::JWT, env(FULL)).unwrap();
        assert_eq!(c.quotas, crate::quota::Limits::default());
        let mut pairs = FULL.to_vec();
        pairs.push(("QUOTA_JOBS_AT_ONCE", "3"));
        let c = Config::from_lookup(Needs::JWT, env(&pairs)).unwrap();
        assert_eq!(c.quotas.jobs_at_once, 3);
        for (name, bad) in [
            ("QUOTA_IMAGES_PER_ALBUM", "0"),
            ("QUOTA_IMAGES_COPIED_PER_DAY", "1000000001"),
            ("QUOTA_JOBS_AT_ONCE", "many"),
        ] {
            let mut pairs = FULL.to_vec();
            pairs.push((name, bad));
            let e = Config::from_lookup(Needs::JWT, env(&pairs)).unwrap_err();
            assert!(
                matches!(e, ConfigError::Invalid { name: n, .. } if n == name),
                "{name}={bad}"
            );
        }
    }

    #[test]
    fn token_lifetime_and_secret_cache_rules() {
        let c = Config::from_lookup(Needs::JWT, env(FULL)).unwrap();
        assert_eq!(c.token_max_lifetime_seconds, 86_400);
        assert_eq!(c.api_secret_cache, Duration::from_secs(30));
        assert_eq!(c.secret_rules.ttl, Duration::from_secs(300));
        assert_eq!(c.secret_rules.overlap, Duration::from_secs(86_400));
        let mut pairs = FULL.to_vec();
        pairs.extend([
            ("TOKEN_MAX_LIFETIME_SECONDS", "3600"),
            ("TOKEN_TTL_SECONDS", "600"),
            ("API_SECRET_CACHE_SECONDS", "0"),
        ]);
        let c = Config::from_lookup(Needs::JWT, env(&pairs)).unwrap();
        assert_eq!(c.token_max_lifetime_seconds, 3_600);
        assert_eq!(c.api_secret_cache, Duration::ZERO);
        assert_eq!(
            c.secret_rules.overlap,
            Duration::from_secs(3_600),
            "the overlap outlives every token valid at a rotation"
        );
        for (name, bad) in [
            ("SECRET_CACHE_SECONDS", "0"),
            ("SECRET_CACHE_SECONDS", "3601"),
            ("SECRET_OVERLAP_SECONDS", "-1"),
            ("API_SECRET_CACHE_SECONDS", "61"),
            ("TOKEN_MAX_LIFETIME_SECONDS", "59"),
            ("TOKEN_MAX_LIFETIME_SECONDS", "a day"),
        ] {
            let mut pairs = FULL.to_vec();
            pairs.push((name, bad));
            let e = Config::from_lookup(Needs::JWT, env(&pairs)).unwrap_err();
            assert!(
                matches!(e, ConfigError::Invalid { name: n, .. } if n == name),
                "{name}={bad}"
            );
        }
        // A renewal must itself be acceptable.
        let mut pairs = FULL.to_vec();
        pairs.extend([
            ("TOKEN_MAX_LIFETIME_SECONDS", "3600"),
            ("TOKEN_TTL_SECONDS", "3601"),
        ]);
        let e = Config::from_lookup(Needs::JWT, env(&pairs)).unwrap_err();
        assert!(matches!(
            e,
            ConfigError::Invalid {
                name: "TOKEN_TTL_SECONDS",
                ..
            }
        ));
    }

    #[test]
    fn names_the_missing_variable() {
        let e = Config::from_lookup(Needs::JWT_AND_CLOUDINARY, env(&FULL[1..])).unwrap_err();
        assert_eq!(e, ConfigError::Missing("TABLE_NAME"));
    }

    #[test]
    fn debug_output_never_contains_secrets() {
        let c = Config::from_lookup(Needs::JWT_AND_CLOUDINARY, env(FULL)).unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("0123456789abcdef0123"), "{shown}");
        assert!(!shown.contains("notification-secret"), "{shown}");
        assert!(!shown.contains("abc@"), "{shown}");
    }

    #[test]
    fn a_short_signing_secret_is_refused_at_init() {
        for name in ["JWT_SECRET", "NOTIFICATION_SECRET"] {
            let mut pairs: Vec<_> = FULL.iter().filter(|(k, _)| *k != name).copied().collect();
            // 31 bytes: one short.
            pairs.push((name, "0123456789abcdef0123456789abcde"));
            let e = Config::from_lookup(Needs::ALBUMS, env(&pairs)).unwrap_err();
            assert_eq!(
                e,
                ConfigError::Invalid {
                    name,
                    reason: "must be at least 32 bytes".into()
                }
            );
        }
    }

    #[test]
    fn each_purpose_gets_its_own_key_and_the_webhook_no_user_key() {
        let c = Config::from_lookup(Needs::ALBUMS, env(FULL)).unwrap();
        let user = c.jwt_keys().unwrap();
        let cursor = c.cursor_keys().unwrap();
        let note = c.notification_keys().unwrap();
        assert_eq!(user.current().expose(), "0123456789abcdef0123456789abcdef");
        assert!(user != cursor && user != note && cursor != note);
        let webhook = Config::from_lookup(Needs::WEBHOOK, env(FULL)).unwrap();
        assert!(webhook.jwt_keys().is_err() && webhook.cursor_keys().is_err());
        assert_eq!(webhook.notification_keys().unwrap(), note);
    }

    #[test]
    fn upload_forms_live_from_a_minute_to_a_day() {
        let mut pairs = FULL.to_vec();
        pairs.push(("UPLOAD_FORM_TTL_SECONDS", "300"));
        let c = Config::from_lookup(Needs::NONE, env(&pairs)).unwrap();
        assert_eq!(c.upload_form_ttl_seconds, 300);
        for bad in ["59", "604800", "an hour"] {
            let mut pairs = FULL.to_vec();
            pairs.push(("UPLOAD_FORM_TTL_SECONDS", bad));
            let e = Config::from_lookup(Needs::NONE, env(&pairs)).unwrap_err();
            assert!(
                matches!(
                    e,
                    ConfigError::Invalid {
                        name: "UPLOAD_FORM_TTL_SECONDS",
                        ..
                    }
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn rejects_a_non_numeric_ttl() {
        let mut pairs = FULL.to_vec();
        pairs.push(("TOKEN_TTL_SECONDS", "soon"));
        let e = Config::from_lookup(Needs::JWT_AND_CLOUDINARY, env(&pairs)).unwrap_err();
        assert!(matches!(
            e,
            ConfigError::Invalid {
                name: "TOKEN_TTL_SECONDS",
                ..
            }
        ));
    }
}
