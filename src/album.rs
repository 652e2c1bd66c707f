//! Albums: the domain record, id rules, and the contract's album JSON.

use serde::Serialize;

use crate::cloudinary::UploadForm;
use crate::image::ImageJson;

/// Longest accepted album id.
pub const MAX_ID_LEN: usize = 128;
/// How many newest images an album JSON embeds as `thumbnails`.
pub const THUMBNAILS: usize = 4;

/// Whether `id` is a valid album id: 1–128 characters of `A-Za-z0-9_-`.
/// CRM record ids (`00100000123BB44`) and UUIDs both qualify; nothing that
/// could alter a key, a path or a Cloudinary tag does.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// An album as stored (without its images).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Album {
    /// Album id (also its Cloudinary tag and upload-form name).
    pub id: String,
    /// Owning organization.
    pub organization_id: String,
    /// Exact number of images in the album.
    pub images_count: u64,
    /// Views counter (kept for the contract).
    pub views_count: u64,
    /// Creation time, RFC 3339.
    pub created_at: String,
    /// How many partitions its images are spread over (1 for every album
    /// made before shards; decision 0012).
    pub shards: u32,
}

/// Which album: its organization and its id, which name it together.
///
/// Album ids are per organization (decision 0014): two organizations may
/// each hold an album `X`, so the store takes albums by this key, never by
/// a bare id, and a caller cannot reach another organization's `X` by
/// forgetting to check its owner.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AlbumKey {
    /// Owning organization.
    pub org: String,
    /// Album id within it.
    pub id: String,
}

impl AlbumKey {
    /// The key of album `id` of organization `org`.
    pub fn new(org: &str, id: &str) -> Self {
        Self {
            org: org.to_string(),
            id: id.to_string(),
        }
    }

    /// Album `id` of the same organization (a move's destination, a
    /// copy's): ids a request names are always within its organization.
    pub fn sibling(&self, id: &str) -> Self {
        Self::new(&self.org, id)
    }
}

impl std::fmt::Display for AlbumKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.org, self.id)
    }
}

impl Album {
    /// Its key (organization and id).
    pub fn key(&self) -> AlbumKey {
        AlbumKey::new(&self.organization_id, &self.id)
    }

    /// A new, empty album with one image partition.
    pub fn new(id: &str, organization_id: &str, created_at: &str) -> Self {
        Self {
            id: id.to_string(),
            organization_id: organization_id.to_string(),
            images_count: 0,
            views_count: 0,
            created_at: created_at.to_string(),
            shards: 1,
        }
    }
}

/// The contract's album JSON, key for key in the seed's order.
// The fields are the wire format's keys, documented where the format is
// (the seed, openapi.yaml); a doc line per key would repeat its name.
#[allow(missing_docs)]
#[derive(Debug, Serialize)]
pub struct AlbumJson<'a> {
    pub id: &'a str,
    pub public_id: &'a str,
    pub images_count: u64,
    pub views_count: u64,
    /// `null` when the caller may not upload into the album.
    pub upload_form: Option<UploadForm>,
    pub organization_id: &'a str,
    /// The newest images, newest first.
    pub thumbnails: Vec<ImageJson<'a>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_rules() {
        assert!(is_valid_id("00100000123BB44"));
        assert!(is_valid_id("new_id"));
        assert!(is_valid_id("a89b5b70-d820-4911-8c6d-25ab6181e9be"));
        assert!(is_valid_id(&"a".repeat(128)));
        assert!(!is_valid_id(&"a".repeat(129)));
        for bad in ["", "a b", "a/b", "a#b", "é", "a.b", "../x"] {
            assert!(!is_valid_id(bad), "{bad}");
        }
    }
}
