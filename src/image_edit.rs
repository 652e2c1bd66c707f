//! What `PUT /api/v1/images/{id}` may change on an image: its caption,
//! its rotation, its crop; each read from the request and checked before
//! anything is written.
//!
//! SharinPix grants each change its own ability (`image_caption`,
//! `image_rotate`, `image_crop`); its crop example sends `rotation=0`
//! with a token that holds `image_crop` alone, so a crop may set the
//! rotation too. The signed URLs of the image JSON show the rotation and
//! the crop ([`crate::image::Edits`]).

use serde_json::Value;

use crate::auth::Ability;
use crate::error::ApiError;
use crate::http::Params;
use crate::image::ImageRecord;

/// The longest title or description kept (characters): the image item
/// must stay far below DynamoDB's 400 KB, and a copy's throughput is
/// bytes per item (decision 0002).
pub const MAX_CAPTION_CHARS: usize = 2_000;

/// The crop keys, all four or none.
const CROP_KEYS: [&str; 4] = ["crop_x", "crop_y", "crop_w", "crop_h"];

/// The changes one request asks for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImageEdit {
    /// New title (`Some(None)` clears it).
    title: Option<Option<String>>,
    /// New description (`Some(None)` clears it).
    description: Option<Option<String>>,
    /// New rotation, in degrees, one of 0, 90, 180, 270.
    rotation: Option<i64>,
    /// New crop box `[x, y, w, h]` in the original's pixels (all zero: none).
    crop: Option<[f64; 4]>,
}

impl ImageEdit {
    /// Reads the changes of `params`; a 422 naming the parameter for a
    /// value out of range or of the wrong type, and for a request that
    /// changes nothing.
    pub fn from_params(params: &Params) -> Result<Self, ApiError> {
        let mut edit = Self {
            title: caption(params, "title")?,
            description: caption(params, "description")?,
            rotation: rotation(params)?,
            crop: None,
        };
        let crop: Vec<Option<f64>> = CROP_KEYS
            .iter()
            .map(|k| number(params, k))
            .collect::<Result<_, _>>()?;
        if crop.iter().any(Option::is_some) {
            let [Some(x), Some(y), Some(w), Some(h)] = crop[..] else {
                return Err(unprocessable(
                    "a crop needs crop_x, crop_y, crop_w and crop_h",
                ));
            };
            let all_zero = [x, y, w, h].iter().all(|v| *v == 0.0);
            if !all_zero && (w <= 0.0 || h <= 0.0) {
                return Err(unprocessable("crop_w and crop_h must be greater than 0"));
            }
            edit.crop = Some([x, y, w, h]);
        }
        if edit == Self::default() {
            return Err(unprocessable(
                "nothing to change: send title, description, rotation or crop_x/y/w/h",
            ));
        }
        Ok(edit)
    }

    /// The abilities the changes need on the image's album.
    pub fn abilities(&self) -> Vec<Ability> {
        let mut out = Vec::new();
        if self.title.is_some() || self.description.is_some() {
            out.push(Ability::ImageCaption);
        }
        if self.crop.is_some() {
            out.push(Ability::ImageCrop);
        } else if self.rotation.is_some() {
            out.push(Ability::ImageRotate);
        }
        out
    }

    /// `record` with the changes made at `now_rfc3339`; a 422 for a crop
    /// outside the original's pixels (when they are known).
    pub fn apply(&self, record: &ImageRecord, now_rfc3339: &str) -> Result<ImageRecord, ApiError> {
        let mut r = record.clone();
        if let Some(t) = &self.title {
            r.title = t.clone();
        }
        if let Some(d) = &self.description {
            r.description = d.clone();
        }
        if let Some(a) = self.rotation {
            r.rotation = a;
        }
        if let Some([x, y, w, h]) = self.crop {
            let original_w = record.original_width.unwrap_or(record.width);
            let original_h = record.original_height.unwrap_or(record.height);
            let known = original_w > 0 && original_h > 0;
            if known && (x + w > original_w as f64 || y + h > original_h as f64) {
                return Err(unprocessable(&format!(
                    "the crop must lie within the image's {original_w}×{original_h} pixels"
                )));
            }
            (r.crop_x, r.crop_y, r.crop_w, r.crop_h) = (x, y, w, h);
            // The image's size is the crop's, its original's is kept
            // (SharinPix's crop example: width 10, original_width 48).
            let cropped = w > 0.0 && h > 0.0;
            r.width = if cropped {
                w.round() as i64
            } else {
                original_w
            };
            r.height = if cropped {
                h.round() as i64
            } else {
                original_h
            };
            r.original_width = (r.width != original_w).then_some(original_w);
            r.original_height = (r.height != original_h).then_some(original_h);
        }
        r.updated_at = now_rfc3339.to_string();
        Ok(r)
    }
}

fn unprocessable(msg: &str) -> ApiError {
    ApiError::Unprocessable(msg.to_string())
}

/// A caption: absent is no change; an empty string (or JSON `null`)
/// clears it.
fn caption(params: &Params, name: &str) -> Result<Option<Option<String>>, ApiError> {
    if params.value(name).is_none() {
        return Ok(None);
    }
    let Some(text) = params.str(name)? else {
        return Ok(Some(None));
    };
    if text.chars().count() > MAX_CAPTION_CHARS {
        return Err(unprocessable(&format!(
            "{name} is longer than {MAX_CAPTION_CHARS} characters"
        )));
    }
    Ok(Some((!text.is_empty()).then(|| text.to_string())))
}

/// A number sent as text (form) or as a JSON number; `None` when absent.
fn number(params: &Params, name: &str) -> Result<Option<f64>, ApiError> {
    let bad = || unprocessable(&format!("{name} must be a number"));
    let v = match params.value(name) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_f64().ok_or_else(bad)?,
        Some(Value::String(s)) => s.trim().parse::<f64>().map_err(|_| bad())?,
        Some(_) => return Err(bad()),
    };
    if !v.is_finite() || !(0.0..=1_000_000.0).contains(&v) {
        return Err(unprocessable(&format!(
            "{name} must be between 0 and 1000000"
        )));
    }
    Ok(Some(v))
}

/// The rotation: a multiple of 90 degrees, kept as 0, 90, 180 or 270.
fn rotation(params: &Params) -> Result<Option<i64>, ApiError> {
    let bad = || unprocessable("rotation must be a multiple of 90 degrees");
    let v = match params.value("rotation") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_i64().ok_or_else(bad)?,
        Some(Value::String(s)) => s.trim().parse::<i64>().map_err(|_| bad())?,
        Some(_) => return Err(bad()),
    };
    if v % 90 != 0 || v.abs() > 3_600 {
        return Err(bad());
    }
    Ok(Some(v.rem_euclid(360)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::params;
    use crate::http::test_request;

    fn edit(body: &str) -> Result<ImageEdit, ApiError> {
        let req = test_request(
            "/api/v1/images/x",
            Some("application/x-www-form-urlencoded"),
            body,
        );
        ImageEdit::from_params(&params(&req).unwrap())
    }

    fn record() -> ImageRecord {
        serde_json::from_value(serde_json::json!({
            "a": "asset", "v": 1, "f": "jpg", "c": "2020-01-01T00:00:00Z",
            "u": "2020-01-01T00:00:00Z", "w": 48, "h": 48
        }))
        .unwrap()
    }

    #[test]
    fn each_change_needs_its_own_ability_and_a_crop_may_rotate() {
        assert_eq!(
            edit("title=A").unwrap().abilities(),
            [Ability::ImageCaption]
        );
        assert_eq!(
            edit("rotation=90").unwrap().abilities(),
            [Ability::ImageRotate]
        );
        let crop = edit("rotation=0&crop_x=3&crop_y=2&crop_w=10&crop_h=11").unwrap();
        assert_eq!(crop.abilities(), [Ability::ImageCrop]);
    }

    #[test]
    fn a_crop_sets_the_size_and_keeps_the_original_size() {
        let e = edit("rotation=0&crop_x=3&crop_y=2&crop_w=10&crop_h=11").unwrap();
        let r = e.apply(&record(), "2021-01-01T00:00:00Z").unwrap();
        assert_eq!((r.width, r.height), (10, 11));
        assert_eq!((r.original_width, r.original_height), (Some(48), Some(48)));
        assert_eq!(r.edits().crop, "c_crop,h_11,w_10,x_3,y_2/");
        let back = edit("crop_x=0&crop_y=0&crop_w=0&crop_h=0").unwrap();
        let r = back.apply(&r, "2021-01-02T00:00:00Z").unwrap();
        assert_eq!(
            (r.width, r.original_width, r.edits().crop.as_str()),
            (48, None, "")
        );
    }

    #[test]
    fn refuses_what_cannot_be_applied() {
        for body in [
            "",
            "rotation=45",
            "rotation=abc",
            "crop_x=1",
            "crop_x=1&crop_y=1&crop_w=0&crop_h=5",
            "crop_x=-1&crop_y=1&crop_w=2&crop_h=5",
            "crop_x=NaN&crop_y=1&crop_w=2&crop_h=5",
        ] {
            assert!(
                matches!(edit(body), Err(ApiError::Unprocessable(_))),
                "{body}"
            );
        }
        let outside = edit("crop_x=40&crop_y=0&crop_w=10&crop_h=10").unwrap();
        assert!(outside.apply(&record(), "2021-01-01T00:00:00Z").is_err());
        let long = format!("title={}", "a".repeat(MAX_CAPTION_CHARS + 1));
        assert!(edit(&long).is_err());
    }

    #[test]
    fn rotations_are_kept_between_0_and_270() {
        let r = edit("rotation=-90").unwrap().apply(&record(), "t").unwrap();
        assert_eq!((r.rotation, r.edits().rotation.as_str()), (270, "a_270/"));
        let r = edit("rotation=360").unwrap().apply(&record(), "t").unwrap();
        assert_eq!((r.rotation, r.edits().rotation.as_str()), (0, ""));
    }
}
