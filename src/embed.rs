//! Embeddable image URLs (`GET /images/{image_id}`): what a token's
//! `image_id`, `transformations` and `sharinpix` claims and a request's
//! `width`, `height` and `crop` ask for, checked against an allow-list and
//! turned into Cloudinary transformation steps (decision 0019).
//!
//! Every URL the API signs makes Cloudinary compute, bill and keep a
//! derived image the first time it is fetched, and a signed URL is never
//! refused by Cloudinary's strict-transformations setting: this module is
//! the only gate. So only known parameters pass, each with its values or
//! bounds; a step's other keys are ignored (SharinPix's examples send some,
//! `miaim`, `super_plop`); a value outside them is a 422 naming it, never
//! passed through; nothing can put a `/` or a `,` (Cloudinary's step and
//! parameter separators) into the URL; and a request holds at most
//! [`MAX_STEPS`] steps, [`MAX_OVERLAYS`] of them naming images.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::auth::{Ability, Principal};
use crate::error::ApiError;
use crate::image::ImageRecord;
use crate::image_access::find_for;
use crate::service::App;

/// The ability an embeddable URL needs on the image's album, and on each
/// overlay's: `image_list`, what reading the image JSON (`GET
/// /api/v1/images/{id}`, its signed URLs) needs. Not `see`: a token that
/// may only see an album gets its newest few images as thumbnails, and
/// `see` alone would open every image of it.
pub const ABILITY: Ability = Ability::ImageList;

/// Most steps of a token's `transformations`.
pub const MAX_STEPS: usize = 5;
/// Most of those steps that name another image as overlay: each costs the
/// reads that find it and check the token may see it.
pub const MAX_OVERLAYS: usize = 3;
/// Largest `width` and `height`, in pixels: the embed's chain fits the
/// image in 1920 × 1920 first, so a larger size would only upscale it (a
/// costlier derived image showing nothing more).
pub const MAX_SIZE: i64 = 1920;
/// Largest `x` and `y` offset, either way, in pixels: the image is at most
/// [`MAX_SIZE`] across by then.
pub const MAX_OFFSET: i64 = 1920;
/// Largest `angle`, either way, in degrees.
pub const MAX_ANGLE: i64 = 360;
/// Longest text of a text overlay, as sent (escapes included).
pub const MAX_TEXT_BYTES: usize = 200;

/// Crop modes (`crop` → `c_…`): Cloudinary's resizing modes, without the
/// ones that need an add-on or a content-aware gravity.
pub const CROPS: &[&str] = &[
    "scale", "fit", "limit", "mfit", "fill", "lfill", "pad", "lpad", "mpad", "crop", "thumb",
];
/// Gravities (`gravity` → `g_…`): the compass and face detection.
pub const GRAVITIES: &[&str] = &[
    "north_west",
    "north",
    "north_east",
    "west",
    "center",
    "east",
    "south_west",
    "south",
    "south_east",
    "face",
    "faces",
];
/// Flags that only mean something for an overlay (`fl_tiled` tiles it):
/// dropped from a step without one, as SharinPix's `retrieve_image_secured`
/// example does.
pub const LAYER_FLAGS: &[&str] = &["tiled", "relative", "no_overflow"];
/// Flags that apply to any step. `attachment` is not one: the
/// `sharinpix.download` claim decides it for the whole URL.
pub const IMAGE_FLAGS: &[&str] = &["progressive", "lossy", "strip_profile"];
/// Delivery types an overlay's asset may have (`l_<type>:<public id>`).
const OVERLAY_TYPES: &[&str] = &["authenticated", "private", "upload"];

/// What a step lays over the image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Overlay {
    /// Another image, by its id: laid as its own asset once found in the
    /// caller's organization and visible to the token ([`layer_of`]).
    Image(String),
    /// `text:<style>:<text>`, as sent (checked: no separator can hide in it).
    Text(String),
}

/// One checked transformation step.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Step {
    /// Its Cloudinary parameters but the overlay and the flags, by short
    /// name (`w`, `h`, `c`, `a`, `g`, `x`, `y`).
    params: BTreeMap<&'static str, String>,
    /// Its flags, sorted (layer flags only when it has an overlay).
    flags: Vec<&'static str>,
    /// What it lays over the image, if anything.
    pub overlay: Option<Overlay>,
}

impl Step {
    /// The step as Cloudinary reads it: its parameters sorted by short
    /// name, comma-joined (SharinPix's order), with the overlay as `layer`
    /// (`authenticated:<public id>` or `text:…`; `None` when it has none).
    /// Empty when the step asks for nothing.
    pub fn render(&self, layer: Option<&str>) -> String {
        let mut all: BTreeMap<&str, String> =
            self.params.iter().map(|(k, v)| (*k, v.clone())).collect();
        if !self.flags.is_empty() {
            all.insert("fl", self.flags.join("."));
        }
        if let Some(layer) = layer {
            all.insert("l", layer.to_string());
        }
        all.iter()
            .map(|(k, v)| format!("{k}_{v}"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// What a token asks an embeddable URL for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRequest {
    /// The image its `image_id` names: it wins over the path's.
    pub image_id: Option<String>,
    /// Its `transformations`, checked, in order.
    pub steps: Vec<Step>,
    /// Whether the URL keeps `fl_attachment` (a download when opened);
    /// `sharinpix: {"download": false}` drops it.
    pub download: bool,
}

fn unprocessable(msg: String) -> ApiError {
    ApiError::Unprocessable(msg)
}

/// Reads the embed claims of a verified token (`claims`).
pub fn from_claims(claims: &Map<String, Value>) -> Result<TokenRequest, ApiError> {
    let image_id = match claims.get("image_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(unprocessable("image_id must be a string".into())),
    };
    let steps = match claims.get("transformations") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            if items.len() > MAX_STEPS {
                return Err(unprocessable(format!(
                    "transformations holds at most {MAX_STEPS} steps"
                )));
            }
            items
                .iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::Object(o) => step_of(&format!("transformations[{i}]."), o),
                    _ => Err(unprocessable(format!(
                        "transformations[{i}] must be an object"
                    ))),
                })
                .collect::<Result<Vec<_>, _>>()?
        }
        Some(_) => {
            return Err(unprocessable(
                "transformations must be a list of objects".into(),
            ));
        }
    };
    let overlays = steps
        .iter()
        .filter(|s| matches!(s.overlay, Some(Overlay::Image(_))))
        .count();
    if overlays > MAX_OVERLAYS {
        return Err(unprocessable(format!(
            "transformations names at most {MAX_OVERLAYS} images as overlays"
        )));
    }
    let download = !matches!(
        claims.get("sharinpix").and_then(|s| s.get("download")),
        Some(Value::Bool(false))
    );
    Ok(TokenRequest {
        image_id,
        steps,
        download,
    })
}

/// The step the query's `width`, `height` and `crop` ask for
/// (SharinPix's `return_the_image_transformed`), or `None` without them.
pub fn query_step(
    width: Option<&str>,
    height: Option<&str>,
    crop: Option<&str>,
) -> Result<Option<Step>, ApiError> {
    if width.is_none() && height.is_none() && crop.is_none() {
        return Ok(None);
    }
    let mut o = Map::new();
    for (k, v) in [("width", width), ("height", height), ("crop", crop)] {
        if let Some(v) = v {
            o.insert(k.into(), Value::from(v));
        }
    }
    step_of("", &o).map(Some)
}

/// A value that is there (not absent, not `null`).
fn present<'a>(o: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    o.get(key).filter(|v| !v.is_null())
}

/// An integer in `min..=max`, sent as a JSON integer or as its digits.
fn integer(v: &Value, name: &str, min: i64, max: i64) -> Result<i64, ApiError> {
    let n = match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    n.filter(|n| (min..=max).contains(n))
        .ok_or_else(|| unprocessable(format!("{name} must be an integer from {min} to {max}")))
}

/// One of `allowed`, sent as a string.
fn one_of(v: &Value, name: &str, allowed: &[&'static str]) -> Result<&'static str, ApiError> {
    v.as_str()
        .and_then(|s| allowed.iter().find(|a| **a == s))
        .copied()
        .ok_or_else(|| unprocessable(format!("{name} must be one of {}", allowed.join(", "))))
}

/// The step of one object of `transformations` (or of the query, `at`
/// empty): the keys of the allow-list, checked; the others ignored.
fn step_of(at: &str, o: &Map<String, Value>) -> Result<Step, ApiError> {
    let name = |k: &str| format!("{at}{k}");
    let mut step = Step::default();
    for (key, short, min, max) in [
        ("width", "w", 1, MAX_SIZE),
        ("height", "h", 1, MAX_SIZE),
        ("angle", "a", -MAX_ANGLE, MAX_ANGLE),
        ("x", "x", -MAX_OFFSET, MAX_OFFSET),
        ("y", "y", -MAX_OFFSET, MAX_OFFSET),
    ] {
        if let Some(v) = present(o, key) {
            let n = integer(v, &name(key), min, max)?;
            step.params.insert(short, n.to_string());
        }
    }
    if let Some(v) = present(o, "crop") {
        let c = one_of(v, &name("crop"), CROPS)?;
        // A resize mode without a size means nothing to Cloudinary (its
        // answer would be an error, after the request was billed).
        if !step.params.contains_key("w") && !step.params.contains_key("h") {
            return Err(unprocessable(format!(
                "{} needs a width or a height",
                name("crop")
            )));
        }
        step.params.insert("c", c.to_string());
    }
    if let Some(v) = present(o, "gravity") {
        step.params
            .insert("g", one_of(v, &name("gravity"), GRAVITIES)?.to_string());
    }
    if let Some(v) = present(o, "overlay") {
        step.overlay = Some(overlay_of(v, &name("overlay"))?);
    }
    if let Some(v) = present(o, "flags") {
        let mut flags = flags_of(v, &name("flags"))?;
        if step.overlay.is_none() {
            flags.retain(|f| !LAYER_FLAGS.contains(f));
        }
        step.flags = flags;
    }
    Ok(step)
}

/// `flags`: a name, names joined by `.` (Cloudinary's form), or a list of
/// names; each of [`LAYER_FLAGS`] or [`IMAGE_FLAGS`]. Sorted, each once.
fn flags_of(v: &Value, name: &str) -> Result<Vec<&'static str>, ApiError> {
    let bad = || {
        unprocessable(format!(
            "{name} must name flags among {}, {}",
            LAYER_FLAGS.join(", "),
            IMAGE_FLAGS.join(", ")
        ))
    };
    let names: Vec<&str> = match v {
        Value::String(s) => s.split('.').collect(),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().ok_or_else(bad))
            .collect::<Result<_, _>>()?,
        _ => return Err(bad()),
    };
    let mut flags = names
        .into_iter()
        .map(|n| {
            LAYER_FLAGS
                .iter()
                .chain(IMAGE_FLAGS)
                .find(|f| **f == n)
                .copied()
                .ok_or_else(bad)
        })
        .collect::<Result<Vec<_>, _>>()?;
    flags.sort_unstable();
    flags.dedup();
    Ok(flags)
}

/// `overlay`: another image's id, or `text:<style>:<text>`. A Cloudinary
/// public id is refused: it could name any asset of the account, another
/// organization's included.
fn overlay_of(v: &Value, name: &str) -> Result<Overlay, ApiError> {
    let s = v
        .as_str()
        .ok_or_else(|| unprocessable(format!("{name} must be a string")))?;
    if let Some(rest) = s.strip_prefix("text:") {
        return text_overlay(rest)
            .map(Overlay::Text)
            .ok_or_else(|| unprocessable(format!(
                "{name} must be text:<style>:<text>, the style of letters, digits, _ . -, the text URL-escaped (at most {MAX_TEXT_BYTES} characters; a comma or a slash double-escaped, %252C, %252F)"
            )));
    }
    if crate::album::is_valid_id(s) {
        return Ok(Overlay::Image(s.to_string()));
    }
    Err(unprocessable(format!(
        "{name} must be an image id or text:<style>:<text>"
    )))
}

/// `text:<style>:<text>` when `rest` (after `text:`) is a safe one: the
/// style made of letters, digits, `_`, `.`, `-` (a font such as
/// `Arial_60_bold`, or a text style's public id), the text of unreserved
/// characters and `%XX` escapes, none of which Cloudinary decodes into a
/// separator (`%2C`, `%2F`) or a control character.
fn text_overlay(rest: &str) -> Option<String> {
    let (style, text) = rest.split_once(':')?;
    let style_ok = !style.is_empty()
        && style.len() <= 64
        && style
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if !style_ok || text.is_empty() || text.len() > MAX_TEXT_BYTES {
        return None;
    }
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                let byte = u8::from_str_radix(hex, 16).ok()?;
                if byte < 0x20 || byte == 0x7f || byte == b',' || byte == b'/' {
                    return None;
                }
                i += 3;
            }
            b if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') => i += 1,
            _ => return None,
        }
    }
    Some(format!("text:{style}:{text}"))
}

/// The layer (`l_…` value) that lays image `record` over another:
/// `<delivery type>:<public id>`, a folder's `/` written `:` as Cloudinary
/// wants it (`authenticated:albums:a1:pic`). A message when the asset
/// cannot be an overlay: not an image, of another delivery type, or a
/// public id with characters that would alter the URL.
pub fn layer_of(record: &ImageRecord) -> Result<String, String> {
    let asset = record.asset();
    if asset.resource_type != "image" {
        return Err(format!("a {} cannot be an overlay", asset.resource_type));
    }
    let kind = record
        .infos
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("authenticated");
    if !OVERLAY_TYPES.contains(&kind) {
        return Err(format!("an asset of type {kind} cannot be an overlay"));
    }
    let id = asset.public_id;
    let id_ok = !id.is_empty()
        && !id.starts_with('/')
        && !id.ends_with('/')
        && !id.contains("//")
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/'));
    if !id_ok {
        return Err("its asset's public id cannot be an overlay".into());
    }
    Ok(format!("{kind}:{}", id.replace('/', ":")))
}

/// The signed URL of image `id` of the caller's organization as `asked`
/// and the query's `extra` step want it: the image's own chain
/// ([`ImageRecord::embed_transformation`]) followed by the steps, each
/// overlay laid as its asset. A 404 for an image the caller may not reach,
/// a 401 when the token lacks [`ABILITY`] on its album, a 422 for an
/// overlay it may not see (whether it exists elsewhere is not told).
pub async fn signed_url(
    app: &App,
    principal: &Principal,
    id: &str,
    asked: &TokenRequest,
    extra: Option<&Step>,
) -> Result<String, ApiError> {
    let found = find_for(app, principal, id, &[ABILITY]).await?;
    let mut steps = Vec::with_capacity(asked.steps.len() + 1);
    for (i, step) in asked.steps.iter().chain(extra).enumerate() {
        let layer = match &step.overlay {
            None => None,
            Some(Overlay::Text(text)) => Some(text.clone()),
            Some(Overlay::Image(other)) => Some(overlay_layer(app, principal, i, other).await?),
        };
        let rendered = step.render(layer.as_deref());
        if !rendered.is_empty() {
            steps.push(rendered);
        }
    }
    let record = &found.image.record;
    let transformation = record.embed_transformation(&steps.join("/"), asked.download);
    Ok(crate::cloudinary::signed_url(
        app.config.cloudinary()?,
        &transformation,
        &record.asset(),
    ))
}

/// The layer of image `id`, the overlay of step `i`: found like the image
/// itself (the caller's organization, [`ABILITY`] on its album), else a
/// 422 that does not tell a missing image from one out of reach.
async fn overlay_layer(
    app: &App,
    principal: &Principal,
    i: usize,
    id: &str,
) -> Result<String, ApiError> {
    let refused =
        |why: &str| ApiError::Unprocessable(format!("transformations[{i}].overlay: {why}"));
    let found = match find_for(app, principal, id, &[ABILITY]).await {
        Ok(found) => found,
        Err(ApiError::NotFound(_) | ApiError::Forbidden(_)) => {
            return Err(refused("no image of that id that this token may see"));
        }
        Err(e) => return Err(e),
    };
    layer_of(&found.image.record).map_err(|why| refused(&why))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn rendered(r: &TokenRequest, layers: &[Option<&str>]) -> Vec<String> {
        r.steps
            .iter()
            .zip(layers)
            .map(|(s, l)| s.render(*l))
            .collect()
    }

    #[test]
    fn sharinpixs_tiled_example_keeps_the_allowed_keys_sorted_by_short_name() {
        let r = from_claims(&claims(json!({
            "transformations": [
                {"width": 200, "overlay": "81499d23-c765-414e-8ac1-59f99654cbd5", "flags": "tiled",
                 "miaim": "hey hey !", "super_plop": "test?"},
                {"width": 101, "flags": "tiled", "height": 102, "crop": "fit"}
            ],
            "sharinpix": {}
        })))
        .unwrap();
        assert!(r.download);
        assert_eq!(
            r.steps[0].overlay,
            Some(Overlay::Image(
                "81499d23-c765-414e-8ac1-59f99654cbd5".into()
            ))
        );
        // The layer flag stays with the overlay, and leaves the step without one.
        assert_eq!(
            rendered(&r, &[Some("authenticated:085494a9a403"), None]),
            [
                "fl_tiled,l_authenticated:085494a9a403,w_200",
                "c_fit,h_102,w_101"
            ]
        );
    }

    #[test]
    fn text_overlays_angles_offsets_and_download() {
        let r = from_claims(&claims(json!({
            "image_id": "6af98af2-3077-4f5c-9f80-12d7cb29bfc6",
            "transformations": [
                {"overlay": "text:sample_text_style:Stylish%20text", "gravity": "south"},
                {"angle": 90},
                {"crop": "fit", "width": "800", "x": -1200, "y": 3}
            ],
            "sharinpix": {"download": false}
        })))
        .unwrap();
        assert!(!r.download);
        assert_eq!(
            r.image_id.as_deref(),
            Some("6af98af2-3077-4f5c-9f80-12d7cb29bfc6")
        );
        let Some(Overlay::Text(t)) = &r.steps[0].overlay else {
            panic!("a text overlay")
        };
        assert_eq!(
            rendered(&r, &[Some(t), None, None]),
            [
                "g_south,l_text:sample_text_style:Stylish%20text",
                "a_90",
                "c_fit,w_800,x_-1200,y_3"
            ]
        );
    }

    #[test]
    fn steps_of_unknown_keys_only_render_nothing() {
        let r = from_claims(&claims(json!({"transformations": [{"effect": "sepia"}]}))).unwrap();
        assert_eq!(r.steps[0].render(None), "");
        let r = from_claims(&claims(json!({}))).unwrap();
        assert!(r.steps.is_empty() && r.image_id.is_none() && r.download);
    }

    #[test]
    fn values_outside_the_allow_list_are_422_naming_the_parameter() {
        let cases = [
            (json!({"width": 0}), "transformations[0].width"),
            (json!({"width": 1921}), "transformations[0].width"),
            (json!({"width": 20.5}), "transformations[0].width"),
            (
                json!({"width": "200,e_pixelate"}),
                "transformations[0].width",
            ),
            (json!({"height": "1/2"}), "transformations[0].height"),
            (json!({"angle": 361}), "transformations[0].angle"),
            (json!({"x": 5000}), "transformations[0].x"),
            (json!({"crop": "fit"}), "transformations[0].crop"),
            (
                json!({"width": 10, "crop": "fit,e_blur"}),
                "transformations[0].crop",
            ),
            (
                json!({"width": 10, "crop": "fit/e_blur"}),
                "transformations[0].crop",
            ),
            (json!({"gravity": "auto"}), "transformations[0].gravity"),
            (json!({"flags": "attachment"}), "transformations[0].flags"),
            (json!({"flags": "tiled,e_x"}), "transformations[0].flags"),
            (json!({"flags": 3}), "transformations[0].flags"),
            (
                json!({"overlay": "authenticated:085494a9a403"}),
                "transformations[0].overlay",
            ),
            (json!({"overlay": "a/b"}), "transformations[0].overlay"),
            (
                json!({"overlay": "text:Arial_60:a%2Cb"}),
                "transformations[0].overlay",
            ),
            (
                json!({"overlay": "text:Arial_60:a%2fb"}),
                "transformations[0].overlay",
            ),
            (
                json!({"overlay": "text:Arial_60:a,b"}),
                "transformations[0].overlay",
            ),
            (
                json!({"overlay": "text:Arial_60:a/b"}),
                "transformations[0].overlay",
            ),
            (
                json!({"overlay": "text:Arial/60:ab"}),
                "transformations[0].overlay",
            ),
            (
                json!({"overlay": "text:Arial_60:a%0Ab"}),
                "transformations[0].overlay",
            ),
            (
                json!({"overlay": "text:Arial_60:a%2"}),
                "transformations[0].overlay",
            ),
            (
                json!({"overlay": "text:Arial_60:"}),
                "transformations[0].overlay",
            ),
            (json!({"overlay": 7}), "transformations[0].overlay"),
        ];
        for (step, name) in cases {
            let e = from_claims(&claims(json!({"transformations": [step.clone()]}))).unwrap_err();
            assert!(
                matches!(&e, ApiError::Unprocessable(m) if m.starts_with(name)),
                "{step}: {e:?}"
            );
        }
        // Double-escaped separators are text, not separators.
        let r = from_claims(&claims(json!({"transformations": [
            {"overlay": "text:Arial_60:a%252Cb%252Fc"}
        ]})))
        .unwrap();
        assert_eq!(
            r.steps[0].overlay,
            Some(Overlay::Text("text:Arial_60:a%252Cb%252Fc".into()))
        );
    }

    #[test]
    fn the_claims_shapes_and_counts_are_bounded() {
        for bad in [
            json!({"transformations": {"width": 10}}),
            json!({"transformations": [3]}),
            json!({"transformations": [{}, {}, {}, {}, {}, {}]}),
            json!({"image_id": 42}),
            json!({"transformations": [
                {"overlay": "a1"}, {"overlay": "a2"}, {"overlay": "a3"}, {"overlay": "a4"}
            ]}),
        ] {
            assert!(
                matches!(
                    from_claims(&claims(bad.clone())),
                    Err(ApiError::Unprocessable(_))
                ),
                "{bad}"
            );
        }
        let three = from_claims(&claims(json!({"transformations": [
            {"overlay": "a1"}, {"overlay": "a2"}, {"overlay": "text:Arial_20:x"}, {"overlay": "a3"}
        ]})));
        assert!(three.is_ok());
    }

    #[test]
    fn the_query_step_is_checked_like_a_claim_step() {
        assert_eq!(query_step(None, None, None).unwrap(), None);
        let s = query_step(Some("201"), Some("202"), Some("fit"))
            .unwrap()
            .unwrap();
        assert_eq!(s.render(None), "c_fit,h_202,w_201");
        assert_eq!(
            query_step(Some("50"), None, None)
                .unwrap()
                .unwrap()
                .render(None),
            "w_50"
        );
        for (w, h, c) in [
            (Some("0"), None, None),
            (Some("4000"), None, None),
            (Some("20/e_blur"), None, None),
            (Some(""), None, None),
            (None, None, Some("fit")),
            (Some("20"), None, Some("fit,e_blur")),
        ] {
            assert!(
                matches!(query_step(w, h, c), Err(ApiError::Unprocessable(_))),
                "{w:?} {h:?} {c:?}"
            );
        }
    }

    fn record(public_id: &str, kind: Option<&str>, resource: &str) -> ImageRecord {
        let mut infos = json!({"resource_type": resource});
        if let Some(k) = kind {
            infos["type"] = Value::from(k);
        }
        serde_json::from_value(json!({
            "a": public_id, "v": 1, "f": "jpg", "i": infos,
            "c": "2019-04-08T17:38:46Z", "u": "2019-04-08T17:38:46Z"
        }))
        .unwrap()
    }

    #[test]
    fn an_overlays_layer_is_its_assets_type_and_public_id() {
        assert_eq!(
            layer_of(&record("085494a9a403", Some("authenticated"), "image")).unwrap(),
            "authenticated:085494a9a403"
        );
        assert_eq!(
            layer_of(&record("d47e609177b4", Some("private"), "image")).unwrap(),
            "private:d47e609177b4"
        );
        assert_eq!(
            layer_of(&record("albums/a1/pic", None, "image")).unwrap(),
            "authenticated:albums:a1:pic"
        );
        for bad in [
            record("pic", Some("authenticated"), "video"),
            record("pic", Some("fetch"), "image"),
            record("a,e_blur", None, "image"),
            record("a//b", None, "image"),
            record("/a", None, "image"),
            record("a b", None, "image"),
        ] {
            assert!(layer_of(&bad).is_err(), "{bad:?}");
        }
    }
}
