//! Verification of Forge Invocation Tokens (CONNECT.md §6): RS256 only, key by `kid` from the
//! Forge JWKS, `iss = forge/invocation-token`, `aud` = this app's ARI, `app.environment.type` =
//! the configured environment, `exp`/`nbf` against Canopy's clock with [`LEEWAY_SECS`]. What a verified token vouches for is an [`Invocation`].
//!
//! Every failure is `Error::Unauthenticated` with a precise reason for the log (callers answer the
//! uniform 401), except an unreachable JWKS, which is `Unavailable` (503).

use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::kernel::error::{Error, Result};
use crate::kernel::ids::is_plausible_cloud_id;
use crate::ports::keys::{ForgeKeys, MAX_FORGE_KID_LEN as MAX_KID_LEN};

pub const ISSUER: &str = "forge/invocation-token";
/// `aud` is the app's ARI: this prefix and the app id.
/// Clock skew tolerated on `exp` and `nbf`: FITs live about 25 s, so the leeway stays small.
pub const LEEWAY_SECS: i64 = 5;
/// Longest token accepted. A FIT carries its invocation context and can reach several KB
/// (Atlassian's RFC-138 is about exactly that); API Gateway caps all headers at 10 KB anyway.
pub const MAX_FIT_LEN: usize = 16 * 1024;
/// Bounds on the claims Canopy keeps: accountIds (~130), installation ARIs and module keys.
pub const MAX_ACCOUNT_ID_LEN: usize = 128;
pub const MAX_CLAIM_LEN: usize = 256;

/// What a verified FIT vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The site (`context.cloudId`): what maps the invocation to its tenant.
    pub cloud_id: String,
    /// `app.installationId` (an ARI). Recorded, never keyed on: it can change without an event.
    pub installation_id: Option<String>,
    /// The acting user: `principal`, else `context.accountId`; `None` for events and anonymous users.
    pub account_id: Option<String>,
    /// `context.moduleKey`, else `app.module.key`.
    pub module_key: Option<String>,
    /// `context.siteUrl`, when Atlassian sends it.
    pub site_url: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    iss: String,
    aud: Value,
    exp: Option<i64>,
    nbf: Option<i64>,
    principal: Option<String>,
    app: Option<AppClaim>,
    context: Option<ContextClaim>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AppClaim {
    installation_id: Option<String>,
    module: Option<ModuleClaim>,
    environment: Option<EnvironmentClaim>,
}

/// `app.environment`: `type` is `DEVELOPMENT`, `STAGING` or `PRODUCTION`.
#[derive(Deserialize)]
struct EnvironmentClaim {
    #[serde(rename = "type")]
    kind: Option<String>,
}

#[derive(Deserialize)]
struct ModuleClaim {
    key: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContextClaim {
    cloud_id: Option<String>,
    module_key: Option<String>,
    account_id: Option<String>,
    site_url: Option<String>,
}

/// What a FIT must match besides its signature.
pub struct FitExpectation<'a> {
    /// This app's ARI ([`crate::kernel::config::app_ari`]).
    pub audience: &'a str,
    /// The Forge environment this stack serves (`AppConfig::forge_environment`, lower case). The
    /// same app id has a development, a staging and a production environment; their tokens are
    /// all signed by Forge with the same keys and the same `aud`, so only this claim tells a
    /// developer's install from a customer's.
    pub environment: &'a str,
    /// Unix seconds, from the `Clock` port.
    pub now: i64,
}

fn reject(reason: impl Into<String>) -> Error {
    Error::unauthenticated(format!("FIT: {}", reason.into()))
}

/// Verifies a FIT and answers the invocation it vouches for.
pub async fn verify(token: &str, keys: &dyn ForgeKeys, expect: &FitExpectation<'_>) -> Result<Invocation> {
    if token.is_empty() || token.len() > MAX_FIT_LEN || token.split('.').count() != 3 {
        return Err(reject("not a three-part JWT of bounded size"));
    }
    let header = jsonwebtoken::decode_header(token).map_err(|e| reject(format!("bad header: {e}")))?;
    if header.alg != Algorithm::RS256 {
        return Err(reject(format!("algorithm {:?} where RS256 is required", header.alg)));
    }
    let kid = header.kid.filter(|k| !k.is_empty() && k.len() <= MAX_KID_LEN).ok_or_else(|| reject("no usable kid"))?;
    let key = keys.key(&kid).await?.ok_or_else(|| reject(format!("the Forge JWKS has no kid {kid}")))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
        .map_err(|e| reject(format!("RS256 verification failed: {e}")))?
        .claims;

    if claims.iss != ISSUER {
        return Err(reject(format!("iss {} is not {ISSUER}", claims.iss)));
    }
    let audience_ok = match &claims.aud {
        Value::String(aud) => aud == expect.audience,
        Value::Array(list) => list.iter().any(|a| a.as_str() == Some(expect.audience)),
        _ => false,
    };
    if !audience_ok {
        return Err(reject(format!("aud {} is not this app", claims.aud)));
    }
    let exp = claims.exp.ok_or_else(|| reject("no exp"))?;
    if expect.now >= exp.saturating_add(LEEWAY_SECS) {
        return Err(reject("expired"));
    }
    if let Some(nbf) = claims.nbf
        && expect.now.saturating_add(LEEWAY_SECS) < nbf
    {
        return Err(reject("not valid yet (nbf in the future)"));
    }

    let context = claims.context;
    let (cloud_id, context_module, context_account, site_url) = match context {
        Some(c) => (c.cloud_id, c.module_key, c.account_id, c.site_url),
        None => (None, None, None, None),
    };
    let cloud_id = cloud_id.ok_or_else(|| reject("no context.cloudId"))?;
    if !is_plausible_cloud_id(&cloud_id) {
        return Err(reject("context.cloudId is not a cloud id"));
    }
    let account_id = claims.principal.or(context_account).filter(|a| !a.is_empty());
    if account_id.as_deref().is_some_and(|a| a.len() > MAX_ACCOUNT_ID_LEN || a.chars().any(char::is_control)) {
        return Err(reject("principal is not an accountId"));
    }
    let (installation_id, app_module, environment) = match claims.app {
        Some(app) => (app.installation_id, app.module.and_then(|m| m.key), app.environment.and_then(|e| e.kind)),
        None => (None, None, None),
    };
    let environment = environment.ok_or_else(|| reject("no app.environment.type"))?;
    if !environment.eq_ignore_ascii_case(expect.environment) {
        return Err(reject(format!("app.environment {environment} is not {}", expect.environment)));
    }
    let bounded = |v: Option<String>| v.filter(|s| !s.is_empty() && s.len() <= MAX_CLAIM_LEN);
    Ok(Invocation {
        cloud_id,
        installation_id: bounded(installation_id),
        account_id,
        module_key: bounded(context_module.or(app_module)),
        site_url: bounded(site_url).filter(|u| u.starts_with("https://") || u.starts_with("http://")),
    })
}

/// Claims of a FIT as Forge sends them (CONNECT.md §6), for the local server's dev tokens and
/// for tests. `ttl_secs` after `iat` it expires; it is valid from `iat`. Its environment is
/// production ([`set_environment`] changes it).
pub fn invocation_claims(audience: &str, invocation: &Invocation, iat: i64, ttl_secs: i64) -> Value {
    json!({
        "iss": ISSUER,
        "aud": audience,
        "iat": iat,
        "nbf": iat,
        "exp": iat.saturating_add(ttl_secs),
        "jti": format!("canopy-{iat}-{}", invocation.cloud_id),
        "principal": invocation.account_id,
        "app": {
            "id": audience,
            "installationId": invocation.installation_id,
            "module": {"key": invocation.module_key},
            "environment": {"type": "PRODUCTION", "id": "ari:cloud:ecosystem::environment/canopy-dev"},
        },
        "context": {
            "cloudId": invocation.cloud_id,
            "moduleKey": invocation.module_key,
            "accountId": invocation.account_id,
            "siteUrl": invocation.site_url,
        },
    })
}

/// Sets the `app.environment.type` of [`invocation_claims`] (upper case, as Forge sends it).
pub fn set_environment(claims: &mut Value, environment: &str) {
    claims["app"]["environment"]["type"] = json!(environment.to_ascii_uppercase());
}

/// Signs FIT claims with RS256 and `kid` (the committed dev Forge key, tests).
pub fn sign(claims: &Value, kid: &str, private_key_pem: &[u8]) -> Result<String> {
    crate::kernel::jwt::sign_rs256(claims, kid, private_key_pem)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::forge_keys::StaticForgeKeys;
    use crate::kernel::config::app_ari;
    use jsonwebtoken::{EncodingKey, Header};

    const KID: &str = "forge/invocation-token/canopy-dev";
    const PRIVATE: &[u8] = include_bytes!("../../../../dev/forge-key.pem");
    const JWKS: &[u8] = include_bytes!("../../../../dev/forge-jwks.json");
    const NOW: i64 = 1_800_000_000;
    const AUD: &str = "ari:cloud:ecosystem::app/0b2f-app";
    const ENV: &str = "production";

    fn invocation() -> Invocation {
        Invocation {
            cloud_id: "4869c4ef-cb0d-4108-8243-8929ac7cc1fa".into(),
            installation_id: Some("ari:cloud:ecosystem::installation/8d5f".into()),
            account_id: Some("557058:abc".into()),
            module_key: Some("canopy-admin".into()),
            site_url: Some("https://x.atlassian.net".into()),
        }
    }

    async fn check(claims: &Value) -> Result<Invocation> {
        let keys = StaticForgeKeys::from_jwks(JWKS).unwrap();
        let token = sign(claims, KID, PRIVATE).unwrap();
        verify(&token, &keys, &FitExpectation { audience: AUD, environment: ENV, now: NOW }).await
    }

    #[tokio::test]
    async fn the_committed_dev_key_set_verifies_tokens_of_the_committed_dev_key() {
        assert_eq!(check(&invocation_claims(AUD, &invocation(), NOW, 25)).await.unwrap(), invocation());
    }

    #[tokio::test]
    async fn expiry_and_nbf_have_a_small_leeway() {
        let at = |iat: i64, ttl: i64| invocation_claims(AUD, &invocation(), iat, ttl);
        assert!(check(&at(NOW - 30, 30 - LEEWAY_SECS + 1)).await.is_ok(), "expired within the leeway");
        assert!(check(&at(NOW - 30, 30 - LEEWAY_SECS)).await.is_err(), "expired beyond the leeway");
        assert!(check(&at(NOW + LEEWAY_SECS, 25)).await.is_ok(), "nbf within the leeway");
        assert!(check(&at(NOW + LEEWAY_SECS + 1, 25)).await.is_err(), "nbf beyond the leeway");
        let mut no_exp = at(NOW, 25);
        no_exp.as_object_mut().unwrap().remove("exp");
        assert!(check(&no_exp).await.is_err());
    }

    #[tokio::test]
    async fn issuer_audience_and_cloud_id_are_required() {
        let good = invocation_claims(AUD, &invocation(), NOW, 25);
        for (pointer, value) in [
            ("/iss", json!("jira:1234")),
            ("/aud", json!("ari:cloud:ecosystem::app/other")),
            ("/aud", json!(["ari:cloud:ecosystem::app/other"])),
            ("/aud", json!(7)),
            ("/context/cloudId", Value::Null),
            ("/context/cloudId", json!("a#b")),
            ("/principal", json!("a\u{0}b")),
        ] {
            let mut claims = good.clone();
            *claims.pointer_mut(pointer).unwrap() = value;
            assert!(check(&claims).await.is_err(), "{pointer}");
        }
        let mut listed = good.clone();
        listed["aud"] = json!(["x", AUD]);
        assert!(check(&listed).await.is_ok());
        let mut no_context = good.clone();
        no_context.as_object_mut().unwrap().remove("context");
        assert!(check(&no_context).await.is_err());
    }

    #[tokio::test]
    async fn only_the_configured_forge_environment_is_accepted() {
        let good = invocation_claims(AUD, &invocation(), NOW, 25);
        assert!(check(&good).await.is_ok());
        for other in ["DEVELOPMENT", "STAGING", "production-ish", ""] {
            let mut claims = good.clone();
            set_environment(&mut claims, other);
            assert!(check(&claims).await.is_err(), "{other}");
        }
        for missing in ["/app/environment", "/app/environment/type"] {
            let mut claims = good.clone();
            *claims.pointer_mut(missing).unwrap() = Value::Null;
            assert!(check(&claims).await.is_err(), "{missing}");
        }
        let mut staging = good.clone();
        set_environment(&mut staging, "staging");
        let keys = StaticForgeKeys::from_jwks(JWKS).unwrap();
        let token = sign(&staging, KID, PRIVATE).unwrap();
        let expect = FitExpectation { audience: AUD, environment: "staging", now: NOW };
        assert!(verify(&token, &keys, &expect).await.is_ok(), "a staging stack takes staging tokens");
    }

    #[tokio::test]
    async fn principal_falls_back_to_the_context_account() {
        let mut claims = invocation_claims(AUD, &invocation(), NOW, 25);
        claims["principal"] = Value::Null;
        claims["context"]["accountId"] = json!("557058:ctx");
        assert_eq!(check(&claims).await.unwrap().account_id.as_deref(), Some("557058:ctx"));
        claims["context"]["accountId"] = Value::Null;
        assert_eq!(check(&claims).await.unwrap().account_id, None);
    }

    #[tokio::test]
    async fn only_rs256_with_a_known_kid_and_bounded_size() {
        let keys = StaticForgeKeys::from_jwks(JWKS).unwrap();
        let expect = FitExpectation { audience: AUD, environment: ENV, now: NOW };
        let claims = invocation_claims(AUD, &invocation(), NOW, 25);
        let hs256 = jsonwebtoken::encode(
            &Header { kid: Some(KID.into()), ..Header::new(Algorithm::HS256) },
            &claims,
            &EncodingKey::from_secret(b"secret"),
        )
        .unwrap();
        assert!(verify(&hs256, &keys, &expect).await.is_err());
        let unknown = sign(&claims, "forge/invocation-token/other", PRIVATE).unwrap();
        assert!(verify(&unknown, &keys, &expect).await.is_err());
        let token = sign(&claims, KID, PRIVATE).unwrap();
        let (head, _) = token.split_once('.').unwrap();
        let padded = format!("{head}.{}.x", "a".repeat(MAX_FIT_LEN));
        assert!(verify(&padded, &keys, &expect).await.is_err());
        assert!(verify("a.b", &keys, &expect).await.is_err());
    }

    #[tokio::test]
    async fn account_ids_and_kids_are_bounded() {
        let mut claims = invocation_claims(AUD, &invocation(), NOW, 25);
        claims["principal"] = json!("a".repeat(MAX_ACCOUNT_ID_LEN));
        assert!(check(&claims).await.is_ok());
        claims["principal"] = json!("a".repeat(MAX_ACCOUNT_ID_LEN + 1));
        assert!(check(&claims).await.is_err());

        let claims = invocation_claims(AUD, &invocation(), NOW, 25);
        let expect = FitExpectation { audience: AUD, environment: ENV, now: NOW };
        for (len, verifies) in [(MAX_KID_LEN, true), (MAX_KID_LEN + 1, false)] {
            let kid = "k".repeat(len);
            let mut set: Value = serde_json::from_slice(JWKS).unwrap();
            set["keys"][0]["kid"] = json!(kid);
            let keys = StaticForgeKeys::from_jwks(set.to_string().as_bytes()).unwrap();
            let token = sign(&claims, &kid, PRIVATE).unwrap();
            assert_eq!(verify(&token, &keys, &expect).await.is_ok(), verifies, "kid of {len}");
        }
    }

    #[test]
    fn app_ids_normalise_to_the_app_ari() {
        assert_eq!(app_ari("406d303d-0393").as_deref(), Some("ari:cloud:ecosystem::app/406d303d-0393"));
        assert_eq!(
            app_ari("ari:cloud:ecosystem::app/406d303d-0393").as_deref(),
            Some("ari:cloud:ecosystem::app/406d303d-0393")
        );
        assert_eq!(app_ari(""), None);
        assert_eq!(app_ari("a/b"), None);
        assert_eq!(app_ari(&"a".repeat(65)), None);
    }
}
