//! A bounded TTL cache of the product's answers about one account of one tenant (admin rights,
//! group membership), in this process's memory only: never persisted, never shared between
//! tenants. Errors are never put in it; the caller only remembers answers.

use std::collections::HashMap;
use std::sync::Mutex;

/// Answers kept per cache; past it the expired ones go first, then all of them.
pub const MAX_CACHED_ANSWERS: usize = 10_000;

pub struct AnswerCache<V: Clone> {
    ttl_millis: i64,
    /// (clientKey, accountId) → (answer, expiry in unix millis).
    answers: Mutex<HashMap<(String, String), (V, i64)>>,
}

impl<V: Clone> AnswerCache<V> {
    pub fn with_ttl_secs(ttl_secs: i64) -> Self {
        Self { ttl_millis: ttl_secs.max(0).saturating_mul(1000), answers: Mutex::default() }
    }

    pub fn get(&self, key: &(String, String), now_millis: i64) -> Option<V> {
        let answers = self.answers.lock().ok()?;
        answers.get(key).filter(|(_, expires)| now_millis < *expires).map(|(answer, _)| answer.clone())
    }

    /// The expiry counts from `now_millis`, the time of the answer: a slow product must not
    /// shorten it.
    pub fn remember(&self, key: (String, String), answer: V, now_millis: i64) {
        let Ok(mut answers) = self.answers.lock() else { return };
        if answers.len() >= MAX_CACHED_ANSWERS && !answers.contains_key(&key) {
            answers.retain(|_, (_, expires)| now_millis < *expires);
            if answers.len() >= MAX_CACHED_ANSWERS {
                answers.clear();
            }
        }
        answers.insert(key, (answer, now_millis.saturating_add(self.ttl_millis)));
    }

    pub fn len(&self) -> usize {
        self.answers.lock().map_or(0, |answers| answers.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(account: &str) -> (String, String) {
        ("t1".into(), account.into())
    }

    #[test]
    fn answers_expire_after_the_ttl() {
        let cache = AnswerCache::with_ttl_secs(60);
        cache.remember(key("a"), true, 0);
        assert_eq!(cache.get(&key("a"), 59_999), Some(true));
        assert_eq!(cache.get(&key("a"), 60_000), None);
        assert_eq!(cache.get(&("t2".into(), "a".into()), 0), None, "another tenant's answer is not this one's");
    }

    #[test]
    fn a_full_cache_drops_expired_answers_first_then_everything() {
        let cache = AnswerCache::with_ttl_secs(60);
        for i in 0..MAX_CACHED_ANSWERS - 1 {
            cache.remember(key(&format!("user-{i}")), false, 0);
        }
        cache.remember(key("fresh"), true, 30_000);
        // Full at t=70 s: the answers from t=0 have expired and go; the one from t=30 s stays.
        cache.remember(key("new"), true, 70_000);
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get(&key("fresh"), 70_000), Some(true));
        for i in 0..MAX_CACHED_ANSWERS {
            cache.remember(key(&format!("other-{i}")), false, 80_000);
        }
        assert!(cache.len() <= MAX_CACHED_ANSWERS);
    }
}
