//! The regions Canopy runs in, as configured: name, public base URL, table, bucket, AWS region.
//!
//! From the environment (all optional; without them the stack knows only its home, at `CANOPY_BASE_URL`):
//! - `CANOPY_REGIONS=us=https://us.canopy.example,eu=https://eu.canopy.example` — name → base URL;
//! - `CANOPY_REGION_TABLES=us=canopy-us,eu=canopy-eu` — each region's DynamoDB table;
//! - `CANOPY_REGION_BUCKETS=us=canopy-media-us,eu=canopy-media-eu` — each region's bucket;
//! - `CANOPY_REGION_AWS=us=us-east-1,eu=eu-central-1` — AWS region names (these two are the
//!   defaults for `us` and `eu`).
//!
//! The home region's table and bucket default to `CANOPY_TABLE` / `CANOPY_MEDIA_BUCKET`.

use std::collections::BTreeMap;

use crate::kernel::error::{Error, Result};

/// Where a tenant is homed when nothing says otherwise.
pub const DEFAULT_REGION: &str = "us";

/// One region as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionSpec {
    /// `us`, `eu`, …
    pub name: String,
    /// The public base URL of the region's stack (what a 421 names).
    pub base_url: String,
    pub table: Option<String>,
    pub bucket: Option<String>,
    /// The AWS region (`us-east-1`, `eu-central-1`).
    pub aws_region: Option<String>,
}

impl RegionSpec {
    pub fn new(name: &str, base_url: &str) -> Self {
        Self {
            name: name.to_owned(),
            base_url: base_url.trim_end_matches('/').to_owned(),
            table: None,
            bucket: None,
            aws_region: default_aws_region(name).map(str::to_owned),
        }
    }
}

/// The AWS region of a well-known Canopy region.
pub fn default_aws_region(name: &str) -> Option<&'static str> {
    match name {
        "us" => Some("us-east-1"),
        "eu" => Some("eu-central-1"),
        _ => None,
    }
}

fn is_region_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 16 && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

fn pairs(var: &str, list: &str) -> Result<Vec<(String, String)>> {
    list.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|pair| {
            let (name, value) =
                pair.split_once('=').ok_or_else(|| Error::internal(format!("{var} wants name=value pairs")))?;
            let name = name.trim().to_ascii_lowercase();
            if !is_region_name(&name) {
                return Err(Error::internal(format!("{var}: {name:?} is not a region name ([a-z0-9], ≤ 16)")));
            }
            Ok((name, value.trim().trim_end_matches('/').to_owned()))
        })
        .collect()
}

/// The region list from the `CANOPY_REGION*` values (see the module docs; `AppConfig::from_env`
/// reads them); the home region is always in it, at `base_url` unless listed.
pub fn specs_from(
    home: &str,
    base_url: &str,
    regions: Option<&str>,
    tables: Option<&str>,
    buckets: Option<&str>,
    aws: Option<&str>,
) -> Result<Vec<RegionSpec>> {
    let mut specs: BTreeMap<String, RegionSpec> = BTreeMap::new();
    specs.insert(home.to_owned(), RegionSpec::new(home, base_url));
    for (name, url) in pairs("CANOPY_REGIONS", regions.unwrap_or(""))? {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(Error::internal(format!("CANOPY_REGIONS: {url} is not http(s)")));
        }
        specs.insert(name.clone(), RegionSpec::new(&name, &url));
    }
    let mut set = |var: &str, list: Option<&str>, field: fn(&mut RegionSpec) -> &mut Option<String>| {
        for (name, value) in pairs(var, list.unwrap_or(""))? {
            let spec = specs
                .get_mut(&name)
                .ok_or_else(|| Error::internal(format!("{var} names {name}, which CANOPY_REGIONS does not list")))?;
            *field(spec) = Some(value);
        }
        Ok::<_, Error>(())
    };
    set("CANOPY_REGION_TABLES", tables, |s| &mut s.table)?;
    set("CANOPY_REGION_BUCKETS", buckets, |s| &mut s.bucket)?;
    set("CANOPY_REGION_AWS", aws, |s| &mut s.aws_region)?;
    Ok(specs.into_values().collect())
}
