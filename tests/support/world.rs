//! The worlds a scenario runs in: the store or media adapter under it, and how its callers
//! authenticate. [`scenarios!`](crate::scenarios) runs a suite once per world.

use std::sync::Arc;

use canopy_shared::adapters::store::embedded::EmbeddedItemStore;
use canopy_shared::ports::store::ItemStore;

use crate::app::{cloud_of, context_token_as, forge_token};
use crate::media::Served;

/// How a world's callers authenticate: Connect context JWTs, or Forge Invocation Tokens naming
/// the site (cloudId) the tenant recorded at its Connect install.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    Connect,
    Forge,
}

impl Scheme {
    /// A browser-route token of `client` (whose shared secret is `secret`) acting as `account`
    /// (`None`: an anonymous visitor).
    pub fn token(self, client: &str, secret: &str, account: Option<&str>, now: i64) -> String {
        match self {
            Scheme::Connect => context_token_as(client, secret, account, now),
            Scheme::Forge => forge_token(&cloud_of(client), account, now),
        }
    }
}

/// The store adapters: the embedded one (redb in a temp dir) and DynamoDB on DynamoDB Local.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Store {
    Embedded,
    Dynamo,
}

/// An opened store, with the temp dir that holds it (embedded only).
pub struct Opened {
    pub store: Arc<dyn ItemStore>,
    pub dir: Option<tempfile::TempDir>,
}

impl Store {
    /// A fresh, empty store of this adapter.
    pub async fn open(self) -> Opened {
        match self {
            Store::Embedded => {
                let dir = tempfile::tempdir().expect("temp dir");
                let store = EmbeddedItemStore::open(&dir.path().join("canopy.redb")).expect("open embedded store");
                Opened { store: Arc::new(store), dir: Some(dir) }
            }
            Store::Dynamo => Opened { store: crate::dynamo::fresh_dynamo_store().await, dir: None },
        }
    }
}

/// The media adapters: the local one served on loopback, and S3 on s3s-fs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Media {
    Local,
    S3,
}

impl Media {
    /// A fresh, empty media store of this adapter.
    pub async fn serve(self) -> Served {
        match self {
            Media::Local => crate::media::local_served().await,
            Media::S3 => crate::media::s3_served().await,
        }
    }
}
