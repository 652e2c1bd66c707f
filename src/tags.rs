//! Tags: name rules (slugged as SharinPix does), finding a tag by id or
//! name, and the tag and tag-image JSON (`/api/v1/tags…`, decision 0011).

use serde::Serialize;
use serde_json::{Value, json};

use crate::cloudinary::CloudinaryConfig;
use crate::error::ApiError;
use crate::image::ImageJson;
use crate::service::App;
use crate::store::StoredImage;
use crate::store::tags::{Tag, TagFlags, TagImage};

/// Longest tag name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Most images one tagging request names.
pub const MAX_IMAGES_PER_REQUEST: usize = 100;

/// A tag name as stored: trimmed, 1–100 characters, no control characters.
pub fn valid_name(raw: Option<&str>) -> Result<String, ApiError> {
    let name = raw
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::Unprocessable("name is required".into()))?;
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::Unprocessable(format!(
            "name must be at most {MAX_NAME_CHARS} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(ApiError::Unprocessable(
            "name must not contain control characters".into(),
        ));
    }
    Ok(name.to_string())
}

/// A tag name as SharinPix stores a created one: lowercased, every run of
/// characters other than letters, digits, `-` and `_` one `-`, no `-` at
/// either end (`Super Tag` → `super-tag`); 422 when nothing is left.
pub fn slug(label: &str) -> Result<String, ApiError> {
    let mut out = String::with_capacity(label.len());
    for c in label.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() || c == '_' || c == '-' {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let slug = out.trim_matches('-').to_string();
    if slug.is_empty() {
        return Err(ApiError::Unprocessable(
            "name must contain a letter or a digit".into(),
        ));
    }
    Ok(slug)
}

/// The flags of a tag being created: `public`, `listed`, `visible`,
/// `allow_download` of the request, SharinPix's defaults for the absent.
pub fn flags_of(params: &crate::http::Params) -> Result<TagFlags, ApiError> {
    let d = TagFlags::default();
    let or = |name: &str, default: bool| -> Result<bool, ApiError> {
        match params.value(name) {
            None | Some(Value::Null) => Ok(default),
            Some(_) => params.flag(name),
        }
    };
    Ok(TagFlags {
        public: or("public", d.public)?,
        listed: or("listed", d.listed)?,
        visible: or("visible", d.visible)?,
        allow_download: or("allow_download", d.allow_download)?,
    })
}

/// The tag `id_or_name` names in `organization_id` (its id first, then its
/// name); 404 when neither.
pub async fn resolve(app: &App, organization_id: &str, id_or_name: &str) -> Result<Tag, ApiError> {
    let not_found = || ApiError::NotFound(format!("tag {id_or_name} not found"));
    if id_or_name.is_empty() || id_or_name.len() > 4 * MAX_NAME_CHARS {
        return Err(not_found());
    }
    if uuid::Uuid::parse_str(id_or_name).is_ok()
        && let Some(tag) = app.store.tag_by_id(organization_id, id_or_name).await?
    {
        return Ok(tag);
    }
    if let Some(tag) = app.store.tag_by_name(organization_id, id_or_name).await? {
        return Ok(tag);
    }
    // A name as sent before it was slugged (`My Tag` → `my-tag`), and
    // SharinPix's recorded `My%2520Tag`: a name encoded twice.
    let mut candidates = vec![id_or_name.to_string()];
    while let Some(decoded) = candidates.last().and_then(|c| percent_decode(c)) {
        if candidates.len() > 2 || candidates.contains(&decoded) {
            break;
        }
        candidates.push(decoded);
    }
    for (i, candidate) in candidates.iter().enumerate() {
        let candidate = candidate.as_str();
        if i > 0
            && let Some(tag) = app.store.tag_by_name(organization_id, candidate).await?
        {
            return Ok(tag);
        }
        if let Ok(slugged) = slug(candidate)
            && slugged != candidate
            && let Some(tag) = app.store.tag_by_name(organization_id, &slugged).await?
        {
            return Ok(tag);
        }
    }
    Err(not_found())
}

/// `raw` percent-decoded, when it holds an escape and decodes to UTF-8.
fn percent_decode(raw: &str) -> Option<String> {
    if !raw.contains('%') {
        return None;
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Material colours SharinPix gives tags, with the text colour it puts on them.
const PALETTE: [(&str, &str); 10] = [
    ("#2196F3", "#ffffff"),
    ("#9C27B0", "#ffffff"),
    ("#00BCD4", "#000000"),
    ("#FF5722", "#000000"),
    ("#03A9F4", "#000000"),
    ("#FFC107", "#000000"),
    ("#E91E63", "#ffffff"),
    ("#4CAF50", "#000000"),
    ("#673AB7", "#ffffff"),
    ("#3F51B5", "#ffffff"),
];

/// A tag's colour and its contrast, stable per tag id.
fn colors(id: &str) -> (&'static str, &'static str) {
    let sum = id.bytes().fold(0usize, |acc, b| {
        acc.wrapping_mul(31).wrapping_add(b as usize)
    });
    PALETTE[sum % PALETTE.len()]
}

/// SharinPix's tag JSON: `id`, `created_at`, `name`, `label` (a JSON
/// string of `{"en","fr"}`), `url`, `public`, `listed`, `action`,
/// `visible`, `color`, `color_contrast`, `allow_download`, `label_en`,
/// `label_fr`.
pub fn tag_json(tag: &Tag) -> Value {
    let (color, contrast) = colors(&tag.id);
    let label = json!({"en": tag.label, "fr": tag.label}).to_string();
    json!({
        "id": tag.id,
        "created_at": tag.created_at,
        "name": tag.name,
        "label": label,
        "url": format!("/public_tags/{}", tag.id),
        "public": tag.flags.public,
        "listed": tag.flags.listed,
        "action": {"actions": []},
        "visible": tag.flags.visible,
        "color": color,
        "color_contrast": contrast,
        "allow_download": tag.flags.allow_download,
        "label_en": tag.label,
        "label_fr": tag.label,
    })
}

/// `{"id","created_at","user","image","tag"}`: one image tagged.
// The fields are the wire format's keys, documented where the format is
// (the seed, openapi.yaml); a doc line per key would repeat its name.
#[allow(missing_docs)]
#[derive(Debug, Serialize)]
pub struct TagImageJson<'a> {
    pub id: &'a str,
    pub created_at: &'a str,
    /// The id of who tagged it (SharinPix sends the id alone).
    pub user: &'a str,
    pub image: ImageJson<'a>,
    /// [`tag_json`].
    pub tag: Value,
}

/// The JSON of `assoc`, which tags `image` with `tag`.
pub fn tag_image_json<'a>(
    assoc: &'a TagImage,
    image: &'a StoredImage,
    tag: &Tag,
    cld: &CloudinaryConfig,
) -> TagImageJson<'a> {
    TagImageJson {
        id: &assoc.id,
        created_at: &assoc.created_at,
        user: &assoc.user_id,
        image: image.record.render(&image.id, &assoc.album_id, cld),
        tag: tag_json(tag),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(valid_name(Some("  red ")).unwrap(), "red");
        for bad in [None, Some(""), Some("   "), Some("a\u{7}b")] {
            assert!(
                matches!(valid_name(bad), Err(ApiError::Unprocessable(_))),
                "{bad:?}"
            );
        }
        assert!(valid_name(Some(&"é".repeat(100))).is_ok());
        assert!(valid_name(Some(&"é".repeat(101))).is_err());
    }

    #[test]
    fn names_are_slugged_as_sharinpix_does() {
        assert_eq!(slug("Super Tag").unwrap(), "super-tag");
        assert_eq!(slug("super-auto-tag").unwrap(), "super-auto-tag");
        assert_eq!(slug("  Été / 2019!! ").unwrap(), "été-2019");
        assert_eq!(slug("a_b").unwrap(), "a_b");
        assert!(matches!(slug("!!!"), Err(ApiError::Unprocessable(_))));
    }

    #[test]
    fn twice_encoded_names_decode() {
        assert_eq!(percent_decode("My%20Tag").as_deref(), Some("My Tag"));
        assert_eq!(percent_decode("100%"), Some("100%".into()));
        assert_eq!(percent_decode("plain"), None);
    }

    #[test]
    fn a_tag_json_has_sharinpixs_keys() {
        let tag = Tag {
            id: "i".into(),
            name: "super-tag".into(),
            created_at: "2019-04-08T17:38:50Z".into(),
            label: "Super Tag".into(),
            flags: TagFlags::default(),
        };
        let j = tag_json(&tag);
        let keys: Vec<_> = j.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys.len(), 14, "{keys:?}");
        assert_eq!(j["label"], "{\"en\":\"Super Tag\",\"fr\":\"Super Tag\"}");
        assert_eq!(j["listed"], true);
        assert_eq!(j["url"], "/public_tags/i");
    }
}
