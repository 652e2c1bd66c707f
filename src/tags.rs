//! Tags: name rules, finding a tag by id or name, and the tag and
//! tag-image JSON (`/api/v1/tags…`, decision 0011).

use serde::Serialize;
use serde_json::{Value, json};

use crate::cloudinary::CloudinaryConfig;
use crate::error::ApiError;
use crate::image::ImageJson;
use crate::service::App;
use crate::store::StoredImage;
use crate::store::tags::{Tag, TagImage};

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
    app.store
        .tag_by_name(organization_id, id_or_name)
        .await?
        .ok_or_else(not_found)
}

/// `{"id","name","created_at"}`.
pub fn tag_json(tag: &Tag) -> Value {
    json!({"id": tag.id, "name": tag.name, "created_at": tag.created_at})
}

/// `{"id","created_at","user","image","tag"}`: one image tagged.
#[derive(Debug, Serialize)]
pub struct TagImageJson<'a> {
    pub id: &'a str,
    pub created_at: &'a str,
    /// `{"id"}` of who tagged it.
    pub user: Value,
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
        user: json!({"id": assoc.user_id}),
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
}
