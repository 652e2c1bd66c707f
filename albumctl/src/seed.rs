//! Realistic, Cloudinary-shaped sample images (for `albumctl seed`, the demo
//! and tests): every field the contract's image JSON has, with the seed's
//! types and sizes, so benchmarks copy items as large as real ones.

use serde_json::json;
use uuid::Uuid;

use album_api::image::ImageRecord;
use album_api::store::StoredImage;

const NAMESPACE: Uuid = Uuid::from_u128(0x3b6f_0a52_77c1_4d0e_b5a9_61e2_0c8d_f413);

/// Sample image number `n` of album `album_id`: deterministic (same inputs,
/// same image), created `n` × 1.7 s after 2019-04-08T19:38:46.700+02:00.
pub fn sample_image(album_id: &str, n: u64) -> StoredImage {
    let id = Uuid::new_v5(&NAMESPACE, format!("{album_id}/{n}").as_bytes()).to_string();
    let base_ms: i64 = 1_554_745_126_700; // 2019-04-08T17:38:46.700Z
    let created_ms = base_ms + (n as i64) * 1_700;
    let created = rfc3339_plus2(created_ms);
    let updated = rfc3339_plus2(created_ms + 10);
    let asset = format!(
        "{:012x}",
        u64::from_be_bytes(
            Uuid::parse_str(&id)
                .map(|u| u.as_bytes()[..8].try_into().unwrap_or([0; 8]))
                .unwrap_or([0; 8])
        ) >> 16
    );
    let group = Uuid::new_v5(&NAMESPACE, format!("group/{album_id}/{n}").as_bytes()).to_string();
    let record: ImageRecord = serde_json::from_value(json!({
        "a": asset, "v": 123123, "f": "jpg",
        "i": {
            "bytes": 3604, "created_at": "2015-09-25T13:32:55Z",
            "etag": format!("{:032x}", n as u128 * 0x9e37_79b9_7f4a_7c15 + 0x5a98_d4d3),
            "format": "png", "height": 48, "resource_type": "image", "tags": [album_id],
            "type": "authenticated", "width": 48, "original_filename": "Super Image",
            "location": {"accuracy": 36, "latitude": 48.861934399999996, "longitude": 2.348967}
        },
        "g": [48.861934399999996, 2.348967],
        "gi": [40.7143528, -74.0059731],
        "gh": [48.861934399999996, 2.348967],
        "c": created, "u": updated,
        "w": 48, "h": 48, "n": "Super Image", "fm": "png",
        "gr": group, "co": "#7D7D7D", "s": 3604
    }))
    .expect("the sample image literal matches ImageRecord");
    StoredImage { id, record }
}

fn rfc3339_plus2(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .to_offset(time::macros::offset!(+2));
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]+02:00"
    );
    t.format(&fmt).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use album_api::image::sort_millis;

    #[test]
    fn sample_images_are_deterministic_and_ordered() {
        let a = sample_image("alb", 0);
        assert_eq!(a, sample_image("alb", 0));
        assert_eq!(a.record.created_at, "2019-04-08T19:38:46.700+02:00");
        let b = sample_image("alb", 1);
        assert!(sort_millis(&b.record.created_at) > sort_millis(&a.record.created_at));
        assert_ne!(a.id, b.id);
        assert_eq!(a.record.asset_public_id.len(), 12);
    }

    #[tokio::test]
    async fn a_sample_image_item_fits_one_write_unit() {
        use album_api::store::{Store, item_size};
        let conf = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .build();
        let store = Store::new(aws_sdk_dynamodb::Client::from_conf(conf), "t");
        let img = sample_image("00100000123BB44", 1);
        let item = store
            .image_item(
                &album_api::album::Album::new(
                    "a89b5b70-d820-4911-8c6d-25ab6181e9be",
                    "org",
                    "2019-04-08T17:38:46Z",
                ),
                &img.id,
                &img.record,
            )
            .unwrap();
        let size = item_size(&item);
        assert!(size <= 1024, "image item is {size} bytes");
        assert!(size > 500, "the sample is realistic ({size} bytes)");
    }
}
