//! OpenID Connect single sign-on for the web UI (relying party side): discovery, the
//! authorization code flow with PKCE, and ID token validation (signature by the issuer's JWKS,
//! RS256 or ES256; issuer, audience, expiry, nonce). The JWKS is cached and fetched again when a
//! token names a key id the cache lacks (the provider rotated its keys).
//!
//! A pending sign-in (state → nonce, PKCE verifier, browser binding) lives in the store, so it
//! survives nothing but the ten minutes it is given; the browser binding is a random value in a
//! `SameSite=Lax` cookie whose hash the pending entry keeps, so a callback URL someone else
//! started cannot sign this browser in (login CSRF).

use crate::domain::auth::{token_hash, Role};
use crate::store::tables::OIDC_PENDING;
use crate::store::Store;
use anyhow::{anyhow, Context, Result};
use base64::Engine;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use redb::ReadableTable;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Mutex;
use std::time::Duration;

/// How long a started sign-in may take at the identity provider.
pub const PENDING_LIFETIME_MS: u64 = 10 * 60 * 1000;
/// Clock skew allowed on `exp`, `iat` and `nbf`, in seconds.
pub const LEEWAY_S: u64 = 60;
/// The cookie that binds a pending sign-in to the browser that started it.
pub const BINDING_COOKIE: &str = "cosell_oidc";

/// `[oidc]` in `cosell.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// The provider's issuer URL, exactly as its ID tokens name it (`iss`); its discovery
    /// document is at `ISSUER/.well-known/openid-configuration`. HTTPS, except on loopback.
    pub issuer: String,
    /// This node's client id at the provider (the ID token's audience).
    pub client_id: String,
    /// File holding the client secret (mode 0600; relative to the data directory). None: a
    /// public client (PKCE only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_file: Option<String>,
    /// The provider's name on the sign-in button ("Sign in with …").
    #[serde(default = "display_name_default")]
    pub display_name: String,
    /// Scopes asked for besides `openid`.
    #[serde(default = "scopes_default")]
    pub scopes: Vec<String>,
    /// The claim that names the user (falls back to `email`).
    #[serde(default = "username_claim_default")]
    pub username_claim: String,
    /// The claim with the user's groups (a list of strings).
    #[serde(default = "groups_claim_default")]
    pub groups_claim: String,
    /// `jit`: a user's first sign-in creates them (and each sign-in updates their role);
    /// `scim`: only users provisioned over SCIM may sign in.
    #[serde(default)]
    pub provisioning: Provisioning,
}

/// Who creates the users that sign in with SSO.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provisioning {
    /// Created or updated at sign-in from the ID token.
    #[default]
    Jit,
    /// Created, updated and deactivated by the identity provider over SCIM only.
    Scim,
}

fn display_name_default() -> String {
    "single sign-on".to_string()
}
fn scopes_default() -> Vec<String> {
    vec!["email".into(), "profile".into(), "groups".into()]
}
fn username_claim_default() -> String {
    "preferred_username".to_string()
}
fn groups_claim_default() -> String {
    "groups".to_string()
}

/// `[roles]` in `cosell.toml`: which identity-provider groups give which role, for SSO claims
/// and SCIM groups alike. The highest role any of the user's groups gives wins.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleMap {
    /// Groups whose members are admins.
    #[serde(default)]
    pub admin: Vec<String>,
    /// Groups whose members are managers.
    #[serde(default)]
    pub manager: Vec<String>,
    /// Groups whose members are viewers.
    #[serde(default)]
    pub viewer: Vec<String>,
    /// The role of a user in none of these groups: `viewer`, `manager`, `admin`, or `none`
    /// (the default: such a user may not sign in).
    #[serde(default = "default_role_default")]
    pub default: String,
}

fn default_role_default() -> String {
    "none".to_string()
}

impl Default for RoleMap {
    fn default() -> Self {
        RoleMap {
            admin: Vec::new(),
            manager: Vec::new(),
            viewer: Vec::new(),
            default: default_role_default(),
        }
    }
}

impl RoleMap {
    /// The role `groups` give, if any.
    pub fn role(&self, groups: &[String]) -> Option<Role> {
        let member = |list: &[String]| groups.iter().any(|g| list.iter().any(|l| l == g));
        if member(&self.admin) {
            Some(Role::Admin)
        } else if member(&self.manager) {
            Some(Role::Manager)
        } else if member(&self.viewer) {
            Some(Role::Viewer)
        } else {
            parse_role(&self.default).ok().flatten()
        }
    }

    /// Checks `default`.
    pub fn validate(&self) -> Result<()> {
        parse_role(&self.default).map(|_| ())
    }
}

fn parse_role(s: &str) -> Result<Option<Role>> {
    Ok(match s {
        "viewer" => Some(Role::Viewer),
        "manager" => Some(Role::Manager),
        "admin" => Some(Role::Admin),
        "none" => None,
        other => {
            anyhow::bail!("roles.default must be viewer, manager, admin or none, not {other:?}")
        }
    })
}

impl OidcConfig {
    /// Checks the issuer URL and names.
    pub fn validate(&self) -> Result<()> {
        let url = url::Url::parse(&self.issuer).context("oidc.issuer is not a URL")?;
        let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
        if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
            anyhow::bail!(
                "oidc.issuer must be an https:// URL (http:// only on loopback), not {:?}",
                self.issuer
            );
        }
        if self.client_id.trim().is_empty() {
            anyhow::bail!("oidc.client_id must not be empty");
        }
        Ok(())
    }
}

/// Why a sign-in with the identity provider failed. The message is what the user sees: it
/// names the problem, never a token, key or internal detail.
#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    /// The provider could not be reached or answered nonsense.
    #[error("the identity provider could not be reached or gave an answer cosell cannot use")]
    Provider(#[source] anyhow::Error),
    /// No pending sign-in matches, or it was started in another browser or has run out.
    #[error("this sign-in was not started in this browser or took too long: start it again")]
    State,
    /// The provider refused (the user cancelled, or is not allowed to use this application).
    #[error("the identity provider refused the sign-in: {0}")]
    Refused(String),
    /// The ID token is not for this application.
    #[error("the identity provider's token is for another application (wrong audience)")]
    Audience,
    /// The ID token comes from another issuer.
    #[error("the token was issued by another identity provider (wrong issuer)")]
    Issuer,
    /// The ID token has expired (or is not valid yet).
    #[error("the identity provider's token has expired: sign in again")]
    Expired,
    /// The nonce does not match the one this sign-in sent.
    #[error("the token does not belong to this sign-in (nonce mismatch)")]
    Nonce,
    /// The signature does not verify, or uses a key or algorithm that is not accepted.
    #[error("the token's signature is not valid")]
    Signature,
    /// A claim cosell needs is missing or malformed.
    #[error("the token lacks a usable {0}")]
    Claim(&'static str),
    /// The user may not sign in here.
    #[error("{0}")]
    Denied(String),
}

/// What the provider's discovery document says (the parts cosell uses).
#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    /// Must equal the configured issuer.
    pub issuer: String,
    /// Where the browser is sent to sign in.
    pub authorization_endpoint: String,
    /// Where the code is exchanged.
    pub token_endpoint: String,
    /// The signing keys.
    pub jwks_uri: String,
    /// RP-initiated logout, when the provider offers it.
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
}

/// A started sign-in, kept until the callback.
#[derive(Debug, Serialize, Deserialize)]
struct Pending {
    nonce: String,
    verifier: String,
    binding_hash: String,
    expires_at_ms: u64,
}

/// Who the provider says signed in.
#[derive(Debug, Clone)]
pub struct Identity {
    /// `sub`: the provider's stable id of the user.
    pub subject: String,
    /// The cosell username (from the username claim, or `email`), normalized.
    pub username: String,
    /// The groups claim.
    pub groups: Vec<String>,
    /// The raw ID token (for `id_token_hint` at sign-out).
    pub id_token: String,
}

/// What validating an ID token needs to know.
#[derive(Debug, Clone)]
pub struct Expect<'a> {
    /// The configured issuer.
    pub issuer: &'a str,
    /// The configured client id.
    pub client_id: &'a str,
    /// The nonce the sign-in sent.
    pub nonce: &'a str,
    /// Now, in seconds since the epoch (`exp`, `nbf`, `iat` are compared with it).
    pub now_s: u64,
}

/// Validates an ID token against `keys`: alg RS256 or ES256 only, a key of `keys` with the
/// token's `kid` (or the only key when the token names none), `iss`, `aud` (and `azp` when
/// several audiences), `exp`, `iat`, `nbf`, and `nonce`. Returns the claims.
pub fn validate_id_token(
    token: &str,
    keys: &JwkSet,
    expect: &Expect,
) -> Result<serde_json::Map<String, Value>, SsoError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| SsoError::Signature)?;
    if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
        return Err(SsoError::Signature);
    }
    let jwk = match &header.kid {
        Some(kid) => keys.find(kid),
        None if keys.keys.len() == 1 => keys.keys.first(),
        None => None,
    }
    .ok_or(SsoError::Signature)?;
    let key = DecodingKey::from_jwk(jwk).map_err(|_| SsoError::Signature)?;
    let mut validation = Validation::new(header.alg);
    // Times are checked below against the caller's clock.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.set_issuer(&[expect.issuer]);
    validation.set_audience(&[expect.client_id]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let data = jsonwebtoken::decode::<serde_json::Map<String, Value>>(token, &key, &validation)
        .map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            match e.kind() {
                K::ExpiredSignature | K::ImmatureSignature => SsoError::Expired,
                K::InvalidIssuer => SsoError::Issuer,
                K::InvalidAudience => SsoError::Audience,
                K::MissingRequiredClaim(c) if c == "aud" => SsoError::Audience,
                K::MissingRequiredClaim(c) if c == "iss" => SsoError::Issuer,
                K::MissingRequiredClaim(c) if c == "exp" => SsoError::Expired,
                K::MissingRequiredClaim(_) => SsoError::Claim("subject"),
                _ => SsoError::Signature,
            }
        })?;
    let claims = data.claims;
    // Several audiences: the authorized party must be this client (OIDC Core 3.1.3.7).
    if let Some(Value::Array(auds)) = claims.get("aud") {
        if auds.len() > 1 && claims.get("azp").and_then(Value::as_str) != Some(expect.client_id) {
            return Err(SsoError::Audience);
        }
    }
    let now_s = expect.now_s;
    match claims.get("exp").and_then(Value::as_u64) {
        Some(exp) if now_s <= exp + LEEWAY_S => {}
        _ => return Err(SsoError::Expired),
    }
    match claims.get("nbf") {
        None => {}
        Some(nbf) => match nbf.as_u64() {
            Some(nbf) if nbf <= now_s + LEEWAY_S => {}
            _ => return Err(SsoError::Expired),
        },
    }
    match claims.get("iat").and_then(Value::as_u64) {
        Some(iat) if iat <= now_s + LEEWAY_S => {}
        _ => return Err(SsoError::Claim("issue time (iat)")),
    }
    let nonce = claims.get("nonce").and_then(Value::as_str);
    if nonce.is_none_or(|n| !constant_time_eq(n, expect.nonce)) {
        return Err(SsoError::Nonce);
    }
    Ok(claims)
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    crate::domain::auth::digests_equal(a, b)
}

/// The configured provider: settings, secret, and cached discovery and keys.
pub struct Provider {
    /// The settings.
    pub config: OidcConfig,
    /// Where the provider sends the browser back: `PUBLIC_URL/auth/oidc/callback`.
    pub redirect_uri: String,
    /// Where the provider sends the browser after sign-out: `PUBLIC_URL/`.
    pub post_logout_uri: String,
    secret: Option<zeroize::Zeroizing<String>>,
    agent: ureq::Agent,
    discovery: Mutex<Option<Discovery>>,
    keys: Mutex<JwkSet>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("issuer", &self.config.issuer)
            .field("client_id", &self.config.client_id)
            .finish_non_exhaustive()
    }
}

/// How the web UI may be signed in to: the `local_passwords` setting and the SSO provider.
#[derive(Debug)]
pub struct SignInSettings {
    /// Whether username + password sign-in works (API tokens always do).
    pub local_passwords: bool,
    /// The OIDC provider, when `[oidc]` is configured.
    pub oidc: Option<Provider>,
    /// Which groups give which role.
    pub roles: RoleMap,
    /// The `public_url` setting: the node's address as browsers and SCIM clients reach it.
    pub public_url: Option<String>,
}

impl Default for SignInSettings {
    fn default() -> Self {
        SignInSettings {
            local_passwords: true,
            oidc: None,
            roles: RoleMap::default(),
            public_url: None,
        }
    }
}

fn random_b64(bytes: usize) -> String {
    let mut raw = zeroize::Zeroizing::new(vec![0u8; bytes]);
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, raw.as_mut_slice());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw.as_slice())
}

/// The PKCE S256 challenge of `verifier` (RFC 7636 4.2).
pub fn pkce_challenge(verifier: &str) -> String {
    use sha2::{Digest, Sha256};
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

impl Provider {
    /// The provider of `config`; `secret` is the client secret file's content; `public_url` is
    /// the web UI's address as browsers reach it.
    pub fn new(config: OidcConfig, secret: Option<String>, public_url: &str) -> Provider {
        let base = public_url.trim_end_matches('/');
        Provider {
            redirect_uri: format!("{base}/auth/oidc/callback"),
            post_logout_uri: format!("{base}/"),
            config,
            secret: secret.map(|s| zeroize::Zeroizing::new(s.trim().to_string())),
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(10))
                .redirects(0)
                .build(),
            discovery: Mutex::new(None),
            keys: Mutex::new(JwkSet { keys: Vec::new() }),
        }
    }

    /// The discovery document (fetched once, then cached).
    pub fn discovery(&self) -> Result<Discovery> {
        if let Some(d) = self.discovery.lock().map_err(|_| anyhow!("lock"))?.clone() {
            return Ok(d);
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.config.issuer.trim_end_matches('/')
        );
        let d: Discovery = self
            .agent
            .get(&url)
            .call()
            .with_context(|| format!("GET {url}"))?
            .into_json()
            .with_context(|| format!("the discovery document at {url}"))?;
        if d.issuer != self.config.issuer {
            anyhow::bail!(
                "the discovery document names issuer {:?}, cosell.toml says {:?}",
                d.issuer,
                self.config.issuer
            );
        }
        *self.discovery.lock().map_err(|_| anyhow!("lock"))? = Some(d.clone());
        Ok(d)
    }

    fn fetch_keys(&self, d: &Discovery) -> Result<JwkSet> {
        self.agent
            .get(&d.jwks_uri)
            .call()
            .with_context(|| format!("GET {}", d.jwks_uri))?
            .into_json()
            .with_context(|| format!("the key set at {}", d.jwks_uri))
    }

    /// The cached keys, fetched again when they lack `kid` (the provider rotated its keys).
    /// Tokens only come from the provider's token endpoint, in exchange for a code, so an
    /// unknown `kid` costs at most one fetch per sign-in.
    fn keys_for(&self, d: &Discovery, kid: Option<&str>) -> Result<JwkSet> {
        let mut cached = self.keys.lock().map_err(|_| anyhow!("lock"))?;
        let has = match kid {
            Some(k) => cached.find(k).is_some(),
            None => !cached.keys.is_empty(),
        };
        if !has {
            *cached = self.fetch_keys(d)?;
        }
        Ok(cached.clone())
    }

    /// Starts a sign-in: stores the pending state and returns the provider URL to send the
    /// browser to and the binding value for [`BINDING_COOKIE`].
    pub fn begin(&self, store: &Store, now_ms: u64) -> Result<(String, String), SsoError> {
        let d = self.discovery().map_err(SsoError::Provider)?;
        let (state, nonce, verifier, binding) = (
            random_b64(32),
            random_b64(32),
            random_b64(48),
            random_b64(32),
        );
        let pending = Pending {
            nonce: nonce.clone(),
            verifier: verifier.clone(),
            binding_hash: token_hash(&binding),
            expires_at_ms: now_ms + PENDING_LIFETIME_MS,
        };
        store_pending(store, &state, &pending, now_ms).map_err(SsoError::Provider)?;
        let mut url = url::Url::parse(&d.authorization_endpoint)
            .map_err(|e| SsoError::Provider(anyhow!("authorization_endpoint: {e}")))?;
        let scope = std::iter::once("openid")
            .chain(self.config.scopes.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ");
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.config.client_id)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("scope", &scope)
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &pkce_challenge(&verifier))
            .append_pair("code_challenge_method", "S256");
        Ok((url.to_string(), binding))
    }

    /// Finishes a sign-in at the callback: checks state and browser binding, exchanges the
    /// code (with the PKCE verifier), validates the ID token and returns who signed in.
    pub fn finish(
        &self,
        store: &Store,
        state: &str,
        code: &str,
        binding: Option<&str>,
        now_ms: u64,
    ) -> Result<Identity, SsoError> {
        let pending = take_pending(store, state)
            .map_err(SsoError::Provider)?
            .ok_or(SsoError::State)?;
        let bound = binding.is_some_and(|b| {
            crate::domain::auth::digests_equal(&token_hash(b), &pending.binding_hash)
        });
        if !bound || pending.expires_at_ms <= now_ms {
            return Err(SsoError::State);
        }
        let d = self.discovery().map_err(SsoError::Provider)?;
        let mut request = self.agent.post(&d.token_endpoint);
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.redirect_uri.as_str()),
            ("code_verifier", pending.verifier.as_str()),
        ];
        match &self.secret {
            Some(secret) => {
                // RFC 6749 2.3.1: both form-urlencoded before Basic.
                let enc = |s: &str| -> String {
                    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
                };
                let pair = format!("{}:{}", enc(&self.config.client_id), enc(secret));
                let basic = base64::engine::general_purpose::STANDARD.encode(pair);
                request = request.set("Authorization", &format!("Basic {basic}"));
            }
            None => form.push(("client_id", self.config.client_id.as_str())),
        }
        let answer: Value = match request.send_form(&form) {
            Ok(r) => r
                .into_json()
                .map_err(|e| SsoError::Provider(anyhow!("token answer: {e}")))?,
            Err(ureq::Error::Status(status, r)) => {
                let body: Value = r.into_json().unwrap_or_default();
                let error = body["error"]
                    .as_str()
                    .unwrap_or("unknown error")
                    .to_string();
                tracing::warn!(status, %error, "the identity provider refused the code");
                return Err(SsoError::Refused(error));
            }
            Err(e) => return Err(SsoError::Provider(anyhow!(e))),
        };
        let token = answer["id_token"]
            .as_str()
            .ok_or(SsoError::Claim("ID token"))?;
        let kid = jsonwebtoken::decode_header(token)
            .map_err(|_| SsoError::Signature)?
            .kid;
        let keys = self
            .keys_for(&d, kid.as_deref())
            .map_err(SsoError::Provider)?;
        let expect = Expect {
            issuer: &self.config.issuer,
            client_id: &self.config.client_id,
            nonce: &pending.nonce,
            now_s: now_ms / 1000,
        };
        let claims = validate_id_token(token, &keys, &expect)?;
        identity(&self.config, claims, token)
    }

    /// Where to send the browser to end the provider's session too, if it offers that.
    pub fn logout_url(&self, id_token: Option<&str>) -> Option<String> {
        let d = self.discovery().ok()?;
        let mut url = url::Url::parse(d.end_session_endpoint.as_deref()?).ok()?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("client_id", &self.config.client_id)
                .append_pair("post_logout_redirect_uri", &self.post_logout_uri);
            if let Some(t) = id_token {
                q.append_pair("id_token_hint", t);
            }
        }
        Some(url.to_string())
    }
}

/// The identity in validated `claims`.
fn identity(
    config: &OidcConfig,
    claims: serde_json::Map<String, Value>,
    token: &str,
) -> Result<Identity, SsoError> {
    let subject = claims
        .get("sub")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or(SsoError::Claim("subject"))?
        .to_string();
    let name = claims
        .get(&config.username_claim)
        .or_else(|| claims.get("email"))
        .and_then(Value::as_str)
        .ok_or(SsoError::Claim("username (preferred_username or email)"))?;
    let username = crate::domain::users::validate_username(name)
        .map_err(|_| SsoError::Claim("username (letters, digits, . - _ @)"))?;
    let groups = match claims.get(&config.groups_claim) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        Some(Value::String(one)) => vec![one.clone()],
        _ => Vec::new(),
    };
    Ok(Identity {
        subject,
        username,
        groups,
        id_token: token.to_string(),
    })
}

fn store_pending(store: &Store, state: &str, pending: &Pending, now_ms: u64) -> Result<()> {
    let txn = store.write()?;
    {
        let mut table = txn.open_table(OIDC_PENDING)?;
        // Sign-ins never finished: drop them as new ones start.
        let stale: Vec<String> = table
            .range::<&str>(..)?
            .filter_map(|e| e.ok())
            .filter(|(_, v)| {
                serde_json::from_slice::<Pending>(v.value())
                    .map_or(true, |p| p.expires_at_ms <= now_ms)
            })
            .map(|(k, _)| k.value().to_string())
            .collect();
        for k in stale {
            table.remove(k.as_str())?;
        }
        table.insert(
            token_hash(state).as_str(),
            serde_json::to_vec(pending)?.as_slice(),
        )?;
    }
    txn.commit()?;
    Ok(())
}

/// Removes and returns the pending sign-in of `state` (each state works once).
fn take_pending(store: &Store, state: &str) -> Result<Option<Pending>> {
    let txn = store.write()?;
    let found = {
        let mut table = txn.open_table(OIDC_PENDING)?;
        let removed = table.remove(token_hash(state).as_str())?;
        match removed {
            Some(v) => Some(serde_json::from_slice(v.value())?),
            None => None,
        }
    };
    txn.commit()?;
    Ok(found)
}

#[cfg(test)]
#[path = "oidc_tests.rs"]
mod tests;
