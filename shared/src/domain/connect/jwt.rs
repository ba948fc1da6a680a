//! Verification of the JWTs Atlassian sends: HS256 request/context tokens signed with the tenant's
//! shared secret, and RS256 signed installs whose key comes from the install-keys service.
//!
//! Algorithms are pinned per token class. Every failure is `Error::Unauthenticated` with a precise
//! reason for the log; callers answer one uniform 401.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::qsh::CONTEXT_QSH;
use crate::kernel::error::{Error, Result};
use crate::ports::keys::InstallKeys;

/// Clock skew tolerated on `exp`/`iat`, as Atlassian's own libraries allow.
pub const LEEWAY_SECS: u64 = 3;
/// Longest token accepted at all; Atlassian's are well under 2 KB.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;
/// Longest life (`exp - iat`) of a signed install accepted. Atlassian's live 3 minutes; a longer
/// one would widen the window in which a seen token could be replayed (`install_replay` refuses a
/// second use with another body, and remembers each token this long at most).
pub const MAX_INSTALL_TOKEN_LIFETIME_SECS: i64 = 300;
/// Longest `kid` accepted before it is put into the install-keys URL.
pub const MAX_KID_LEN: usize = 128;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ConnectClaims {
    pub iss: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qsh: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    /// The audience a signed install is checked against (and its region read from).
    pub fn first(&self) -> Option<&str> {
        match self {
            Self::One(a) => Some(a),
            Self::Many(list) => list.first().map(String::as_str),
        }
    }
}

/// Which `qsh` a route accepts.
#[derive(Debug, Clone, Copy)]
pub enum QshRule<'a> {
    /// Server-to-server calls: the token must be bound to this exact request.
    Request(&'a str),
    /// Browser routes: a context token (`qsh = context-qsh`) or a token bound to this request.
    ContextOrRequest(&'a str),
}

/// How a verified token was bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    Request,
    Context,
    SignedInstall,
    /// A Forge Invocation Token (`forge::fit`), not a Connect JWT.
    ForgeInvocation,
}

/// A token's claims read before its signature is checked: `iss` names whose secret verifies
/// it, and the claims are parsed this once for the check ([`Unverified::verify_hs256`]).
#[derive(Debug)]
pub struct Unverified {
    claims: ConnectClaims,
}

impl Unverified {
    /// Reads the claims without verifying anything.
    pub fn read(token: &str) -> Result<Self> {
        check_shape(token)?;
        let payload = token.split('.').nth(1).ok_or_else(|| Error::unauthenticated("token has no payload"))?;
        let bytes =
            URL_SAFE_NO_PAD.decode(payload).map_err(|_| Error::unauthenticated("token payload is not base64url"))?;
        let claims: ConnectClaims = serde_json::from_slice(&bytes)
            .map_err(|e| Error::unauthenticated(format!("token payload is not Connect claims: {e}")))?;
        if claims.iss.is_empty() {
            return Err(Error::unauthenticated("token has no iss"));
        }
        Ok(Self { claims })
    }

    pub fn issuer(&self) -> &str {
        &self.claims.iss
    }

    /// [`verify_hs256`] of `token` (whose claims these are), the claims parsed once: only the
    /// header is decoded and the signature checked here.
    pub fn verify_hs256(
        &self,
        token: &str,
        shared_secret: &str,
        rule: QshRule<'_>,
        now: Option<i64>,
    ) -> Result<TokenKind> {
        let header = header_of(token)?;
        if header.alg != Algorithm::HS256 {
            return Err(Error::unauthenticated(format!("algorithm {:?} where HS256 is required", header.alg)));
        }
        let (message, signature) =
            token.rsplit_once('.').ok_or_else(|| Error::unauthenticated("token has no signature"))?;
        let key = DecodingKey::from_secret(shared_secret.as_bytes());
        match jsonwebtoken::crypto::verify(signature, message.as_bytes(), &key, Algorithm::HS256) {
            Ok(true) => {}
            Ok(false) => return Err(Error::unauthenticated("HS256 verification failed: InvalidSignature")),
            Err(e) => return Err(Error::unauthenticated(format!("HS256 verification failed: {e}"))),
        }
        check_expiry(&self.claims, now)?;
        let qsh = self.claims.qsh.as_deref().ok_or_else(|| Error::unauthenticated("token has no qsh"))?;
        match rule {
            QshRule::Request(expected) if qsh == expected => Ok(TokenKind::Request),
            QshRule::Request(_) if qsh == CONTEXT_QSH => {
                Err(Error::unauthenticated("context token on a request-bound route"))
            }
            QshRule::ContextOrRequest(_) if qsh == CONTEXT_QSH => Ok(TokenKind::Context),
            QshRule::ContextOrRequest(expected) if qsh == expected => Ok(TokenKind::Request),
            _ => Err(Error::unauthenticated("qsh does not match the request")),
        }
    }

    /// The claims, for a caller whose [`Unverified::verify_hs256`] succeeded.
    pub fn into_verified(self) -> ConnectClaims {
        self.claims
    }
}

/// Reads `iss` without verifying anything, to find whose secret verifies the token.
pub fn unverified_issuer(token: &str) -> Result<String> {
    Unverified::read(token).map(|unverified| unverified.claims.iss)
}

fn check_shape(token: &str) -> Result<()> {
    if token.is_empty() || token.len() > MAX_TOKEN_LEN || token.split('.').count() != 3 {
        return Err(Error::unauthenticated("token is not a three-part JWT of bounded size"));
    }
    Ok(())
}

fn header_of(token: &str) -> Result<Header> {
    jsonwebtoken::decode_header(token).map_err(|e| Error::unauthenticated(format!("bad token header: {e}")))
}

/// Signature and algorithm only: expiry is checked against Canopy's clock (see [`check_expiry`]).
fn validation(alg: Algorithm) -> Validation {
    let mut v = Validation::new(alg);
    v.validate_aud = false;
    v.validate_exp = false;
    v.set_required_spec_claims(&["iss"]);
    v
}

/// `exp` is required and must be after `now` (unix seconds), give or take [`LEEWAY_SECS`]; `iat`
/// is required and may not be after `now` beyond the same leeway (a token "issued" in the future
/// is a forged or mis-clocked one, and would otherwise stretch its own life).
/// `None` skips the check: only for Atlassian's long-expired test vectors.
fn check_expiry(claims: &ConnectClaims, now: Option<i64>) -> Result<()> {
    let Some(now) = now else { return Ok(()) };
    let exp = claims.exp.ok_or_else(|| Error::unauthenticated("token has no exp"))?;
    if now >= exp.saturating_add(LEEWAY_SECS as i64) {
        return Err(Error::unauthenticated("token expired"));
    }
    let iat = claims.iat.ok_or_else(|| Error::unauthenticated("token has no iat"))?;
    if iat > now.saturating_add(LEEWAY_SECS as i64) {
        return Err(Error::unauthenticated("token issued in the future (iat beyond the leeway)"));
    }
    Ok(())
}

/// Verifies an HS256 token signed with `shared_secret` and checks its qsh against `rule`.
/// `now` is unix seconds (`None` only for Atlassian's long-expired test vectors).
pub fn verify_hs256(
    token: &str,
    shared_secret: &str,
    rule: QshRule<'_>,
    now: Option<i64>,
) -> Result<(ConnectClaims, TokenKind)> {
    let unverified = Unverified::read(token)?;
    let kind = unverified.verify_hs256(token, shared_secret, rule, now)?;
    Ok((unverified.into_verified(), kind))
}

/// What a signed install must match besides its signature.
pub struct InstallExpectation<'a> {
    /// The app's base URLs (home and regional); `aud[0]` must equal one, trailing `/` ignored.
    pub app_base_urls: &'a [String],
    /// The qsh of this lifecycle request.
    pub qsh: &'a str,
    /// Unix seconds.
    pub now: i64,
}

/// Verifies an RS256 signed-install token (CONNECT.md §3): pinned algorithm, `kid` charset, key
/// from the install-keys service, `exp`, `iat` and a life of at most
/// [`MAX_INSTALL_TOKEN_LIFETIME_SECS`], `aud`, `qsh`. The caller checks `iss` against the body and
/// claims the token (`install_replay`).
pub async fn verify_signed_install(
    token: &str,
    keys: &dyn InstallKeys,
    expect: &InstallExpectation<'_>,
) -> Result<ConnectClaims> {
    check_shape(token)?;
    let header = header_of(token)?;
    if header.alg != Algorithm::RS256 {
        return Err(Error::unauthenticated(format!("algorithm {:?} where RS256 is required", header.alg)));
    }
    let kid = header.kid.ok_or_else(|| Error::unauthenticated("signed install without kid"))?;
    if !is_safe_kid(&kid) {
        return Err(Error::unauthenticated("kid has characters outside the allowed set"));
    }
    let key = keys
        .public_key(&kid)
        .await?
        .ok_or_else(|| Error::unauthenticated(format!("install-keys service does not know kid {kid}")))?;
    let data = jsonwebtoken::decode::<ConnectClaims>(token, &key, &validation(Algorithm::RS256))
        .map_err(|e| Error::unauthenticated(format!("RS256 verification failed: {e}")))?;
    let claims = data.claims;
    check_expiry(&claims, Some(expect.now))?;
    check_install_lifetime(&claims)?;
    let aud = claims
        .aud
        .as_ref()
        .and_then(Audience::first)
        .ok_or_else(|| Error::unauthenticated("signed install without aud"))?;
    if !expect.app_base_urls.iter().any(|base| normalise_url(base) == normalise_url(aud)) {
        return Err(Error::unauthenticated(format!("aud {aud} is not this app")));
    }
    match claims.qsh.as_deref() {
        Some(qsh) if qsh == expect.qsh => Ok(claims),
        Some(_) => Err(Error::unauthenticated("signed install qsh does not match the request")),
        None => Err(Error::unauthenticated("signed install without qsh")),
    }
}

/// `exp - iat` of a signed install within [`MAX_INSTALL_TOKEN_LIFETIME_SECS`] (both are required
/// by [`check_expiry`]).
fn check_install_lifetime(claims: &ConnectClaims) -> Result<()> {
    let (Some(iat), Some(exp)) = (claims.iat, claims.exp) else {
        return Err(Error::unauthenticated("signed install without iat or exp"));
    };
    if exp.saturating_sub(iat) > MAX_INSTALL_TOKEN_LIFETIME_SECS {
        return Err(Error::unauthenticated(format!(
            "signed install lives {} s, longer than {MAX_INSTALL_TOKEN_LIFETIME_SECS} s",
            exp.saturating_sub(iat)
        )));
    }
    Ok(())
}

/// `kid`s go into a URL path: letters, digits, `-`, `_`, `.`, and no `..`.
pub fn is_safe_kid(kid: &str) -> bool {
    !kid.is_empty()
        && kid.len() <= MAX_KID_LEN
        && !kid.contains("..")
        && kid.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn normalise_url(url: &str) -> &str {
    url.trim_end_matches('/')
}

/// Signs claims as HS256 (context tokens for the dev tenant, outbound app tokens, tests).
pub fn sign_hs256(claims: &ConnectClaims, shared_secret: &str) -> Result<String> {
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(shared_secret.as_bytes()))
        .map_err(Error::internal)
}

/// Signs claims as an RS256 signed install with `kid` (the local dev install key, tests).
pub fn sign_rs256(claims: &ConnectClaims, kid: &str, private_key_pem: &[u8]) -> Result<String> {
    crate::kernel::jwt::sign_rs256(claims, kid, private_key_pem)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(qsh: &str, exp: i64) -> ConnectClaims {
        ConnectClaims {
            iss: "t1".into(),
            sub: None,
            qsh: Some(qsh.into()),
            aud: None,
            iat: Some(0),
            exp: Some(exp),
            context: None,
        }
    }

    const NOW: i64 = 1_800_000_000;

    fn far_future() -> i64 {
        NOW + 60
    }

    #[test]
    fn context_token_is_refused_where_a_request_qsh_is_required() {
        let token = sign_hs256(&claims(CONTEXT_QSH, far_future()), "s").unwrap();
        assert!(verify_hs256(&token, "s", QshRule::Request("abc"), Some(NOW)).is_err());
        let (_, kind) = verify_hs256(&token, "s", QshRule::ContextOrRequest("abc"), Some(NOW)).unwrap();
        assert_eq!(kind, TokenKind::Context);
    }

    #[test]
    fn wrong_secret_wrong_qsh_and_expiry_are_refused() {
        let token = sign_hs256(&claims("abc", far_future()), "s").unwrap();
        assert!(verify_hs256(&token, "s", QshRule::Request("abc"), Some(NOW)).is_ok());
        assert!(verify_hs256(&token, "other", QshRule::Request("abc"), Some(NOW)).is_err());
        assert!(verify_hs256(&token, "s", QshRule::Request("abd"), Some(NOW)).is_err());
        let expired = sign_hs256(&claims("abc", NOW - LEEWAY_SECS as i64), "s").unwrap();
        let within_leeway = sign_hs256(&claims("abc", NOW - LEEWAY_SECS as i64 + 1), "s").unwrap();
        assert!(verify_hs256(&within_leeway, "s", QshRule::Request("abc"), Some(NOW)).is_ok());
        let no_exp = ConnectClaims { exp: None, ..claims("abc", 0) };
        assert!(verify_hs256(&sign_hs256(&no_exp, "s").unwrap(), "s", QshRule::Request("abc"), Some(NOW)).is_err());
        assert!(verify_hs256(&expired, "s", QshRule::Request("abc"), Some(NOW)).is_err());
    }

    #[test]
    fn iat_is_required_and_not_in_the_future_beyond_the_leeway() {
        let leeway = LEEWAY_SECS as i64;
        let issued = |iat: Option<i64>| {
            let token = sign_hs256(&ConnectClaims { iat, ..claims("abc", NOW + 600) }, "s").unwrap();
            verify_hs256(&token, "s", QshRule::Request("abc"), Some(NOW))
        };
        assert!(issued(Some(NOW)).is_ok());
        assert!(issued(Some(NOW + leeway)).is_ok(), "within the leeway");
        assert!(issued(Some(NOW + leeway + 1)).is_err(), "beyond the leeway");
        assert!(issued(Some(NOW + 300)).is_err());
        assert!(issued(None).is_err(), "no iat");
    }

    #[test]
    fn a_signed_install_may_live_at_most_the_bound() {
        let lives = |secs: i64| ConnectClaims { iat: Some(NOW), exp: Some(NOW + secs), ..claims("abc", 0) };
        assert!(check_install_lifetime(&lives(180)).is_ok(), "Atlassian's three minutes");
        assert!(check_install_lifetime(&lives(MAX_INSTALL_TOKEN_LIFETIME_SECS)).is_ok(), "at the bound");
        assert!(check_install_lifetime(&lives(MAX_INSTALL_TOKEN_LIFETIME_SECS + 1)).is_err(), "over it");
        assert!(check_install_lifetime(&lives(365 * 86_400)).is_err(), "a year");
        assert!(check_install_lifetime(&ConnectClaims { iat: None, ..lives(60) }).is_err());
    }

    #[test]
    fn unsigned_and_garbled_tokens_are_refused() {
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims("abc", far_future())).unwrap());
        assert!(verify_hs256(&format!("{none_header}.{body}."), "s", QshRule::Request("abc"), Some(NOW)).is_err());
        assert!(verify_hs256("a.b", "s", QshRule::Request("abc"), Some(NOW)).is_err());
        assert!(verify_hs256("", "s", QshRule::Request("abc"), Some(NOW)).is_err());
        assert!(unverified_issuer("x.%%%.y").is_err());
    }

    #[test]
    fn kid_charset_is_enforced() {
        assert!(is_safe_kid("a1b2-c3_d4.pem"));
        assert!(!is_safe_kid("../etc/passwd"));
        assert!(!is_safe_kid("a/b"));
        assert!(!is_safe_kid("a?b"));
        assert!(!is_safe_kid(""));
    }
}
