//! Unit tests of tokens: algorithms, keys, expiry, claims, audiences,
//! header forms, lifetimes and integrator tokens.

use super::*;
use base64::Engine as _;
use serde_json::json;

const NOW: i64 = 1_700_000_000;

fn secret() -> Secret {
    Secret::new("test-secret-of-32-bytes-0123456789")
}

/// `claims` signed with `key` under a header naming `alg` (HS256 whatever
/// it names): forged and misused tokens alike.
fn signed(alg: &str, claims: &Value, key: &Secret) -> String {
    raw_token(
        json!({ "alg": alg }),
        claims.clone(),
        key.expose().as_bytes(),
    )
}

/// The principal of a verified operator-key token of organization `o`.
fn principal_of(v: VerifiedToken) -> Principal {
    Principal {
        user_id: v.user_id,
        organization_id: "o".into(),
        abilities: v.abilities,
        claims: v.claims,
        issuer: None,
        session_ends_at: v.session_ends_at,
    }
}

/// Asserts the operator's key refuses token `t` (401).
fn assert_refused(t: &str) {
    let verified = verify_api_token(t, &secret(), NOW);
    assert!(
        matches!(verified, Err(ApiError::Unauthorized(_))),
        "{verified:?}"
    );
}

fn raw_token(header: Value, claims: Value, key: &[u8]) -> String {
    use hmac_free::hs256;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let h = b64.encode(header.to_string());
    let c = b64.encode(claims.to_string());
    let sig = b64.encode(hs256(key, format!("{h}.{c}").as_bytes()));
    format!("{h}.{c}.{sig}")
}

/// A tiny HMAC-SHA256 over jsonwebtoken's own signer, to forge headers.
mod hmac_free {
    pub fn hs256(key: &[u8], msg: &[u8]) -> Vec<u8> {
        let s = jsonwebtoken::crypto::sign(
            msg,
            &jsonwebtoken::EncodingKey::from_secret(key),
            jsonwebtoken::Algorithm::HS256,
        )
        .unwrap();
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s)
            .unwrap()
    }
}

#[test]
fn accepts_a_valid_token_and_reads_abilities() {
    let t = issue_user_token("u1", None, &secret(), NOW, 60).unwrap();
    let v = verify_api_token(&t, &secret(), NOW).unwrap();
    assert_eq!(v.user_id, "u1");
    assert_eq!(v.abilities, Abilities::All);
}

#[test]
fn rejects_an_expired_token() {
    let t = issue_user_token("u1", None, &secret(), NOW - 100, 50).unwrap();
    assert_refused(&t);
}

#[test]
fn rejects_alg_none() {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let t = format!(
        "{}.{}.",
        b64.encode(r#"{"alg":"none","typ":"JWT"}"#),
        b64.encode(json!({"user_id":"u1","exp":NOW+60}).to_string())
    );
    assert_refused(&t);
}

#[test]
fn rejects_an_rs256_header_even_when_hmac_signed_with_the_secret() {
    let t = raw_token(
        json!({"alg":"RS256","typ":"JWT"}),
        json!({"user_id":"u1","exp":NOW+60}),
        secret().expose().as_bytes(),
    );
    assert_refused(&t);
}

#[test]
fn rejects_a_token_signed_with_another_key() {
    let t = issue_user_token("u1", None, &Secret::new("another-secret-0123456"), NOW, 60).unwrap();
    assert_refused(&t);
}

#[test]
fn rejects_a_token_without_exp() {
    let t = raw_token(
        json!({"alg":"HS256","typ":"JWT"}),
        json!({"user_id":"u1"}),
        secret().expose().as_bytes(),
    );
    assert_refused(&t);
}

#[test]
fn rejects_a_notification_token_used_as_api_token() {
    let t = issue_notification_token("u1", "a1", "o1", &secret(), NOW, 60).unwrap();
    assert_refused(&t);
    let claims = verify_notification_token(&t, &secret(), NOW).unwrap();
    assert_eq!(claims.album_id, "a1");
}

#[test]
fn rejects_an_api_token_on_the_webhook() {
    let t = issue_user_token("u1", None, &secret(), NOW, 60).unwrap();
    assert!(verify_notification_token(&t, &secret(), NOW).is_err());
}

#[test]
fn rejects_future_iat_wrong_types_and_oversized_tokens() {
    let key = secret();
    let future = raw_token(
        json!({"alg":"HS256"}),
        json!({"user_id":"u1","exp":NOW+600,"iat":NOW+300}),
        key.expose().as_bytes(),
    );
    let numeric_user = raw_token(
        json!({"alg":"HS256"}),
        json!({"user_id":42,"exp":NOW+600}),
        key.expose().as_bytes(),
    );
    let bad_abilities = raw_token(
        json!({"alg":"HS256"}),
        json!({"user_id":"u1","exp":NOW+600,"abilities":"all"}),
        key.expose().as_bytes(),
    );
    let not_before = raw_token(
        json!({"alg":"HS256"}),
        json!({"user_id":"u1","exp":NOW+600,"nbf":NOW+300}),
        key.expose().as_bytes(),
    );
    let huge = "a".repeat(MAX_TOKEN_BYTES + 1);
    for t in [future, numeric_user, bad_abilities, not_before, huge] {
        assert!(matches!(
            verify_api_token(&t, &key, NOW),
            Err(ApiError::Unauthorized(_))
        ));
    }
}

#[test]
fn the_seed_token_shape_is_accepted_when_signed_with_our_key() {
    let t = raw_token(
        json!({"typ":"JWT","alg":"HS256"}),
        json!({"exp":NOW+10,"iat":NOW-10,"user_id":"9ed26283-3299-4a05-b9d6-e34278fbd416","abilities":{}}),
        secret().expose().as_bytes(),
    );
    assert_eq!(
        verify_api_token(&t, &secret(), NOW).unwrap().user_id,
        "9ed26283-3299-4a05-b9d6-e34278fbd416"
    );
}

#[test]
fn refreshed_token_keeps_claims_with_a_fresh_expiry() {
    let t = issue_user_token(
        "u1",
        Some(json!({"a1":{"Access":{"see":true}}})),
        &secret(),
        NOW - 50,
        60,
    )
    .unwrap();
    let v = verify_api_token(&t, &secret(), NOW).unwrap();
    let p = principal_of(v);
    let fresh = refreshed_token(&p, &secret(), NOW, 14_400).unwrap();
    let v2 = verify_api_token(&fresh, &secret(), NOW).unwrap();
    assert_eq!(v2.claims["exp"], json!(NOW + 14_400));
    assert_eq!(
        v2.claims["abilities"],
        json!({"a1":{"Access":{"see":true}}})
    );
}

#[test]
fn abilities_follow_the_sharinpix_format() {
    assert_eq!(
        Abilities::from_claim(Some(&json!({}))).unwrap(),
        Abilities::All
    );
    assert_eq!(
        Abilities::from_claim(Some(&json!({"admin": true}))).unwrap(),
        Abilities::All
    );
    let a = Abilities::from_claim(Some(&json!({
        "a1": {"Access": {"see": true, "image_list": true}},
        "a2": {"Access": {"image_upload": true}}
    })))
    .unwrap();
    assert!(a.allows("a1", Ability::See) && a.allows("a1", Ability::ImageList));
    assert!(!a.allows("a1", Ability::ImageUpload));
    assert!(a.allows("a2", Ability::ImageUpload));
    assert!(!a.allows("a3", Ability::See));
}

#[test]
fn tagging_abilities_and_non_album_keys_follow_sharinpix_examples() {
    let a = Abilities::from_claim(Some(&json!({
        "s": {"Access": {"share": true}},
        "t": {"Tags": {"MyTag": {"en": "MyTag"}}, "Access": {"see": true, "image_tag": true}},
        "u": {"Tags": {"My Tag": "{}"}, "Access": {"image_tag": true}},
        "v": {"Tags": {"tag": "{\"en\": \"tags\"}"}},
        "tags": {"auto_tag": "super-auto-tag"},
        "image_urls": {"x": true}
    })))
    .unwrap();
    assert!(a.allows("s", Ability::Tag) && !a.allows("s", Ability::See));
    assert!(a.allows("t", Ability::Tag) && a.allows("t", Ability::See));
    assert!(!a.allows("u", Ability::Tag), "image_tag without see");
    assert!(!a.allows("v", Ability::Tag) && !a.allows("v", Ability::See));
    let Abilities::Albums(albums) = &a else {
        panic!("restricted")
    };
    assert!(!albums.contains_key("tags") && !albums.contains_key("image_urls"));
    let only_tags = Abilities::from_claim(Some(&json!({"tags": {"create": "true"}}))).unwrap();
    assert_eq!(only_tags, Abilities::Albums(HashMap::new()));
}

#[test]
fn token_header_forms() {
    assert_eq!(
        token_from_header(r#"Token token="abc.def.ghi""#),
        Some("abc.def.ghi")
    );
    assert_eq!(token_from_header("Token token=abc"), Some("abc"));
    assert_eq!(token_from_header("Bearer xyz"), Some("xyz"));
    assert_eq!(token_from_header("bearer   xyz "), Some("xyz"));
    assert_eq!(token_from_header("Basic dXNlcjpwYXNz"), None);
    assert_eq!(token_from_header("Token"), None);
    assert_eq!(token_from_header(r#"Token token="""#), None);
}

#[test]
fn a_short_token_renews_only_until_its_session_ends() {
    // A 5-minute share token issued at NOW: renewals stop a day later.
    let t = issue_user_token("u1", None, &secret(), NOW, 300).unwrap();
    let v = verify_api_token(&t, &secret(), NOW).unwrap();
    assert_eq!(v.session_ends_at, NOW + 86_400);
    let mut p = principal_of(v);
    // The caller uses each X-token 3 h after it got it (before it expires,
    // 4 h later): each keeps auth_time, so the chain ends a day after NOW.
    let mut at = NOW;
    let mut renewals = 0;
    loop {
        let x = refreshed_token(&p, &secret(), at, 14_400).unwrap();
        let Ok(v) = verify_api_token(&x, &secret(), at + 3 * 3_600) else {
            break;
        };
        assert_eq!(v.claims["auth_time"], json!(NOW));
        assert_eq!(v.session_ends_at, NOW + 86_400);
        assert!(v.claims["exp"].as_i64().unwrap() <= NOW + 86_400);
        (p.claims, at, renewals) = (v.claims, at + 3 * 3_600, renewals + 1);
        assert!(renewals < 20, "the chain never ended");
    }
    assert!((7..=8).contains(&renewals), "{renewals} renewals in a day");
}

#[test]
fn a_token_valid_for_more_than_a_day_is_refused() {
    let t = issue_user_token("u1", None, &secret(), NOW, 86_401).unwrap();
    assert_refused(&t);
    let t = issue_user_token("u1", None, &secret(), NOW, 86_400).unwrap();
    assert!(verify_api_token(&t, &secret(), NOW).is_ok());
}

mod integrator_tokens {
    use super::*;
    use crate::api_secrets::ApiSecret;

    fn api_secret() -> ApiSecret {
        ApiSecret::generate("org-a", "2026-01-01T00:00:00.000Z").unwrap()
    }

    fn mint(secret: &ApiSecret, claims: Value) -> String {
        raw_token(
            json!({"alg": "HS256", "typ": "JWT"}),
            claims,
            secret.key.expose().as_bytes(),
        )
    }

    #[test]
    fn the_api_md_shape_is_accepted_and_user_id_is_optional() {
        let s = api_secret();
        let abilities = json!({"an-album-id": {"Access": {"see": true, "image_list": true, "image_upload": true}}});
        let t = mint(
            &s,
            json!({"exp": NOW + 12 * 3_600, "iss": s.id, "abilities": abilities}),
        );
        assert_eq!(integrator::issuer_of(&t).unwrap(), Some(s.id.clone()));
        let v = integrator::verify(&t, &s, NOW).unwrap();
        assert_eq!(v.user_id, None);
        assert!(v.abilities.allows("an-album-id", Ability::ImageUpload));
        assert!(!v.abilities.allows("another", Ability::See));
        let t = mint(&s, json!({"exp": NOW + 60, "iss": s.id, "user_id": "jane"}));
        assert_eq!(
            integrator::verify(&t, &s, NOW).unwrap().user_id.as_deref(),
            Some("jane")
        );
    }

    #[test]
    fn user_tokens_have_no_issuer() {
        let t = issue_user_token("u1", None, &secret(), NOW, 60).unwrap();
        assert_eq!(integrator::issuer_of(&t).unwrap(), None);
    }

    #[test]
    fn forged_or_misused_integrator_tokens_are_refused() {
        let s = api_secret();
        let other = api_secret();
        let claims = json!({"exp": NOW + 60, "iss": s.id});
        let refused_by_verify = [
            (
                "signed with another organization's secret",
                signed("HS256", &claims, &other.key),
            ),
            (
                "signed with JWT_SECRET",
                signed("HS256", &claims, &secret()),
            ),
            (
                "claiming an organization",
                mint(
                    &s,
                    json!({"exp": NOW + 60, "iss": s.id, "organization_id": "org-a"}),
                ),
            ),
            (
                "claiming another organization",
                mint(
                    &s,
                    json!({"exp": NOW + 60, "iss": s.id, "organization_id": "org-b"}),
                ),
            ),
            (
                "an audience",
                mint(&s, json!({"exp": NOW + 60, "iss": s.id, "aud": "api"})),
            ),
            ("without exp", mint(&s, json!({"iss": s.id}))),
            ("expired", mint(&s, json!({"exp": NOW - 1, "iss": s.id}))),
            (
                "user_id as a number",
                mint(&s, json!({"exp": NOW + 60, "iss": s.id, "user_id": 7})),
            ),
            (
                "user_id empty",
                mint(&s, json!({"exp": NOW + 60, "iss": s.id, "user_id": ""})),
            ),
        ];
        for (name, t) in refused_by_verify {
            assert!(
                matches!(
                    integrator::verify(&t, &s, NOW),
                    Err(ApiError::Unauthorized(_))
                ),
                "{name}"
            );
        }
    }

    #[test]
    fn bad_headers_and_issuers_are_refused_before_any_lookup() {
        let s = api_secret();
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let claims = json!({"exp": NOW + 60, "iss": s.id});
        let refused_before_lookup = [
            (
                "alg none",
                format!(
                    "{}.{}.",
                    b64.encode(r#"{"alg":"none"}"#),
                    b64.encode(claims.to_string())
                ),
            ),
            ("RS256 header", signed("RS256", &claims, &s.key)),
            ("HS512 header", signed("HS512", &claims, &s.key)),
            (
                "iss a number",
                mint(&s, json!({"exp": NOW + 60, "iss": 42})),
            ),
            (
                "iss with a key separator",
                mint(&s, json!({"exp": NOW + 60, "iss": "S#x"})),
            ),
            (
                "claims not JSON",
                format!(
                    "{}.{}.x",
                    b64.encode(r#"{"alg":"HS256"}"#),
                    b64.encode("iss=x")
                ),
            ),
        ];
        for (name, t) in refused_before_lookup {
            assert!(
                matches!(integrator::issuer_of(&t), Err(ApiError::Unauthorized(_))),
                "{name}"
            );
        }
    }
}
