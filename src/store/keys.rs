//! The single-table key scheme (see `docs/decisions/0001-single-table-keys.md`).
//!
//! | item          | `pk`          | `sk`                          |
//! |---------------|---------------|-------------------------------|
//! | organization  | `O#<org>`     | `O`                           |
//! | user          | `U#<user>`    | `U`                           |
//! | album         | `A#<org>/<album>` | `A`                       |
//! | image         | `A#<org>/<album>` or `A#<org>/<album>#<shard>` | `I#<created ms, 13 digits>#<image id>` |
//! | job           | `J#<job>`     | `J`                           |
//! | idempotency key | `U#<user>`  | `K#<key>`                     |
//! | tag           | `O#<org>`     | `T#<name>`                    |
//! | tag id → name | `O#<org>`     | `TI#<tag id>`                 |
//! | tag association | its image's | `G#<image ms>#<image id>#<tag id>` |
//! | API secret    | `S#<secret id>` | `S` (+ `organization_id`)   |
//!
//! An album's images share its partition (or, for a large album, its
//! shards' partitions, decision 0012), sorted by creation time, so "newest
//! first" and "every image" are single Queries per shard; the album item
//! sorts before its images and is excluded by `begins_with(sk, "I#")`.
//!
//! Album partitions name the organization (decision 0014): album ids are
//! per organization, and an organization's `X` is no other's. Organization
//! and album ids are both `[A-Za-z0-9_-]{1,128}`, so neither `/` nor `#`
//! can shift a key's parts.

use crate::album::AlbumKey;

/// Partition key attribute.
pub const PK: &str = "pk";
/// Sort key attribute.
pub const SK: &str = "sk";
/// Image id attribute (hash key of the `by_image` index, for lookups by image id).
pub const IMAGE_ID: &str = "iid";
/// The attribute DynamoDB's TTL deletes items by (epoch seconds): finished
/// jobs and idempotency keys carry it, nothing else.
pub const EXPIRES_AT: &str = "expires_at";
/// Shard count of an album item (decision 0012).
pub const SHARDS: &str = "shards";
/// Compact image record (JSON).
pub const DATA: &str = "d";
/// On an image item a single-image write put: its ±1 on the album's
/// `images_count` is not known to be settled yet (decision 0003).
pub const UNCOUNTED: &str = "uc";
/// On an album item: until when (Unix milliseconds) a recount of its
/// `images_count` holds the lease that lets the writers needing a recount
/// wait for it instead of starting their own (decision 0003).
pub const RECOUNTING_UNTIL: &str = "rc";
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
/// Sort-key value of organization API secrets (decision 0013).
pub const API_SECRET_SK: &str = "S";
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
/// `S#<secret id>`: an organization API secret, found by its id (the
/// `iss` of the tokens it signs), listed through `by_organization`
/// (decision 0013).
pub fn api_secret_pk(id: &str) -> String {
    format!("S#{id}")
}
/// `A#<org>/<album>`: the partition of the album item, and of its images
/// when it has one shard (every album made before shards, decision 0012).
/// The organization is part of it so that two organizations' albums of
/// the same id are two albums (decision 0014).
pub fn album_pk(album: &AlbumKey) -> String {
    format!("A#{}/{}", album.org, album.id)
}

/// Most image partitions an album may have.
pub const MAX_SHARDS: u32 = 16;

/// The partition of shard `shard` of `album`'s images: shard 0 is the
/// album's own partition (`A#<org>/<album>`), shard k ≥ 1 is
/// `A#<org>/<album>#<k>` (ids cannot contain `#`, so no album's partition
/// is another's shard) (decision 0012).
pub fn shard_pk(album: &AlbumKey, shard: u32) -> String {
    if shard == 0 {
        album_pk(album)
    } else {
        format!("{}#{shard}", album_pk(album))
    }
}

/// The album and shard of an image partition key. A partition of the
/// layout before decision 0014 (`A#<album>`, no organization) is none:
/// only the migration reads those.
pub fn album_of_shard_pk(pk: &str) -> Option<(AlbumKey, u32)> {
    let rest = pk.strip_prefix("A#")?;
    let (album, shard) = match rest.split_once('#') {
        None => (rest, 0),
        Some((album, shard)) => (album, shard.parse().ok().filter(|s: &u32| *s > 0)?),
    };
    let (org, id) = album.split_once('/')?;
    (!org.is_empty() && !id.is_empty() && !id.contains('/'))
        .then(|| (AlbumKey::new(org, id), shard))
}

/// The shard number of an album partition key (0 for the album's own),
/// whatever the layout: a resume key saved before decision 0014 named
/// `A#<album>#<k>`.
pub fn shard_number(pk: &str) -> u32 {
    pk.strip_prefix("A#")
        .and_then(|rest| rest.split_once('#'))
        .and_then(|(_, shard)| shard.parse().ok())
        .unwrap_or(0)
}

/// The shard of image `image_id` in an album of `shards` shards: FNV-1a
/// (64 bits) of the id, modulo `shards`. Never change it: images written
/// before the change would be looked for in the wrong partition.
pub fn shard_of(image_id: &str, shards: u32) -> u32 {
    if shards <= 1 {
        return 0;
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in image_id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h % u64::from(shards)) as u32
}

/// The partition of image `image_id` of `album` with `shards` shards.
pub fn image_pk(album: &AlbumKey, shards: u32, image_id: &str) -> String {
    shard_pk(album, shard_of(image_id, shards))
}

/// How many image partitions an album made to hold `images` images gets:
/// one below 5,000 images (a copy of them takes ≤ 5 s at one partition's
/// 1,000 WCU/s, and listing reads one partition), else one per 1,250
/// images, at most [`MAX_SHARDS`]: 8 for 10,000 (copied in ~1.25 s on AWS),
/// 16 from 20,000 (decision 0012).
pub fn shards_for(images: u64) -> u32 {
    if images < 5_000 {
        1
    } else {
        images.div_ceil(1_250).min(u64::from(MAX_SHARDS)) as u32
    }
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
    fn shard_keys_round_trip_and_spread_images() {
        let alb = AlbumKey::new("org", "alb");
        assert_eq!(shard_pk(&alb, 0), "A#org/alb");
        assert_eq!(shard_pk(&alb, 7), "A#org/alb#7");
        assert_eq!(album_of_shard_pk("A#org/alb"), Some((alb.clone(), 0)));
        assert_eq!(album_of_shard_pk("A#org/alb#7"), Some((alb, 7)));
        assert_eq!(album_of_shard_pk("A#org/alb#0"), None);
        assert_eq!(album_of_shard_pk("A#org/alb#x"), None);
        assert_eq!(album_of_shard_pk("J#job"), None);
        // The layout before decision 0014 names no organization: no album.
        assert_eq!(album_of_shard_pk("A#alb"), None);
        assert_eq!(album_of_shard_pk("A#alb#7"), None);
        assert_eq!(album_of_shard_pk("A#/alb"), None);
        assert_eq!(album_of_shard_pk("A#org/"), None);
        assert_eq!(shard_number("A#org/alb#7"), 7);
        assert_eq!(shard_number("A#alb#7"), 7);
        assert_eq!(shard_number("A#org/alb"), 0);
        assert_eq!(shard_of("anything", 1), 0);
        // Pinned: the placement of existing images depends on it.
        assert_eq!(shard_of("858f43ca-265e-5aed-8541-ff97ca3ddc40", 16), 6);
        let mut per_shard = [0u32; 16];
        for i in 0..16_000 {
            per_shard[shard_of(
                &uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, format!("{i}").as_bytes())
                    .to_string(),
                16,
            ) as usize] += 1;
        }
        assert!(
            per_shard.iter().all(|&n| (850..1150).contains(&n)),
            "{per_shard:?}"
        );
        assert_eq!(shards_for(0), 1);
        assert_eq!(shards_for(4_999), 1);
        assert_eq!(shards_for(5_000), 4);
        assert_eq!(shards_for(10_000), 8);
        assert_eq!(shards_for(20_000), 16);
        assert_eq!(shards_for(100_000), 16);
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
