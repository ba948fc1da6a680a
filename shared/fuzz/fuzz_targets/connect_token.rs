//! Connect JWTs as Canopy receives them: the input is an `Authorization` token.
//!
//! Two passes per input: the token as sent (shape, header, base64, signature checks), and the
//! same header and payload re-signed with the tenant's secret, so the claim checks after the
//! signature (expiry, qsh rules) see arbitrary claims too. Whatever is accepted must satisfy the
//! rules the verifier promises.
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use canopy_shared::domain::connect::jwt::{self, LEEWAY_SECS, QshRule, TokenKind};
use canopy_shared::domain::connect::qsh::CONTEXT_QSH;
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;

/// The secret of Atlassian's interoperability vectors (the seeds), so seeds verify as sent.
const SECRET: &str = "7512836e-9137-48ac-baaf-a1935b96e17a";
const NOW: i64 = 1_768_435_200;
const EXPECTED_QSH: &str = "5d4e4f8a1d1bbd1b8b7c8d8e5fa3a3a5e1d0c1b1a0f0e0d0c0b0a09080706050";

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else { return };
    let _ = jwt::unverified_issuer(token);
    for rule in [QshRule::Request(EXPECTED_QSH), QshRule::ContextOrRequest(EXPECTED_QSH)] {
        check(token, rule, Some(NOW));
        check(token, rule, None);
    }
    let mut parts = token.splitn(3, '.');
    let (Some(header), Some(payload)) = (parts.next(), parts.next()) else { return };
    let signed = format!("{header}.{payload}.{}", signature(&format!("{header}.{payload}")));
    for rule in [QshRule::Request(EXPECTED_QSH), QshRule::ContextOrRequest(EXPECTED_QSH)] {
        check(&signed, rule, Some(NOW));
    }
});

fn signature(signing_input: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    mac.update(signing_input.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

fn check(token: &str, rule: QshRule<'_>, now: Option<i64>) {
    match jwt::verify_hs256(token, SECRET, rule, now) {
        Err(err) => assert_eq!(err.status().as_u16(), 401, "a refused token is always 401: {err}"),
        Ok((claims, kind)) => {
            assert!(token.len() <= jwt::MAX_TOKEN_LEN);
            if let Some(now) = now {
                let exp = claims.exp.expect("an accepted token has exp");
                assert!(now < exp.saturating_add(LEEWAY_SECS as i64), "expired token accepted");
            }
            let qsh = claims.qsh.as_deref().expect("an accepted token has qsh");
            match (rule, kind) {
                (_, TokenKind::Request) => assert_eq!(qsh, EXPECTED_QSH),
                (QshRule::ContextOrRequest(_), TokenKind::Context) => assert_eq!(qsh, CONTEXT_QSH),
                (rule, kind) => panic!("{kind:?} accepted under {rule:?}"),
            }
        }
    }
}
