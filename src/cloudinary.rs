//! Cloudinary: account configuration, upload-form and delivery-URL signatures,
//! and webhook verification.
//!
//! Images are stored on Cloudinary as `authenticated` assets, so every URL the
//! API hands out carries a signature, and every upload goes through a form the
//! API signed. All three signature schemes are SHA-1 based (Cloudinary's
//! default), computed here rather than through an SDK: none exists for Rust,
//! and the schemes are a few lines each, pinned by the vectors in the tests.

use std::fmt;

use base64::Engine as _;
use serde::Serialize;
use sha1::{Digest, Sha1};

use crate::secret::Secret;

/// How old a webhook timestamp may be before the notification is refused
/// (replay protection), as Cloudinary's documentation recommends.
pub const WEBHOOK_MAX_AGE_SECONDS: i64 = 2 * 60 * 60;
/// How far in the future a webhook timestamp may be (clock skew).
pub const WEBHOOK_MAX_SKEW_SECONDS: i64 = 5 * 60;
/// The resource type an upload form allows: albums hold photos. The
/// form's URL (`auto/upload`, the contract's) is not signed, so Cloudinary
/// cannot hold an uploader to it; the webhook refuses any other type
/// (decision 0016).
pub const ALLOWED_RESOURCE_TYPE: &str = "image";
/// The formats an upload form allows, signed as `allowed_formats`:
/// Cloudinary refuses an upload in any other format (so a video or a
/// raw file is refused before it is stored).
pub const ALLOWED_FORMATS: &str = "jpg,jpeg,png,gif,webp,heic,heif,avif,tiff,bmp";
/// The largest upload the webhook records (25 MiB). Cloudinary's upload
/// API signs no size limit (only the account plan's maximum applies), so
/// the size is checked here, on the notification's `bytes`.
pub const MAX_UPLOAD_BYTES: u64 = 25 * 1024 * 1024;

/// Credentials and cloud name from `CLOUDINARY_URL`.
#[derive(Clone)]
pub struct CloudinaryConfig {
    /// Public API key, sent in upload forms.
    pub api_key: String,
    /// API secret, the key of every signature; never leaves the process.
    pub api_secret: Secret,
    /// The account's cloud name, part of every URL.
    pub cloud_name: String,
}

impl fmt::Debug for CloudinaryConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloudinaryConfig")
            .field("api_key", &self.api_key)
            .field("api_secret", &self.api_secret)
            .field("cloud_name", &self.cloud_name)
            .finish()
    }
}

/// Why a `CLOUDINARY_URL` was refused (never includes the secret).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("expected cloudinary://<api_key>:<api_secret>@<cloud_name>: {0}")]
pub struct CloudinaryUrlError(&'static str);

impl CloudinaryConfig {
    /// Parses `cloudinary://<api_key>:<api_secret>@<cloud_name>`.
    pub fn parse(url: &str) -> Result<Self, CloudinaryUrlError> {
        let rest = url
            .strip_prefix("cloudinary://")
            .ok_or(CloudinaryUrlError("wrong scheme"))?;
        let (credentials, cloud) = rest
            .rsplit_once('@')
            .ok_or(CloudinaryUrlError("no '@' before the cloud name"))?;
        let (key, secret) = credentials
            .split_once(':')
            .ok_or(CloudinaryUrlError("no ':' between key and secret"))?;
        let cloud = cloud.trim_end_matches('/');
        let cloud_ok = !cloud.is_empty()
            && cloud
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if key.is_empty() || secret.is_empty() || !cloud_ok {
            return Err(CloudinaryUrlError("empty or invalid part"));
        }
        Ok(Self {
            api_key: key.to_string(),
            api_secret: Secret::new(secret),
            cloud_name: cloud.to_string(),
        })
    }
}

/// Hex SHA-1 of `to_sign` followed by the secret: the core of Cloudinary's
/// API-request signatures.
pub fn sign_string(to_sign: &str, secret: &Secret) -> String {
    let mut h = Sha1::new();
    h.update(to_sign.as_bytes());
    h.update(secret.expose().as_bytes());
    hex::encode(h.finalize())
}

/// Signs upload parameters the way Cloudinary verifies them: every parameter
/// except `file`, `cloud_name`, `resource_type` and `api_key`, sorted by name,
/// `k=v` joined with `&`, values not URL-encoded, empty values skipped.
pub fn sign_params(params: &[(&str, String)], secret: &Secret) -> String {
    let mut kept: Vec<&(&str, String)> = params
        .iter()
        .filter(|(k, v)| {
            !matches!(*k, "file" | "cloud_name" | "resource_type" | "api_key") && !v.is_empty()
        })
        .collect();
    kept.sort_by(|a, b| a.0.cmp(b.0));
    let joined = kept
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    sign_string(&joined, secret)
}

/// The stored Cloudinary asset behind an image: enough to rebuild every URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssetRef<'a> {
    /// Cloudinary `public_id` (may contain folders).
    pub public_id: &'a str,
    /// Cloudinary `version` (cache-busting, not signed).
    pub version: u64,
    /// Delivery format (file extension).
    pub format: &'a str,
    /// Cloudinary resource type (`image`, `video`, `raw`): uploads go
    /// through `auto/upload`, so not every asset is an image.
    pub resource_type: &'a str,
}

/// The `s--XXXXXXXX--` component of a signed delivery URL: the first 8
/// characters of the URL-safe base64 of SHA-1(`<transformation>/<public_id>.<format>` + secret).
pub fn url_signature(to_sign: &str, secret: &Secret) -> String {
    let mut h = Sha1::new();
    h.update(to_sign.as_bytes());
    h.update(secret.expose().as_bytes());
    let b64 = base64::engine::general_purpose::URL_SAFE.encode(h.finalize());
    format!("s--{}--", &b64[..8])
}

/// A signed delivery URL of an authenticated image with the given
/// transformation chain (`""` for none). The version is part of the URL but
/// not of the signature, as Cloudinary does.
pub fn signed_url(cfg: &CloudinaryConfig, transformation: &str, asset: &AssetRef<'_>) -> String {
    let file = if asset.format.is_empty() {
        asset.public_id.to_string()
    } else {
        format!("{}.{}", asset.public_id, asset.format)
    };
    let to_sign = if transformation.is_empty() {
        file.clone()
    } else {
        format!("{transformation}/{file}")
    };
    let sig = url_signature(&to_sign, &cfg.api_secret);
    let mut url = String::with_capacity(96 + to_sign.len());
    url.push_str("https://res.cloudinary.com/");
    url.push_str(&cfg.cloud_name);
    url.push('/');
    url.push_str(match asset.resource_type {
        "video" => "video",
        "raw" => "raw",
        _ => "image",
    });
    url.push_str("/authenticated/");
    url.push_str(&sig);
    url.push('/');
    if !transformation.is_empty() {
        url.push_str(transformation);
        url.push('/');
    }
    if asset.version > 0 {
        url.push('v');
        url.push_str(&asset.version.to_string());
        url.push('/');
    }
    url.push_str(&file);
    url
}

/// The signed form a client posts its files with, straight to Cloudinary.
/// Field order follows the seed.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct UploadForm {
    /// Cloudinary's upload endpoint for the account.
    pub url: String,
    /// When the signature stops being accepted (= `params.timestamp`).
    pub expires_at: i64,
    /// The album id.
    pub name: String,
    /// `<organization_id>-<album_id>`.
    pub id: String,
    /// The signed parameters to post with the file.
    pub params: UploadParams,
    /// Kept from the contract.
    pub test_url: String,
}

/// The parameters of an [`UploadForm`], in the seed's order (sorted by
/// name, as they are signed), with `allowed_formats` first.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct UploadParams {
    /// The formats Cloudinary accepts through this form
    /// ([`ALLOWED_FORMATS`]); signed, so an uploader cannot widen it.
    pub allowed_formats: String,
    /// Ask Cloudinary for the predominant colors.
    pub colors: u8,
    /// Ask Cloudinary for face coordinates.
    pub faces: u8,
    /// Ask Cloudinary for EXIF/IPTC metadata.
    pub image_metadata: u8,
    /// Where Cloudinary posts the upload result (carries a notification token).
    pub notification_url: String,
    /// Ask Cloudinary for a perceptual hash.
    pub phash: u8,
    /// The album id, as a Cloudinary tag.
    pub tags: String,
    /// Signature time; Cloudinary refuses forms whose timestamp is stale.
    pub timestamp: i64,
    /// Delivery type: `authenticated`, so every URL must be signed.
    #[serde(rename = "type")]
    pub kind: String,
    /// SHA-1 signature of the parameters above.
    pub signature: String,
    /// Public API key.
    pub api_key: String,
}

/// Builds and signs an upload form for `album_id`.
pub fn upload_form(
    cfg: &CloudinaryConfig,
    organization_id: &str,
    album_id: &str,
    notification_url: String,
    timestamp: i64,
) -> UploadForm {
    let to_sign = [
        ("allowed_formats", ALLOWED_FORMATS.to_string()),
        ("colors", "1".to_string()),
        ("faces", "1".to_string()),
        ("image_metadata", "1".to_string()),
        ("notification_url", notification_url.clone()),
        ("phash", "1".to_string()),
        ("tags", album_id.to_string()),
        ("timestamp", timestamp.to_string()),
        ("type", "authenticated".to_string()),
    ];
    let signature = sign_params(&to_sign, &cfg.api_secret);
    UploadForm {
        url: format!(
            "https://api.cloudinary.com/v1_1/{}/auto/upload",
            cfg.cloud_name
        ),
        expires_at: timestamp,
        name: album_id.to_string(),
        id: format!("{organization_id}-{album_id}"),
        params: UploadParams {
            allowed_formats: ALLOWED_FORMATS.to_string(),
            colors: 1,
            faces: 1,
            image_metadata: 1,
            notification_url,
            phash: 1,
            tags: album_id.to_string(),
            timestamp,
            kind: "authenticated".to_string(),
            signature,
            api_key: cfg.api_key.clone(),
        },
        test_url: "/upload_test".to_string(),
    }
}

/// Why a webhook delivery was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WebhookError {
    /// `X-Cld-Timestamp` absent or not a number.
    #[error("missing or malformed X-Cld-Timestamp")]
    BadTimestamp,
    /// Timestamp outside the accepted window (replay or clock skew).
    #[error("stale notification timestamp")]
    Stale,
    /// Signature absent or wrong.
    #[error("invalid X-Cld-Signature")]
    BadSignature,
}

/// Verifies a Cloudinary notification: `X-Cld-Signature` must be the hex
/// SHA-1 of the raw body, the `X-Cld-Timestamp` value and the API secret, and
/// the timestamp at most [`WEBHOOK_MAX_AGE_SECONDS`] old.
pub fn verify_notification(
    body: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    secret: &Secret,
    now: i64,
) -> Result<(), WebhookError> {
    let ts_str = timestamp.ok_or(WebhookError::BadTimestamp)?.trim();
    let ts: i64 = ts_str.parse().map_err(|_| WebhookError::BadTimestamp)?;
    if now - ts > WEBHOOK_MAX_AGE_SECONDS || ts - now > WEBHOOK_MAX_SKEW_SECONDS {
        return Err(WebhookError::Stale);
    }
    let given = signature.ok_or(WebhookError::BadSignature)?.trim();
    let mut h = Sha1::new();
    h.update(body);
    h.update(ts_str.as_bytes());
    h.update(secret.expose().as_bytes());
    let expected = hex::encode(h.finalize());
    if constant_time_eq(expected.as_bytes(), given.to_ascii_lowercase().as_bytes()) {
        Ok(())
    } else {
        Err(WebhookError::BadSignature)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(secret: &str) -> CloudinaryConfig {
        CloudinaryConfig {
            api_key: "123".into(),
            api_secret: Secret::new(secret),
            cloud_name: "demo".into(),
        }
    }

    #[test]
    fn request_signature_matches_the_sdk_vector() {
        let s = sign_string(
            "cloud_name=dn6ot3ged&timestamp=1568810420&username=user@cloudinary.com",
            &Secret::new("hdcixPpR2iKERPwqvH6sHdK9cyac"),
        );
        assert_eq!(s, "14c00ba6d0dfdedbc86b316847d95b9e6cd46d94");
    }

    #[test]
    fn upload_form_signature_matches_the_python_sdk() {
        // The vector's parameters: the form's before `allowed_formats`.
        let url = "https://api.example.com/api/v1/cloudinary?token=abc.def.ghi";
        let vector = [
            ("colors", "1".to_string()),
            ("faces", "1".to_string()),
            ("image_metadata", "1".to_string()),
            ("notification_url", url.to_string()),
            ("phash", "1".to_string()),
            ("tags", "new_id".to_string()),
            ("timestamp", "1555349926".to_string()),
            ("type", "authenticated".to_string()),
        ];
        assert_eq!(
            sign_params(&vector, &Secret::new("s3cr3t")),
            "be53648200d6219af2324a7935bb76fd362b2acf"
        );
        let form = upload_form(&cfg("s3cr3t"), "org", "new_id", url.into(), 1_555_349_926);
        let mut signed = vector.to_vec();
        signed.push(("allowed_formats", ALLOWED_FORMATS.to_string()));
        assert_eq!(
            form.params.signature,
            sign_params(&signed, &Secret::new("s3cr3t")),
            "the form signs its format limit with the rest"
        );
        assert_eq!(form.params.allowed_formats, ALLOWED_FORMATS);
        assert_eq!(form.expires_at, form.params.timestamp);
        assert_eq!(form.id, "org-new_id");
        assert_eq!(form.url, "https://api.cloudinary.com/v1_1/demo/auto/upload");
    }

    #[test]
    fn sign_params_ignores_excluded_and_empty_params_and_sorts() {
        let secret = Secret::new("x");
        let a = sign_params(
            &[
                ("timestamp", "1".into()),
                ("api_key", "k".into()),
                ("file", "f".into()),
                ("cloud_name", "c".into()),
                ("resource_type", "image".into()),
                ("folder", "".into()),
                ("colors", "1".into()),
            ],
            &secret,
        );
        assert_eq!(a, sign_string("colors=1&timestamp=1", &secret));
    }

    #[test]
    fn url_signatures_match_the_vectors() {
        let secret = Secret::new("b");
        assert_eq!(
            url_signature("c_crop,h_20,w_10/image.jpg", &secret),
            "s--Ai4Znfl3--"
        );
        assert_eq!(url_signature("image.jpg", &secret), "s----SjmNDA--");
    }

    #[test]
    fn signed_url_places_version_outside_the_signature() {
        let c = cfg("b");
        let asset = AssetRef {
            public_id: "image",
            version: 123,
            format: "jpg",
            resource_type: "image",
        };
        assert_eq!(
            signed_url(&c, "c_crop,h_20,w_10", &asset),
            "https://res.cloudinary.com/demo/image/authenticated/s--Ai4Znfl3--/c_crop,h_20,w_10/v123/image.jpg"
        );
        assert_eq!(
            signed_url(&c, "", &asset),
            "https://res.cloudinary.com/demo/image/authenticated/s----SjmNDA--/v123/image.jpg"
        );
        let video = AssetRef {
            resource_type: "video",
            ..asset
        };
        assert!(
            signed_url(&c, "", &video)
                .starts_with("https://res.cloudinary.com/demo/video/authenticated/")
        );
    }

    #[test]
    fn parses_cloudinary_url_and_rejects_malformed_ones() {
        let c = CloudinaryConfig::parse("cloudinary://123123123123:s3cr3t@sadaasdasd").unwrap();
        assert_eq!(c.api_key, "123123123123");
        assert_eq!(c.api_secret.expose(), "s3cr3t");
        assert_eq!(c.cloud_name, "sadaasdasd");
        for bad in [
            "",
            "https://a:b@c",
            "cloudinary://a@c",
            "cloudinary://:b@c",
            "cloudinary://a:b@",
            "cloudinary://a:b@c/../x",
        ] {
            assert!(CloudinaryConfig::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn webhook_signature_is_checked_over_body_and_timestamp() {
        let secret = Secret::new("s3cr3t");
        let body = br#"{"notification_type":"upload"}"#;
        let now = 1_700_000_000;
        let ts = now.to_string();
        let mut h = Sha1::new();
        h.update(body);
        h.update(ts.as_bytes());
        h.update(b"s3cr3t");
        let good = hex::encode(h.finalize());
        assert_eq!(
            verify_notification(body, Some(&ts), Some(&good), &secret, now),
            Ok(())
        );
        assert_eq!(
            verify_notification(b"{}", Some(&ts), Some(&good), &secret, now),
            Err(WebhookError::BadSignature)
        );
        assert_eq!(
            verify_notification(body, Some(&ts), Some(&good), &secret, now + 7201),
            Err(WebhookError::Stale)
        );
        assert_eq!(
            verify_notification(body, None, Some(&good), &secret, now),
            Err(WebhookError::BadTimestamp)
        );
        assert_eq!(
            verify_notification(body, Some(&ts), None, &secret, now),
            Err(WebhookError::BadSignature)
        );
    }
}
