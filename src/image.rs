//! Images: the compact record stored per image and the full JSON rendered from it.
//!
//! The stored record keeps only what cannot be derived (Cloudinary asset,
//! upload infos, dimensions, dates…) under one-or-two-letter keys, and omits
//! fields at their default value: a copy into one album is bounded by the
//! partition's write units per second, and a write unit is 1 KB, so every byte
//! of the item is copy throughput. The image's id, album and every URL are
//! derived at read time.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cloudinary::{AssetRef, CloudinaryConfig, signed_url};

fn empty_object() -> Value {
    Value::Object(Default::default())
}
fn is_empty_object(v: &Value) -> bool {
    matches!(v, Value::Object(m) if m.is_empty())
}
fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}
fn is_zero_f64(v: &f64) -> bool {
    *v == 0.0
}
fn one() -> i64 {
    1
}
fn is_one(v: &i64) -> bool {
    *v == 1
}
fn yes() -> bool {
    true
}
fn is_true(v: &bool) -> bool {
    *v
}

/// What the table stores for one image (the `d` attribute, as JSON).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// Cloudinary `public_id` of the asset.
    #[serde(rename = "a")]
    pub asset_public_id: String,
    /// Cloudinary `version` of the asset.
    #[serde(rename = "v")]
    pub asset_version: u64,
    /// Delivery format of the asset (URL extension).
    #[serde(rename = "f")]
    pub asset_format: String,
    /// Cloudinary's upload infos, as received.
    #[serde(rename = "i", default = "empty_object")]
    pub infos: Value,
    /// EXIF data.
    #[serde(
        rename = "x",
        default = "empty_object",
        skip_serializing_if = "is_empty_object"
    )]
    pub exifs: Value,
    /// Coordinates, `[lat, lng]`.
    #[serde(rename = "g", default, skip_serializing_if = "Option::is_none")]
    pub gps: Option<Value>,
    /// Coordinates located from the uploader's IP.
    #[serde(rename = "gi", default, skip_serializing_if = "Option::is_none")]
    pub gps_ip: Option<Value>,
    /// Coordinates from EXIF.
    #[serde(rename = "ge", default, skip_serializing_if = "Option::is_none")]
    pub gps_exifs: Option<Value>,
    /// Coordinates from the browser.
    #[serde(rename = "gh", default, skip_serializing_if = "Option::is_none")]
    pub gps_html: Option<Value>,
    /// Creation time, as given (RFC 3339); copies keep it.
    #[serde(rename = "c")]
    pub created_at: String,
    /// Last update time (RFC 3339).
    #[serde(rename = "u")]
    pub updated_at: String,
    /// When the photo was taken, if known.
    #[serde(rename = "t", default, skip_serializing_if = "Option::is_none")]
    pub taken_at: Option<String>,
    /// Width in pixels.
    #[serde(rename = "w", default)]
    pub width: i64,
    /// Height in pixels.
    #[serde(rename = "h", default)]
    pub height: i64,
    /// Rotation in degrees.
    #[serde(rename = "r", default, skip_serializing_if = "is_zero_i64")]
    pub rotation: i64,
    /// Crop box.
    #[serde(rename = "cx", default, skip_serializing_if = "is_zero_f64")]
    pub crop_x: f64,
    /// Crop box.
    #[serde(rename = "cy", default, skip_serializing_if = "is_zero_f64")]
    pub crop_y: f64,
    /// Crop box.
    #[serde(rename = "cw", default, skip_serializing_if = "is_zero_f64")]
    pub crop_w: f64,
    /// Crop box.
    #[serde(rename = "ch", default, skip_serializing_if = "is_zero_f64")]
    pub crop_h: f64,
    /// Free-form metadata.
    #[serde(
        rename = "m",
        default = "empty_object",
        skip_serializing_if = "is_empty_object"
    )]
    pub metadatas: Value,
    /// Original width when it differs from `width`.
    #[serde(rename = "ow", default, skip_serializing_if = "Option::is_none")]
    pub original_width: Option<i64>,
    /// Original height when it differs from `height`.
    #[serde(rename = "oh", default, skip_serializing_if = "Option::is_none")]
    pub original_height: Option<i64>,
    /// Display file name.
    #[serde(rename = "n", default)]
    pub filename: String,
    /// Format of the original upload.
    #[serde(rename = "fm", default)]
    pub format: String,
    /// Title.
    #[serde(rename = "ti", default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Description.
    #[serde(rename = "de", default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Page (multi-page documents).
    #[serde(rename = "p", default = "one", skip_serializing_if = "is_one")]
    pub page: i64,
    /// Upload group.
    #[serde(rename = "gr", default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    /// Predominant color.
    #[serde(rename = "co", default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    /// Size in bytes.
    #[serde(rename = "s", default)]
    pub size: i64,
    /// Whether processing finished.
    #[serde(rename = "pr", default = "yes", skip_serializing_if = "is_true")]
    pub processed: bool,
    /// Processing error, if any.
    #[serde(rename = "pe", default, skip_serializing_if = "Option::is_none")]
    pub processing_error: Option<String>,
}

/// Derived delivery URLs of an image, keyed as in the seed.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ExternalUrls {
    /// `c_fit,w_300`.
    pub fill100: String,
    /// `c_fit,h_2000,w_2000`.
    pub fit2000: String,
    /// 100×100 fill.
    pub mini: String,
    /// 200×200 fill.
    pub large: String,
    /// 1920 fit.
    pub full: String,
}

/// Derived thumbnail URLs of an image, keyed as in the seed.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Thumbnails {
    /// The original, auto format/quality.
    pub original: String,
    /// 1920 fit.
    pub full_no_sharinpix: String,
    /// 1920 fit.
    pub full: String,
    /// 1920 fit then 200×200 fill.
    pub large: String,
    /// 1920 fit then 100×100 fill.
    pub mini: String,
}

/// The image JSON of the contract, key for key in the seed's order.
// The fields are the wire format's keys, documented where the format is
// (the seed, openapi.yaml); a doc line per key would repeat its name.
#[allow(missing_docs)]
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ImageJson<'a> {
    pub id: &'a str,
    pub public_id: &'a str,
    pub infos: &'a Value,
    pub exifs: &'a Value,
    pub gps: &'a Option<Value>,
    pub gps_ip: &'a Option<Value>,
    pub gps_exifs: &'a Option<Value>,
    pub gps_html: &'a Option<Value>,
    pub created_at: &'a str,
    pub updated_at: &'a str,
    pub taken_at: &'a Option<String>,
    pub width: i64,
    pub height: i64,
    pub rotation: i64,
    pub crop_x: f64,
    pub crop_y: f64,
    pub crop_w: f64,
    pub crop_h: f64,
    pub metadatas: &'a Value,
    pub original_url: String,
    pub original_width: i64,
    pub original_height: i64,
    pub external_urls: ExternalUrls,
    pub filename: &'a str,
    pub format: &'a str,
    pub title: &'a Option<String>,
    pub description: &'a Option<String>,
    pub page: i64,
    pub group_id: &'a Option<String>,
    pub color: &'a Option<String>,
    pub size: i64,
    pub processed: bool,
    pub processing_error: &'a Option<String>,
    pub album_id: &'a str,
    pub thumbnails: Thumbnails,
}

const AUTO: &str = "dpr_auto,q_auto,f_auto";

impl ImageRecord {
    /// The Cloudinary asset behind this image.
    pub fn asset(&self) -> AssetRef<'_> {
        AssetRef {
            public_id: &self.asset_public_id,
            version: self.asset_version,
            format: &self.asset_format,
            resource_type: self
                .infos
                .get("resource_type")
                .and_then(Value::as_str)
                .unwrap_or("image"),
        }
    }

    /// Renders the contract's image JSON, deriving every URL.
    pub fn render<'a>(
        &'a self,
        id: &'a str,
        album_id: &'a str,
        cld: &CloudinaryConfig,
    ) -> ImageJson<'a> {
        let asset = self.asset();
        let url = |t: &str| signed_url(cld, t, &asset);
        let (external_urls, thumbnails) = derived_urls(&url, &self.edits());
        ImageJson {
            id,
            public_id: id,
            infos: &self.infos,
            exifs: &self.exifs,
            gps: &self.gps,
            gps_ip: &self.gps_ip,
            gps_exifs: &self.gps_exifs,
            gps_html: &self.gps_html,
            created_at: &self.created_at,
            updated_at: &self.updated_at,
            taken_at: &self.taken_at,
            width: self.width,
            height: self.height,
            rotation: self.rotation,
            crop_x: self.crop_x,
            crop_y: self.crop_y,
            crop_w: self.crop_w,
            crop_h: self.crop_h,
            metadatas: &self.metadatas,
            original_url: url("fl_attachment"),
            original_width: self.original_width.unwrap_or(self.width),
            original_height: self.original_height.unwrap_or(self.height),
            external_urls,
            filename: &self.filename,
            format: &self.format,
            title: &self.title,
            description: &self.description,
            page: self.page,
            group_id: &self.group_id,
            color: &self.color,
            size: self.size,
            processed: self.processed,
            processing_error: &self.processing_error,
            album_id,
            thumbnails,
        }
    }
}

/// The image's derived URLs, each `url` of its transformation: the
/// contract's `external_urls` and `thumbnails` (which share three). The
/// image's crop and rotation ([`Edits`]) are in every one of them but the
/// original and `full_no_sharinpix`, where SharinPix's recorded examples
/// (`image_api/rotate_an_image`, `crop_an_image`) put them.
fn derived_urls(url: &dyn Fn(&str) -> String, edits: &Edits) -> (ExternalUrls, Thumbnails) {
    let Edits { crop, rotation } = edits;
    let full = url(&format!("{crop}{FIT_1920}/{rotation}fl_attachment/{AUTO}"));
    let large = url(&format!(
        "{crop}{FIT_1920}/{rotation}c_fill,h_200,w_200/fl_attachment/{AUTO}"
    ));
    let mini = url(&format!(
        "{crop}{FIT_1920}/{rotation}c_fill,h_100,w_100/fl_attachment/{AUTO}"
    ));
    let external = ExternalUrls {
        fill100: url(&format!("{crop}{rotation}c_fit,w_300")),
        fit2000: url(&format!("{crop}{rotation}c_fit,h_2000,w_2000")),
        mini: mini.clone(),
        large: large.clone(),
        full: full.clone(),
    };
    let thumbnails = Thumbnails {
        original: url(&format!("fl_attachment/{AUTO}")),
        // The same URL as `full` unless edited: one signature saved per image.
        full_no_sharinpix: if crop.is_empty() && rotation.is_empty() {
            full.clone()
        } else {
            url(&format!("{FIT_1920}/fl_attachment/{AUTO}"))
        },
        full,
        large,
        mini,
    };
    (external, thumbnails)
}

const FIT_1920: &str = "c_fit,h_1920,w_1920";

/// An image's crop and rotation as Cloudinary transformation steps, each
/// with its trailing `/`, or empty. The crop comes first: its box is in
/// the original's pixels (it is bounded by `original_width` and
/// `original_height`), which holds only before the image is rotated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Edits {
    /// `c_crop,h_…,w_…,x_…,y_…/`, or empty.
    pub crop: String,
    /// `a_…/`, or empty.
    pub rotation: String,
}

/// A crop coordinate as Cloudinary reads it: whole pixels without a
/// fraction (`3`, not `3.0`), as SharinPix's URLs show them.
fn pixels(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

impl ImageRecord {
    /// The image's crop and rotation as transformation steps.
    pub fn edits(&self) -> Edits {
        let cropped = self.crop_w > 0.0 && self.crop_h > 0.0;
        Edits {
            crop: if cropped {
                format!(
                    "c_crop,h_{},w_{},x_{},y_{}/",
                    pixels(self.crop_h),
                    pixels(self.crop_w),
                    pixels(self.crop_x),
                    pixels(self.crop_y)
                )
            } else {
                String::new()
            },
            rotation: if self.rotation != 0 {
                format!("a_{}/", self.rotation)
            } else {
                String::new()
            },
        }
    }

    /// The signed URL of the image's 200×200 thumbnail (`thumbnails.large`
    /// of its JSON), alone: what a trash listing shows of each image.
    pub fn thumbnail_url(&self, cld: &CloudinaryConfig) -> String {
        let Edits { crop, rotation } = self.edits();
        signed_url(
            cld,
            &format!("{crop}{FIT_1920}/{rotation}c_fill,h_200,w_200/fl_attachment/{AUTO}"),
            &self.asset(),
        )
    }

    /// The chain of the image as an embeddable URL shows it (SharinPix's
    /// `/images/{id}`: the full-size fit with the image's crop and
    /// rotation), followed by `extra` steps when not empty. Without
    /// `download` (a token's `sharinpix: {"download": false}`), no
    /// `fl_attachment`: a browser then shows the image instead of saving it.
    pub fn embed_transformation(&self, extra: &str, download: bool) -> String {
        let Edits { crop, rotation } = self.edits();
        let attachment = if download { "fl_attachment/" } else { "" };
        let mut t = format!("{crop}{FIT_1920}/{rotation}{attachment}{AUTO}");
        if !extra.is_empty() {
            t.push('/');
            t.push_str(extra);
        }
        t
    }
}

/// Namespace of the ids of uploaded images (UUIDv5 of album and asset):
/// a re-delivered notification names the same image. Never change it.
pub const UPLOAD_NAMESPACE: uuid::Uuid =
    uuid::Uuid::from_u128(0x51c2_7d1e_90aa_4b3f_8e21_6c0f_d94b_a7e5);

/// The image a Cloudinary upload notification describes, and its id in
/// `album_id`. A notification without `created_at` (SharinPix's minimal
/// recorded one) is recorded as created at `now_rfc3339`, its receipt. Keeps the upload's metadata (`infos` in the seed's key order,
/// then colors, faces, phash, predominant; `image_metadata` as `exifs`).
pub fn from_upload(
    album_id: &str,
    n: &Value,
    now_rfc3339: &str,
) -> Result<(String, ImageRecord), String> {
    let text = |k: &str| n.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    let int = |k: &str| n.get(k).and_then(Value::as_i64);
    let (public_id, version, created_at) = required_fields(n)?;
    let created_at = created_at.unwrap_or(now_rfc3339);
    let format = text("format").unwrap_or("");
    let width = int("width").unwrap_or(0);
    let height = int("height").unwrap_or(0);
    let bytes = int("bytes").unwrap_or(0);
    let original_filename = text("original_filename").unwrap_or(public_id);
    let infos = upload_infos(n, public_id, created_at, format, (width, height, bytes));
    let key = text("asset_id").unwrap_or(public_id);
    let id =
        uuid::Uuid::new_v5(&UPLOAD_NAMESPACE, format!("{album_id}/{key}").as_bytes()).to_string();
    let record = ImageRecord {
        infos,
        asset_public_id: public_id.to_string(),
        asset_version: version,
        asset_format: format.to_string(),
        exifs: n
            .get("image_metadata")
            .filter(|v| v.is_object())
            .cloned()
            .unwrap_or_else(empty_object),
        gps: None,
        gps_ip: None,
        gps_exifs: None,
        gps_html: None,
        created_at: created_at.to_string(),
        updated_at: now_rfc3339.to_string(),
        taken_at: None,
        width,
        height,
        rotation: 0,
        crop_x: 0.0,
        crop_y: 0.0,
        crop_w: 0.0,
        crop_h: 0.0,
        metadatas: empty_object(),
        original_width: None,
        original_height: None,
        filename: original_filename.to_string(),
        format: format.to_string(),
        title: None,
        description: None,
        page: 1,
        group_id: None,
        color: first_color(n),
        size: bytes,
        processed: true,
        processing_error: None,
    };
    Ok((id, record))
}

/// The predominant color of an upload: the first of Cloudinary's
/// `colors` (`[["#hex", percent], …]`).
fn first_color(n: &Value) -> Option<String> {
    n.get("colors")
        .and_then(|c| c.get(0))
        .and_then(|c| c.get(0))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// What an upload notification must hold: the asset's `public_id` (at
/// most 255 bytes) and its `version`; its `created_at`, when sent, must
/// be RFC 3339.
fn required_fields(n: &Value) -> Result<(&str, u64, Option<&str>), String> {
    let text = |k: &str| n.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    let public_id = text("public_id").ok_or("public_id is required")?;
    if public_id.len() > 255 {
        return Err("public_id is too long".into());
    }
    let version = n
        .get("version")
        .and_then(Value::as_u64)
        .ok_or("version must be a positive integer")?;
    let created_at = match n.get("created_at") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_str()
                .filter(|t| sort_millis(t).is_some())
                .ok_or("created_at must be an RFC 3339 time")?,
        ),
    };
    Ok((public_id, version, created_at))
}

/// The `infos` of an upload notification `n`, in the seed's key order,
/// then colors, faces, phash, predominant when present; `(width, height,
/// bytes)` as read (0 when absent).
fn upload_infos(
    n: &Value,
    public_id: &str,
    created_at: &str,
    format: &str,
    (width, height, bytes): (i64, i64, i64),
) -> Value {
    let text = |k: &str| n.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    let original_filename = text("original_filename").unwrap_or(public_id);
    let mut infos = serde_json::Map::new();
    infos.insert("bytes".into(), Value::from(bytes));
    infos.insert("created_at".into(), Value::from(created_at));
    infos.insert("etag".into(), n.get("etag").cloned().unwrap_or(Value::Null));
    infos.insert("format".into(), Value::from(format));
    infos.insert("height".into(), Value::from(height));
    infos.insert(
        "resource_type".into(),
        Value::from(text("resource_type").unwrap_or("image")),
    );
    infos.insert(
        "tags".into(),
        n.get("tags")
            .filter(|t| t.is_array())
            .cloned()
            .unwrap_or_else(|| Value::Array(vec![])),
    );
    infos.insert(
        "type".into(),
        Value::from(text("type").unwrap_or("authenticated")),
    );
    infos.insert("width".into(), Value::from(width));
    infos.insert("original_filename".into(), Value::from(original_filename));
    for k in ["colors", "faces", "phash", "predominant"] {
        if let Some(v) = n.get(k).filter(|v| !v.is_null()) {
            infos.insert(k.into(), v.clone());
        }
    }
    Value::Object(infos)
}

/// Milliseconds since the Unix epoch of an RFC 3339 time (`None` when
/// unparseable): the sort component of image keys, so "newest first" is a
/// reverse key-order Query whatever the offset the time was written with.
pub fn sort_millis(rfc3339: &str) -> Option<i64> {
    let t = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .ok()?;
    Some((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    pub(crate) fn seed_like() -> ImageRecord {
        serde_json::from_value(serde_json::json!({
            "a": "2016b12123c7", "v": 123123, "f": "jpg",
            "i": {"bytes": 3604, "created_at": "2015-09-25T13:32:55Z", "etag": "5a98d4d3e5d39024abf237be55e99b15",
                  "format": "png", "height": 48, "resource_type": "image", "tags": ["00100000123BB44"],
                  "type": "authenticated", "width": 48, "original_filename": "Super Image",
                  "location": {"accuracy": 36, "latitude": 48.861934399999996, "longitude": 2.348967}},
            "g": [48.861934399999996, 2.348967], "gi": [40.7143528, -74.0059731], "gh": [48.861934399999996, 2.348967],
            "c": "2019-04-08T19:38:46.797+02:00", "u": "2019-04-08T19:38:46.807+02:00",
            "w": 48, "h": 48, "n": "Super Image", "fm": "png",
            "gr": "4472e354-ba15-4152-ac00-5f37979b780a", "co": "#7D7D7D", "s": 3604
        }))
        .unwrap()
    }

    #[test]
    fn defaults_are_omitted_from_storage_and_restored_on_read() {
        let r = seed_like();
        let stored = serde_json::to_string(&r).unwrap();
        assert!(
            !stored.contains("\"cx\"") && !stored.contains("\"pr\""),
            "{stored}"
        );
        let back: ImageRecord = serde_json::from_str(&stored).unwrap();
        assert_eq!(back, r);
        assert!(back.processed);
        assert_eq!(back.page, 1);
    }

    #[test]
    fn render_derives_urls_and_keeps_float_types() {
        let r = seed_like();
        let cld = CloudinaryConfig {
            api_key: "k".into(),
            api_secret: Secret::new("b"),
            cloud_name: "demo".into(),
        };
        let v = serde_json::to_value(r.render("img-1", "album-1", &cld)).unwrap();
        assert_eq!(v["id"], "img-1");
        assert_eq!(v["album_id"], "album-1");
        assert!(v["crop_x"].is_f64());
        assert!(v["width"].is_i64());
        assert!(
            v["original_url"]
                .as_str()
                .unwrap()
                .starts_with("https://res.cloudinary.com/demo/image/authenticated/s--")
        );
        assert!(
            v["original_url"]
                .as_str()
                .unwrap()
                .ends_with("/fl_attachment/v123123/2016b12123c7.jpg")
        );
        assert_eq!(serde_json::to_string(&v["crop_x"]).unwrap(), "0.0");
    }

    #[test]
    fn upload_notifications_become_records_with_stable_ids() {
        let n = serde_json::json!({
            "notification_type": "upload", "asset_id": "abc123", "public_id": "folder/pic", "version": 1700000000,
            "width": 640, "height": 480, "format": "jpg", "resource_type": "image",
            "created_at": "2024-01-02T03:04:05Z", "tags": ["alb"], "bytes": 12345, "type": "authenticated",
            "etag": "e1", "original_filename": "IMG_1", "colors": [["#112233", 50.0]], "phash": "ff00",
            "faces": [], "image_metadata": {"Make": "Canon"}
        });
        let (id, r) = from_upload("alb", &n, "2024-01-02T03:04:06Z").unwrap();
        assert_eq!(id, from_upload("alb", &n, "later").unwrap().0);
        assert_ne!(id, from_upload("other", &n, "x").unwrap().0);
        assert_eq!(
            (
                r.asset_public_id.as_str(),
                r.asset_version,
                r.asset_format.as_str()
            ),
            ("folder/pic", 1700000000, "jpg")
        );
        assert_eq!(r.infos["bytes"], 12345);
        assert_eq!(r.infos["phash"], "ff00");
        assert_eq!(r.exifs["Make"], "Canon");
        assert_eq!(r.color.as_deref(), Some("#112233"));
        let keys: Vec<_> = r
            .infos
            .as_object()
            .unwrap()
            .keys()
            .take(10)
            .cloned()
            .collect();
        assert_eq!(
            keys,
            [
                "bytes",
                "created_at",
                "etag",
                "format",
                "height",
                "resource_type",
                "tags",
                "type",
                "width",
                "original_filename"
            ]
        );
        for missing in ["public_id", "version"] {
            let mut m = n.clone();
            m.as_object_mut().unwrap().remove(missing);
            assert!(from_upload("alb", &m, "x").is_err(), "{missing}");
        }
        let mut m = n.clone();
        m.as_object_mut().unwrap().remove("created_at");
        let (_, r) = from_upload("alb", &m, "2024-05-06T07:08:09Z").unwrap();
        assert_eq!(r.created_at, "2024-05-06T07:08:09Z", "receipt time");
        m["created_at"] = Value::from("yesterday");
        assert!(from_upload("alb", &m, "x").is_err());
    }

    #[test]
    fn the_embed_chain_crops_fits_rotates_then_adds_the_steps() {
        let mut r = seed_like();
        assert_eq!(
            r.embed_transformation("", true),
            "c_fit,h_1920,w_1920/fl_attachment/dpr_auto,q_auto,f_auto"
        );
        assert_eq!(
            r.embed_transformation("a_90", false),
            "c_fit,h_1920,w_1920/dpr_auto,q_auto,f_auto/a_90"
        );
        (r.crop_x, r.crop_y, r.crop_w, r.crop_h, r.rotation) = (3.0, 2.0, 10.0, 11.0, 90);
        assert_eq!(
            r.embed_transformation("c_fit,h_202,w_201", true),
            "c_crop,h_11,w_10,x_3,y_2/c_fit,h_1920,w_1920/a_90/fl_attachment/dpr_auto,q_auto,f_auto/c_fit,h_202,w_201"
        );
    }

    #[test]
    fn sort_millis_normalizes_offsets() {
        assert_eq!(
            sort_millis("2019-04-08T19:38:46.797+02:00"),
            sort_millis("2019-04-08T17:38:46.797Z")
        );
        assert_eq!(sort_millis("nonsense"), None);
    }
}
