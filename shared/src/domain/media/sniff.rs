//! Image formats recognised by their first bytes, so an upload is what it claims to be.

/// Bytes read from the start of an upload to recognise its format.
pub const SNIFF_BYTES: u64 = 16;

/// The content type the bytes start like, if any Canopy accepts.
pub fn sniffed_type(bytes: &[u8]) -> Option<&'static str> {
    match bytes {
        [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, ..] => Some("image/png"),
        [0xFF, 0xD8, 0xFF, ..] => Some("image/jpeg"),
        [b'G', b'I', b'F', b'8', b'7' | b'9', b'a', ..] => Some("image/gif"),
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => Some("image/webp"),
        [0x00, 0x00, 0x01, 0x00, ..] => Some("image/x-icon"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_each_format_and_nothing_else() {
        assert_eq!(sniffed_type(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Some("image/png"));
        assert_eq!(sniffed_type(b"\xFF\xD8\xFF\xE0\0\x10JFIF"), Some("image/jpeg"));
        assert_eq!(sniffed_type(b"GIF89a\x01\0"), Some("image/gif"));
        assert_eq!(sniffed_type(b"RIFF\x24\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniffed_type(b"\0\0\x01\0\x01\0\x10\x10"), Some("image/x-icon"));
        assert_eq!(sniffed_type(b"<script>alert(1)</script>"), None);
        assert_eq!(sniffed_type(b"<svg xmlns="), None);
        assert_eq!(sniffed_type(b"\x89PN"), None);
        assert_eq!(sniffed_type(b""), None);
    }
}
