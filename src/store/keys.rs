//! The single-table key scheme (see `docs/decisions/0001-single-table-keys.md`).
//!
//! | item          | `pk`          | `sk`                          |
//! |---------------|---------------|-------------------------------|
//! | organization  | `O#<org>`     | `O`                           |
//! | user          | `U#<user>`    | `U`                           |
//! | album         | `A#<album>`   | `A`                           |
//! | image         | `A#<album>`   | `I#<created ms, 13 digits>#<image id>` |
//! | job           | `J#<job>`     | `J`                           |
//! | idempotency key | `U#<user>`  | `K#<key>`                     |
//!
//! An album's images share its partition, sorted by creation time, so
//! "newest first" and "every image" are single Queries; the album item sorts
//! before its images and is excluded by `begins_with(sk, "I#")`.

/// Partition key attribute.
pub const PK: &str = "pk";
/// Sort key attribute.
pub const SK: &str = "sk";
/// Image id attribute (hash key of the `by_image` index, for lookups by image id).
pub const IMAGE_ID: &str = "iid";
/// The attribute DynamoDB's TTL deletes items by (epoch seconds): finished
/// jobs and idempotency keys carry it, nothing else.
pub const EXPIRES_AT: &str = "expires_at";
/// Compact image record (JSON).
pub const DATA: &str = "d";
/// Organization attribute of users and albums (hash key of the `by_organization` index).
pub const ORGANIZATION_ID: &str = "organization_id";
/// Index over images by id.
pub const BY_IMAGE_INDEX: &str = "by_image";
/// Index over albums (and users) by organization.
pub const BY_ORGANIZATION_INDEX: &str = "by_organization";

/// Sort-key value of organization items.
pub const ORG_SK: &str = "O";
/// Sort-key value of user items.
pub const USER_SK: &str = "U";
/// Sort-key value of album items.
pub const ALBUM_SK: &str = "A";
/// Prefix of image sort keys.
pub const IMAGE_SK_PREFIX: &str = "I#";

/// `O#<org>`.
pub fn org_pk(id: &str) -> String {
    format!("O#{id}")
}
/// `U#<user>`.
pub fn user_pk(id: &str) -> String {
    format!("U#{id}")
}
/// `A#<album>`: the partition of the album and its images.
pub fn album_pk(id: &str) -> String {
    format!("A#{id}")
}
/// `I#<ms>#<id>`: images sort by creation time, then id.
pub fn image_sk(created_millis: i64, image_id: &str) -> String {
    format!("I#{:013}#{image_id}", created_millis.max(0))
}
/// The image id at the end of an image sort key.
pub fn image_id_of_sk(sk: &str) -> Option<&str> {
    sk.strip_prefix(IMAGE_SK_PREFIX)?
        .rsplit_once('#')
        .map(|(_, id)| id)
}
/// The `I#<ms>#` part of an image sort key (kept by copies, which keep `created_at`).
pub fn image_sk_time_prefix(sk: &str) -> Option<&str> {
    let (prefix, _) = sk.rsplit_once('#')?;
    prefix
        .starts_with(IMAGE_SK_PREFIX)
        .then(|| &sk[..prefix.len() + 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_keys_round_trip_and_sort_by_time() {
        let a = image_sk(1_554_745_126_797, "x-1");
        let b = image_sk(1_554_745_126_800, "a-0");
        assert!(a < b);
        assert_eq!(image_id_of_sk(&a), Some("x-1"));
        assert_eq!(image_sk_time_prefix(&a), Some("I#1554745126797#"));
        assert_eq!(image_id_of_sk("A"), None);
        assert!(ALBUM_SK < IMAGE_SK_PREFIX);
    }
}
