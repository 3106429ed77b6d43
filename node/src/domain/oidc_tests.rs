//! ID token validation edge cases, with ES256 keys made here (the RS256 path is proven against
//! a real provider in tests/tests/sso.rs).

use super::*;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use jsonwebtoken::{EncodingKey, Header};
use serde_json::json;

struct Key {
    pkcs8: Vec<u8>,
    jwk: Value,
}

fn key(kid: &str) -> Key {
    let rng = SystemRandom::new();
    let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("key");
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref()).expect("pair");
    let public = pair.public_key().as_ref().to_vec();
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    Key {
        pkcs8: doc.as_ref().to_vec(),
        jwk: json!({"kty": "EC", "crv": "P-256", "x": b64(&public[1..33]),
                    "y": b64(&public[33..65]), "kid": kid, "alg": "ES256", "use": "sig"}),
    }
}

fn set(keys: &[&Key]) -> JwkSet {
    serde_json::from_value(json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()}))
        .expect("jwks")
}

/// A fixed "now" (2027-01-15), the time every check is made at.
const NOW: u64 = 1_800_000_000;

fn now() -> u64 {
    NOW
}

fn claims() -> Value {
    json!({"iss": "https://idp.example", "aud": "cosell", "sub": "u1", "nonce": "n1",
           "iat": now(), "exp": now() + 300, "preferred_username": "ana", "groups": ["admins"]})
}

fn sign(k: &Key, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = kid.map(str::to_string);
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_ec_der(&k.pkcs8)).expect("sign")
}

const EXPECT: Expect = Expect {
    issuer: "https://idp.example",
    client_id: "cosell",
    nonce: "n1",
    now_s: NOW,
};

fn with(changes: Value) -> Value {
    let mut c = claims();
    for (k, v) in changes.as_object().expect("object") {
        if v.is_null() {
            c.as_object_mut().expect("o").remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}

#[test]
fn a_good_token_passes_and_names_the_user_and_groups() {
    let k = key("k1");
    let token = sign(&k, Some("k1"), &claims());
    let c = validate_id_token(&token, &set(&[&k]), &EXPECT).expect("valid");
    let config: OidcConfig =
        toml::from_str("issuer = \"https://idp.example\"\nclient_id = \"cosell\"").expect("config");
    let who = identity(&config, c, &token).expect("identity");
    assert_eq!((who.subject.as_str(), who.username.as_str()), ("u1", "ana"));
    assert_eq!(who.groups, ["admins"]);
}

#[test]
fn each_wrong_claim_is_refused_with_its_own_reason() {
    let k = key("k1");
    let keys = set(&[&k]);
    let check = |c: Value| validate_id_token(&sign(&k, Some("k1"), &c), &keys, &EXPECT);
    assert!(matches!(
        check(with(json!({"aud": "other"}))),
        Err(SsoError::Audience)
    ));
    assert!(matches!(
        check(with(json!({"aud": null}))),
        Err(SsoError::Audience)
    ));
    assert!(
        matches!(
            check(with(json!({"aud": ["cosell", "other"]}))),
            Err(SsoError::Audience)
        ),
        "several audiences need azp = this client"
    );
    assert!(check(with(json!({"aud": ["cosell", "other"], "azp": "cosell"}))).is_ok());
    assert!(matches!(
        check(with(json!({"iss": "https://evil.example"}))),
        Err(SsoError::Issuer)
    ));
    assert!(matches!(
        check(with(json!({"exp": now() - 120}))),
        Err(SsoError::Expired)
    ));
    assert!(
        check(with(json!({"exp": now() - 30}))).is_ok(),
        "within the clock-skew leeway"
    );
    assert!(matches!(
        check(with(json!({"exp": null}))),
        Err(SsoError::Expired)
    ));
    assert!(matches!(
        check(with(json!({"nbf": now() + 600}))),
        Err(SsoError::Expired)
    ));
    assert!(matches!(
        check(with(json!({"iat": now() + 600}))),
        Err(SsoError::Claim(_))
    ));
    assert!(matches!(
        check(with(json!({"nonce": "n2"}))),
        Err(SsoError::Nonce)
    ));
    assert!(matches!(
        check(with(json!({"nonce": null}))),
        Err(SsoError::Nonce)
    ));
    assert!(matches!(
        check(with(json!({"sub": null}))),
        Err(SsoError::Claim(_))
    ));
}

#[test]
fn a_bad_signature_an_unknown_key_or_another_algorithm_is_refused() {
    let (k1, k2) = (key("k1"), key("k2"));
    let keys = set(&[&k1]);
    // Signed by a key the set does not have, under a known or an unknown kid.
    let other = sign(&k2, Some("k1"), &claims());
    assert!(matches!(
        validate_id_token(&other, &keys, &EXPECT),
        Err(SsoError::Signature)
    ));
    let unknown = sign(&k2, Some("k2"), &claims());
    assert!(matches!(
        validate_id_token(&unknown, &keys, &EXPECT),
        Err(SsoError::Signature)
    ));
    // The same token verifies once the rotated key set has k2.
    assert!(validate_id_token(&unknown, &set(&[&k1, &k2]), &EXPECT).is_ok());
    // A changed payload under the original signature.
    let good = sign(&k1, Some("k1"), &claims());
    let parts: Vec<&str> = good.split('.').collect();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let forged = b64.encode(serde_json::to_vec(&with(json!({"sub": "admin"}))).expect("json"));
    let tampered = format!("{}.{forged}.{}", parts[0], parts[2]);
    assert!(matches!(
        validate_id_token(&tampered, &keys, &EXPECT),
        Err(SsoError::Signature)
    ));
    // HS256 with the public key as the secret (algorithm confusion), and alg "none".
    let hs = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims(),
        &EncodingKey::from_secret(k1.jwk["x"].as_str().unwrap_or("").as_bytes()).expect("hmac key"),
    )
    .expect("hs256");
    assert!(matches!(
        validate_id_token(&hs, &keys, &EXPECT),
        Err(SsoError::Signature)
    ));
    let none = format!(
        "{}.{}.",
        b64.encode(br#"{"alg":"none","typ":"JWT"}"#),
        b64.encode(serde_json::to_vec(&claims()).expect("json"))
    );
    assert!(matches!(
        validate_id_token(&none, &keys, &EXPECT),
        Err(SsoError::Signature)
    ));
    assert!(matches!(
        validate_id_token("not a token", &keys, &EXPECT),
        Err(SsoError::Signature)
    ));
    // No kid: only a set with exactly one key is unambiguous.
    let no_kid = sign(&k1, None, &claims());
    assert!(validate_id_token(&no_kid, &keys, &EXPECT).is_ok());
    assert!(matches!(
        validate_id_token(&no_kid, &set(&[&k1, &k2]), &EXPECT),
        Err(SsoError::Signature)
    ));
}

#[test]
fn groups_map_to_the_highest_role_and_no_group_means_no_access_by_default() {
    let map: RoleMap =
        toml::from_str("admin = [\"cosell-admins\"]\nmanager = [\"sales\"]\nviewer = [\"staff\"]")
            .expect("roles");
    let g = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(map.role(&g(&["staff", "sales"])), Some(Role::Manager));
    assert_eq!(map.role(&g(&["cosell-admins"])), Some(Role::Admin));
    assert_eq!(map.role(&g(&["other"])), None);
    let lenient: RoleMap = toml::from_str("default = \"viewer\"").expect("roles");
    assert_eq!(lenient.role(&[]), Some(Role::Viewer));
    let typo: RoleMap = toml::from_str("default = \"admn\"").expect("parses");
    assert!(typo.validate().is_err());
}

#[test]
fn a_pending_sign_in_works_once_and_only_in_the_browser_that_started_it() {
    let dir = tempfile::tempdir().expect("dir");
    let store = Store::open(&dir.path().join("db")).expect("store");
    let pending = |b: &str| Pending {
        nonce: "n".into(),
        verifier: "v".into(),
        binding_hash: token_hash(b),
        expires_at_ms: 10_000,
    };
    store_pending(&store, "s1", &pending("browser"), 1).expect("store");
    let taken = take_pending(&store, "s1").expect("take").expect("there");
    assert_eq!(taken.binding_hash, token_hash("browser"));
    assert!(
        take_pending(&store, "s1").expect("take").is_none(),
        "a state works once"
    );
    // A started sign-in past its time is dropped when the next one starts.
    store_pending(&store, "old", &pending("b"), 1).expect("store");
    store_pending(&store, "new", &pending("b"), 20_000).expect("store");
    assert!(take_pending(&store, "old").expect("take").is_none());
    assert_eq!(
        pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "RFC 7636 appendix B"
    );
}
