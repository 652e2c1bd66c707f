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
//! | tag           | `O#<org>`     | `T#<name>`                    |
//! | tag id → name | `O#<org>`     | `TI#<tag id>`                 |
//! | tag association | `A#<album>` | `G#<image ms>#<image id>#<tag id>` |
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
/// Index over tag associations by tag (hash [`TAG_ID`], range `sk`).
pub const BY_TAG_INDEX: &str = "by_tag";
/// Tag id attribute of tag associations (hash key of the `by_tag` index).
pub const TAG_ID: &str = "tg";

/// Sort-key value of organization items.
pub const ORG_SK: &str = "O";
/// Sort-key value of user items.
pub const USER_SK: &str = "U";
/// Sort-key value of album items.
pub const ALBUM_SK: &str = "A";
/// Prefix of image sort keys.
pub const IMAGE_SK_PREFIX: &str = "I#";
/// Prefix of tag association sort keys: they sort before the album's
/// images, in the same order (decision 0011).
pub const TAG_IMAGE_SK_PREFIX: &str = "G#";
/// Upper bound (inclusive) of every item of an album's partition but the
/// album itself: `G#…` associations then `I#…` images. A copy with tags
/// and a move read the range `[G#, I$]` in one ordered pass.
pub const ALBUM_CONTENT_END: &str = "I$";
/// Prefix of tag sort keys (by name) in an organization's partition.
pub const TAG_SK_PREFIX: &str = "T#";
/// Prefix of tag id → name pointers in an organization's partition.
pub const TAG_ID_SK_PREFIX: &str = "TI#";

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

/// `G#<ms>#<image id>#<tag id>`: an association sorts with its image.
pub fn tag_image_sk(created_millis: i64, image_id: &str, tag_id: &str) -> String {
    format!("G#{:013}#{image_id}#{tag_id}", created_millis.max(0))
}
/// The parts of a tag association's sort key: image time prefix
/// (`<ms>`), image id, tag id.
pub fn tag_image_sk_parts(sk: &str) -> Option<(&str, &str, &str)> {
    let rest = sk.strip_prefix(TAG_IMAGE_SK_PREFIX)?;
    let (ms, rest) = rest.split_once('#')?;
    let (image, tag) = rest.split_once('#')?;
    (!ms.is_empty() && !image.is_empty() && !tag.is_empty()).then_some((ms, image, tag))
}
/// The sort key of the image a tag association belongs to.
pub fn image_sk_of_tag_image(sk: &str) -> Option<String> {
    let (ms, image, _) = tag_image_sk_parts(sk)?;
    Some(format!("{IMAGE_SK_PREFIX}{ms}#{image}"))
}
/// The prefix of every association of one image (`G#<ms>#<image id>#`).
pub fn tag_images_of_image_prefix(image_sk: &str) -> Option<String> {
    let rest = image_sk.strip_prefix(IMAGE_SK_PREFIX)?;
    Some(format!("{TAG_IMAGE_SK_PREFIX}{rest}#"))
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

    #[test]
    fn tag_associations_sort_between_the_album_and_its_images() {
        let g = tag_image_sk(1_554_745_126_797, "img-1", "tag-1");
        let i = image_sk(1_554_745_126_797, "img-1");
        assert!(ALBUM_SK < g.as_str() && g < i && i.as_str() <= ALBUM_CONTENT_END);
        assert!(TAG_IMAGE_SK_PREFIX > ALBUM_SK);
        assert_eq!(
            tag_image_sk_parts(&g),
            Some(("1554745126797", "img-1", "tag-1"))
        );
        assert_eq!(image_sk_of_tag_image(&g).as_deref(), Some(i.as_str()));
        assert!(g.starts_with(&tag_images_of_image_prefix(&i).unwrap()));
        assert_eq!(tag_image_sk_parts("G#1#a"), None);
        // Every image sort key sorts below the content range's end.
        assert!(format!("{IMAGE_SK_PREFIX}{}", "~".repeat(8)).as_str() < ALBUM_CONTENT_END);
    }
}
