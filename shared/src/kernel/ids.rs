//! Ids Canopy generates: ULIDs (48-bit millisecond time + 80 random bits, Crockford base32),
//! sortable by creation time and fixed in length, which the site key layout relies on.

use crate::kernel::error::{Error, Result};

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
pub const ULID_LEN: usize = 26;

pub fn new_ulid(now_millis: i64) -> Result<String> {
    let mut random = [0u8; 10];
    getrandom::getrandom(&mut random).map_err(|e| Error::internal(format!("no randomness: {e}")))?;
    let mut value: u128 = (u128::from(now_millis.max(0) as u64) & ((1 << 48) - 1)) << 80;
    for (i, byte) in random.iter().enumerate() {
        value |= u128::from(*byte) << (8 * (9 - i));
    }
    let mut out = [0u8; ULID_LEN];
    for (i, slot) in out.iter_mut().enumerate() {
        let shift = 5 * (ULID_LEN - 1 - i);
        *slot = CROCKFORD[((value >> shift) & 0x1f) as usize];
    }
    Ok(out.iter().map(|&b| b as char).collect())
}

pub fn is_ulid(id: &str) -> bool {
    id.len() == ULID_LEN && id.as_bytes()[0] <= b'7' && id.bytes().all(|b| CROCKFORD.contains(&b))
}

/// Atlassian cloudIds are UUIDs; anything else is refused before it reaches a key or a URL.
pub const MAX_CLOUD_ID_LEN: usize = 64;

pub fn is_plausible_cloud_id(cloud_id: &str) -> bool {
    !cloud_id.is_empty()
        && cloud_id.len() <= MAX_CLOUD_ID_LEN
        && cloud_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulids_are_valid_unique_and_time_ordered() {
        let a = new_ulid(1_000).unwrap();
        let b = new_ulid(1_000).unwrap();
        let later = new_ulid(2_000).unwrap();
        assert!(is_ulid(&a) && is_ulid(&b) && is_ulid(&later));
        assert_ne!(a, b);
        assert!(a < later && b < later);
        assert!(!is_ulid("01ARZ3NDEKTSV4RRFFQ69G5FA")); // 25 chars
        assert!(!is_ulid("01ARZ3NDEKTSV4RRFFQ69G5FAU")); // U is not Crockford
        assert!(!is_ulid("81ARZ3NDEKTSV4RRFFQ69G5FAV")); // overflows 128 bits
    }
}
