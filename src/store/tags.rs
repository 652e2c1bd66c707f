//! Tags and tag associations: an organization's tags, and the items that
//! tag one image (decision 0011).
//!
//! A tag lives in its organization's partition under its name (`T#<name>`,
//! so listing is by name) with a pointer from its id (`TI#<id>`). Its id is
//! UUIDv5 of organization and name, so creating a name twice finds the
//! same tag. An association lives in its image's album partition
//! (`G#<image ms>#<image id>#<tag id>`): it moves with the album's images
//! and a copy with tags reads it in the same ordered pass as the images.
//! Its id is UUIDv5 of image and tag, so tagging twice writes nothing new.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::images::ItemKey;
use super::item::{Item, PageKey, get_s, s};
use super::keys::*;
use super::{Store, StoreError, StoredImage, retry};
use crate::album::Album;

/// Namespace of tag ids (UUIDv5 of `<organization>/<name>`). Never change it.
pub const TAG_NAMESPACE: Uuid = Uuid::from_u128(0x3f6b_9a1e_72c4_4d05_8e1a_6c2d_b94f_0a17);
/// Namespace of tag association ids (UUIDv5 of `<image id>/<tag id>`).
/// Never change it: copies and re-tags find their items by it.
pub const TAG_IMAGE_NAMESPACE: Uuid = Uuid::from_u128(0x5d20_c8e3_1b94_47aa_b6f0_2e7d_13c5_9f68);

/// The id of the tag named `name` in `organization_id`.
pub fn tag_id(organization_id: &str, name: &str) -> String {
    Uuid::new_v5(
        &TAG_NAMESPACE,
        format!("{organization_id}/{name}").as_bytes(),
    )
    .to_string()
}

/// The id of the association of image `image_id` with tag `tag_id`.
pub fn tag_image_id(image_id: &str, tag_id: &str) -> String {
    Uuid::new_v5(
        &TAG_IMAGE_NAMESPACE,
        format!("{image_id}/{tag_id}").as_bytes(),
    )
    .to_string()
}

/// An organization's tag.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Tag {
    /// Tag id.
    pub id: String,
    /// Name, unique in the organization.
    pub name: String,
    /// Creation time (RFC 3339).
    pub created_at: String,
    /// What it shows as (SharinPix's `label`): the name as sent, before
    /// it was slugged.
    pub label: String,
    /// Its flags, as created.
    pub flags: TagFlags,
}

/// A tag's flags, as SharinPix's tags carry them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TagFlags {
    /// Its images may be seen through its public page (`public`).
    pub public: bool,
    /// Offered in autocompletion (`listed`).
    pub listed: bool,
    /// Shown on the images it tags (`visible`).
    pub visible: bool,
    /// Its public page offers downloads (`allow_download`).
    pub allow_download: bool,
}

impl Default for TagFlags {
    /// SharinPix's defaults: listed, nothing else.
    fn default() -> Self {
        Self {
            public: false,
            listed: true,
            visible: false,
            allow_download: false,
        }
    }
}

/// One image tagged with one tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagImage {
    /// Association id.
    pub id: String,
    /// Album of the image.
    pub album_id: String,
    /// The image.
    pub image_id: String,
    /// The image's sort key in its album.
    pub image_sk: String,
    /// The tag.
    pub tag_id: String,
    /// When the image was tagged (copies and moves keep it).
    pub created_at: String,
    /// Who tagged it.
    pub user_id: String,
}

/// Where an association is.
pub type TagImageKey = ItemKey;

/// A tag association as it was (tag, when, who): what a trashed or moved
/// image keeps of its tags, and writes back with the same id and time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagStamp {
    /// The tag.
    #[serde(rename = "t")]
    pub tag_id: String,
    /// When the image was tagged.
    #[serde(rename = "c")]
    pub created_at: String,
    /// Who tagged it.
    #[serde(rename = "u", default)]
    pub user_id: String,
}

impl From<&TagImage> for TagStamp {
    fn from(t: &TagImage) -> Self {
        Self {
            tag_id: t.tag_id.clone(),
            created_at: t.created_at.clone(),
            user_id: t.user_id.clone(),
        }
    }
}

const CREATED: &str = "c";
const USER: &str = "u";

fn flag(item: &Item, name: &str, default: bool) -> bool {
    item.get(name)
        .and_then(|v| v.as_bool().ok())
        .copied()
        .unwrap_or(default)
}

fn tag_from(item: &Item) -> Result<Tag, StoreError> {
    let name = get_s(item, "name")?.to_string();
    let d = TagFlags::default();
    Ok(Tag {
        id: get_s(item, "id")?.to_string(),
        label: get_s(item, "label").unwrap_or(&name).to_string(),
        name,
        created_at: get_s(item, "created_at")?.to_string(),
        flags: TagFlags {
            public: flag(item, "public", d.public),
            listed: flag(item, "listed", d.listed),
            visible: flag(item, "visible", d.visible),
            allow_download: flag(item, "allow_download", d.allow_download),
        },
    })
}

fn album_of_pk(pk: &str) -> Result<String, StoreError> {
    album_of_shard_pk(pk)
        .map(|(album, _)| album.id)
        .ok_or_else(|| StoreError::Corrupt(format!("expected an album partition, found {pk}")))
}

/// Decodes a tag association item.
pub fn tag_image_from(item: &Item) -> Result<TagImage, StoreError> {
    let sk = get_s(item, SK)?;
    let (_, image_id, tag) = tag_image_sk_parts(sk)
        .ok_or_else(|| StoreError::Corrupt(format!("bad tag association key {sk}")))?;
    Ok(TagImage {
        id: get_s(item, IMAGE_ID)?.to_string(),
        album_id: album_of_pk(get_s(item, PK)?)?,
        image_id: image_id.to_string(),
        image_sk: image_sk_of_tag_image(sk).unwrap_or_default(),
        tag_id: tag.to_string(),
        created_at: get_s(item, CREATED)?.to_string(),
        user_id: get_s(item, USER).unwrap_or_default().to_string(),
    })
}

impl Store {
    /// Creates the tag `name` in `organization_id` unless it exists; returns
    /// the stored tag and whether this call created it. The id pointer is
    /// written either way, so a creation cut short is completed by a repeat.
    pub async fn create_tag(
        &self,
        organization_id: &str,
        name: &str,
        now: &str,
    ) -> Result<(Tag, bool), StoreError> {
        self.create_tag_as(organization_id, name, name, TagFlags::default(), now)
            .await
    }

    /// [`Store::create_tag`], with the tag's `label` and flags.
    pub async fn create_tag_as(
        &self,
        organization_id: &str,
        name: &str,
        label: &str,
        flags: TagFlags,
        now: &str,
    ) -> Result<(Tag, bool), StoreError> {
        let id = tag_id(organization_id, name);
        let item = Item::from([
            (PK.into(), s(org_pk(organization_id))),
            (SK.into(), s(format!("{TAG_SK_PREFIX}{name}"))),
            ("id".into(), s(&id)),
            ("name".into(), s(name)),
            ("label".into(), s(label)),
            ("public".into(), AttributeValue::Bool(flags.public)),
            ("listed".into(), AttributeValue::Bool(flags.listed)),
            ("visible".into(), AttributeValue::Bool(flags.visible)),
            (
                "allow_download".into(),
                AttributeValue::Bool(flags.allow_download),
            ),
            ("created_at".into(), s(now)),
        ]);
        let created = self.put_if_absent(&item).await?;
        let tag = if created {
            tag_from(&item)?
        } else {
            self.tag_by_name(organization_id, name)
                .await?
                .ok_or_else(|| {
                    StoreError::Corrupt("tag vanished after a conditional failure".into())
                })?
        };
        let mut pointer = item;
        pointer.insert(SK.into(), s(format!("{TAG_ID_SK_PREFIX}{}", tag.id)));
        pointer.insert("created_at".into(), s(&tag.created_at));
        self.put(pointer).await?;
        Ok((tag, created))
    }

    /// The tag named `name`.
    pub async fn tag_by_name(
        &self,
        organization_id: &str,
        name: &str,
    ) -> Result<Option<Tag>, StoreError> {
        self.tag_at(organization_id, format!("{TAG_SK_PREFIX}{name}"))
            .await
    }

    /// The tag with id `id` (through its pointer).
    pub async fn tag_by_id(
        &self,
        organization_id: &str,
        id: &str,
    ) -> Result<Option<Tag>, StoreError> {
        self.tag_at(organization_id, format!("{TAG_ID_SK_PREFIX}{id}"))
            .await
    }

    async fn tag_at(&self, organization_id: &str, sk: String) -> Result<Option<Tag>, StoreError> {
        self.get_item(org_pk(organization_id), &sk)
            .await?
            .as_ref()
            .map(tag_from)
            .transpose()
    }

    /// One page of an organization's tags, by name.
    pub async fn tags_page(
        &self,
        organization_id: &str,
        limit: usize,
        start: Option<PageKey>,
    ) -> Result<(Vec<Tag>, Option<PageKey>), StoreError> {
        let out = retry::bounded("Query", self.budgets.read, {
            self.client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :t)")
                .expression_attribute_values(":pk", s(org_pk(organization_id)))
                .expression_attribute_values(":t", s(TAG_SK_PREFIX))
                .consistent_read(true)
                .limit(limit as i32 + 1)
                .set_exclusive_start_key(start.as_ref().map(PageKey::to_item))
                .send()
        })
        .await?;
        let items = out.items();
        let mut tags = items.iter().map(tag_from).collect::<Result<Vec<_>, _>>()?;
        let cut_short = out
            .last_evaluated_key
            .as_ref()
            .is_some_and(|k| !k.is_empty());
        let more = tags.len() > limit || cut_short;
        tags.truncate(limit);
        let next = (more && !tags.is_empty()).then(|| {
            PageKey::from_fields([
                (PK.to_string(), org_pk(organization_id)),
                (
                    SK.to_string(),
                    get_s(&items[tags.len() - 1], SK)
                        .unwrap_or_default()
                        .to_string(),
                ),
            ])
        });
        Ok((tags, next))
    }

    /// Tags `image` (at `image_key`) with `tag` unless it already is;
    /// returns the association as stored (the first tagging's). The
    /// association goes into the image's partition.
    pub async fn tag_image(
        &self,
        image_key: &ItemKey,
        image: &StoredImage,
        tag: &Tag,
        user_id: &str,
        now: &str,
    ) -> Result<TagImage, StoreError> {
        let item = self.tag_image_item(&image_key.pk, image, tag, user_id, now)?;
        if self.put_if_absent(&item).await? {
            return tag_image_from(&item);
        }
        self.get_tag_image(&ItemKey::of(&image_key.pk, get_s(&item, SK)?)?)
            .await?
            .ok_or_else(|| {
                StoreError::Corrupt("association vanished after a conditional failure".into())
            })
    }

    /// The item tagging `image` (in partition `pk`) with `tag`.
    fn tag_image_item(
        &self,
        pk: &str,
        image: &StoredImage,
        tag: &Tag,
        user_id: &str,
        now: &str,
    ) -> Result<Item, StoreError> {
        let millis = crate::image::sort_millis(&image.record.created_at).ok_or_else(|| {
            StoreError::Corrupt(format!("image {} has an invalid created_at", image.id))
        })?;
        Ok(Item::from([
            (PK.into(), s(pk)),
            (SK.into(), s(tag_image_sk(millis, &image.id, &tag.id))),
            (IMAGE_ID.into(), s(tag_image_id(&image.id, &tag.id))),
            (TAG_ID.into(), s(&tag.id)),
            (CREATED.into(), s(now)),
            (USER.into(), s(user_id)),
        ]))
    }

    /// Tags many images of `album` at once with batch writes, as a copy
    /// writes (seeding and benchmarks; the API tags through
    /// [`Store::tag_image`]). Returns the associations written.
    pub async fn tag_images_in_batches(
        &self,
        album: &Album,
        images: &[StoredImage],
        tag: &Tag,
        user_id: &str,
        now: &str,
    ) -> Result<u64, StoreError> {
        let items = images
            .iter()
            .map(|i| {
                let pk = image_pk(&album.key(), album.shards, &i.id);
                self.tag_image_item(&pk, i, tag, user_id, now)
            })
            .collect::<Result<Vec<_>, _>>()?;
        super::batch::write_all(self, items).await
    }

    /// The association at `key`.
    pub async fn get_tag_image(&self, key: &ItemKey) -> Result<Option<TagImage>, StoreError> {
        self.get_item(key.pk.clone(), &key.sk)
            .await?
            .as_ref()
            .map(tag_image_from)
            .transpose()
    }

    /// Where the association with id `id` is (through `by_image`): one
    /// place, or two mid-move (see [`Store::find_image_copies`]); only
    /// organization `org`'s (decision 0014).
    pub async fn find_tag_image(
        &self,
        org: &str,
        id: &str,
    ) -> Result<Vec<TagImageKey>, StoreError> {
        let mut keys = self.find_all_by_item_id(org, id).await?;
        keys.retain(|k| k.sk.starts_with(TAG_IMAGE_SK_PREFIX));
        Ok(keys)
    }

    /// Deletes one association; `true` when it existed.
    pub async fn delete_tag_image(&self, key: &TagImageKey) -> Result<bool, StoreError> {
        self.delete_existing(key).await
    }

    /// Deletes every association of the image at `image` (the image itself
    /// is the caller's); returns how many there were.
    pub async fn delete_tag_images_of(&self, image: &ItemKey) -> Result<u64, StoreError> {
        let keys: Vec<Item> = self
            .tag_image_items_of(image, Some("pk, sk"))
            .await?
            .into_iter()
            .collect();
        let n = keys.len() as u64;
        super::batch::delete_all(self, keys).await?;
        Ok(n)
    }

    /// The tag associations of the image at `image` (strongly consistent).
    pub async fn tag_images_of(&self, image: &ItemKey) -> Result<Vec<TagImage>, StoreError> {
        self.tag_image_items_of(image, None)
            .await?
            .iter()
            .map(tag_image_from)
            .collect()
    }

    /// The association items of the image at `image`, all their
    /// attributes or those of `projection`.
    async fn tag_image_items_of(
        &self,
        image: &ItemKey,
        projection: Option<&str>,
    ) -> Result<Vec<Item>, StoreError> {
        let Some(prefix) = tag_images_of_image_prefix(&image.sk) else {
            return Ok(Vec::new());
        };
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = retry::bounded("Query", self.budgets.read, {
                self.partition_query(&image.pk, "begins_with(sk, :g)")
                    .expression_attribute_values(":g", s(&prefix))
                    .set_projection_expression(projection.map(str::to_string))
                    .set_exclusive_start_key(start.clone())
                    .send()
            })
            .await?;
            items.extend(out.items().iter().cloned());
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(items),
            }
        }
    }

    /// Writes the associations `tags` of `image` (at `image_key`) as they
    /// were (a restore from the trash, a move): their ids, times and users
    /// are the ones they had, so writing them twice writes nothing new.
    pub async fn put_tag_stamps(
        &self,
        image_key: &ItemKey,
        image: &StoredImage,
        tags: &[TagStamp],
    ) -> Result<(), StoreError> {
        let millis = crate::image::sort_millis(&image.record.created_at).ok_or_else(|| {
            StoreError::Corrupt(format!("image {} has an invalid created_at", image.id))
        })?;
        let items = tags
            .iter()
            .map(|t| {
                Item::from([
                    (PK.into(), s(&image_key.pk)),
                    (SK.into(), s(tag_image_sk(millis, &image.id, &t.tag_id))),
                    (IMAGE_ID.into(), s(tag_image_id(&image.id, &t.tag_id))),
                    (TAG_ID.into(), s(&t.tag_id)),
                    (CREATED.into(), s(&t.created_at)),
                    (USER.into(), s(&t.user_id)),
                ])
            })
            .collect();
        super::batch::write_all(self, items).await.map(|_| ())
    }

    /// One page of a tag's associations, newest image first (through
    /// `by_tag`, eventually consistent), and the key to continue after.
    pub async fn tag_images_page(
        &self,
        tag_id: &str,
        limit: usize,
        start: Option<PageKey>,
    ) -> Result<(Vec<TagImageKey>, Option<PageKey>), StoreError> {
        let out = retry::bounded("Query", self.budgets.read, {
            self.index_query(BY_TAG_INDEX, "tg = :t")
                .expression_attribute_values(":t", s(tag_id))
                .scan_index_forward(false)
                .limit(limit as i32 + 1)
                .set_exclusive_start_key(start.as_ref().map(PageKey::to_item))
                .send()
        })
        .await?;
        let items = out.items();
        let mut keys = Vec::with_capacity(items.len());
        for item in items {
            let pk = get_s(item, PK)?;
            // Not yet migrated to the keys of decision 0014: not listed.
            if album_of_shard_pk(pk).is_some() {
                keys.push(ItemKey::of(pk, get_s(item, SK)?)?);
            }
        }
        let cut_short = out
            .last_evaluated_key
            .as_ref()
            .is_some_and(|k| !k.is_empty());
        let more = keys.len() > limit || cut_short;
        keys.truncate(limit);
        let next = (more && !keys.is_empty()).then(|| {
            let last = &keys[keys.len() - 1];
            PageKey::from_fields([
                (PK.to_string(), last.pk.clone()),
                (SK.to_string(), last.sk.clone()),
                (TAG_ID.to_string(), tag_id.to_string()),
            ])
        });
        Ok((keys, next))
    }

    /// Reads items by key (strongly consistent, `BatchGetItem` in calls of
    /// 100, unprocessed keys asked again); absent items are left out.
    pub async fn get_items(
        &self,
        keys: &[(String, String)],
    ) -> Result<HashMap<(String, String), Item>, StoreError> {
        let mut found = HashMap::new();
        for chunk in keys.chunks(100) {
            let mut pending: Vec<Item> = chunk
                .iter()
                .map(|(pk, sk)| Item::from([(PK.into(), s(pk)), (SK.into(), s(sk))]))
                .collect();
            pending.dedup();
            let mut round = 0;
            while !pending.is_empty() {
                round += 1;
                let ask = KeysAndAttributes::builder()
                    .set_keys(Some(pending.clone()))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let out = retry::bounded("BatchGetItem", self.budgets.read, {
                    self.client
                        .batch_get_item()
                        .request_items(&self.table, ask.clone())
                        .send()
                })
                .await?;
                for item in out
                    .responses
                    .and_then(|mut r| r.remove(&self.table))
                    .unwrap_or_default()
                {
                    let key = (get_s(&item, PK)?.to_string(), get_s(&item, SK)?.to_string());
                    found.insert(key, item);
                }
                pending = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .map(|k| k.keys)
                    .unwrap_or_default();
                if !pending.is_empty() {
                    if round >= self.policy.max_attempts {
                        return Err(StoreError::Unavailable(format!(
                            "{} keys still unprocessed after {round} BatchGetItem calls",
                            pending.len()
                        )));
                    }
                    retry::pause_within_deadline("BatchGetItem", self.policy.backoff(round))
                        .await?;
                }
            }
        }
        Ok(found)
    }

    /// The associations at `keys` with their images, in `keys`' order;
    /// an association whose item or image is gone (deleted meanwhile) is
    /// left out.
    pub async fn tag_images_with_images(
        &self,
        keys: &[TagImageKey],
    ) -> Result<Vec<(TagImage, StoredImage)>, StoreError> {
        let mut wanted = Vec::with_capacity(keys.len() * 2);
        for k in keys {
            wanted.push((k.pk.clone(), k.sk.clone()));
            if let Some(image_sk) = image_sk_of_tag_image(&k.sk) {
                wanted.push((k.pk.clone(), image_sk));
            }
        }
        let found = self.get_items(&wanted).await?;
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            let Some(assoc) = found.get(&(k.pk.clone(), k.sk.clone())) else {
                continue;
            };
            let assoc = tag_image_from(assoc)?;
            let Some(image) = found.get(&(k.pk.clone(), assoc.image_sk.clone())) else {
                continue;
            };
            out.push((assoc, Self::decode_image(image)?));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_deterministic_per_organization_and_pair() {
        assert_eq!(tag_id("o1", "red"), tag_id("o1", "red"));
        assert_ne!(tag_id("o1", "red"), tag_id("o2", "red"));
        assert_ne!(tag_id("o1", "red"), tag_id("o1", "Red"));
        assert_eq!(tag_image_id("i", "t"), tag_image_id("i", "t"));
        assert_ne!(tag_image_id("i", "t"), tag_image_id("t", "i"));
    }
}
