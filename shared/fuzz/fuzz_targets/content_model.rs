//! Content bodies as the API parses and validates them (`JsonBody` → `ContentModel::validate`).
//! The first byte picks the kind, the rest is the request body. Properties: a refusal is a
//! client error (4xx), never a 500 or a panic; an accepted document serializes to JSON that
//! parses and validates again to the same document (what the store keeps is what was checked).
#![no_main]

use canopy_shared::domain::content::model::{
    Announcement, ContentModel, Layout, Navigation, PageMetadata, PromotedSearch, ReportConfig, Site, Theme,
};
use canopy_shared::http::body::parse_json;
use http::HeaderMap;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, body)) = data.split_first() else { return };
    let mut headers = HeaderMap::new();
    headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    match kind % 8 {
        0 => check::<Site>(&headers, body),
        1 => check::<Navigation>(&headers, body),
        2 => check::<Announcement>(&headers, body),
        3 => check::<PromotedSearch>(&headers, body),
        4 => check::<Theme>(&headers, body),
        5 => check::<Layout>(&headers, body),
        6 => check::<ReportConfig>(&headers, body),
        _ => check::<PageMetadata>(&headers, body),
    }
});

fn check<M: ContentModel + std::fmt::Debug>(headers: &HeaderMap, body: &[u8]) {
    let parsed = parse_json::<M>(headers, body).and_then(|model| model.validate().map(|()| model));
    match parsed {
        Err(err) => assert!(err.status().is_client_error(), "{} answered {}: {err}", M::KIND, err.status()),
        Ok(model) => {
            let stored = serde_json::to_vec(&model).expect("an accepted document serializes");
            let again =
                parse_json::<M>(headers, &stored).unwrap_or_else(|e| panic!("{} does not re-parse: {e}", M::KIND));
            again.validate().unwrap_or_else(|e| panic!("{} re-parsed fails validation: {e}", M::KIND));
            assert_eq!(serde_json::to_vec(&again).expect("serializes"), stored, "{} round trip changed it", M::KIND);
        }
    }
}
