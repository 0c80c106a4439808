//! Standard base64 (RFC 4648, section 4, with `=` padding), written out because the evcxr
//! display protocol needs it and it is shorter than a dependency.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Encodes `bytes` as standard base64 with padding (RFC 4648).
///
/// Each 3 input bytes (24 bits) become 4 output characters of 6 bits each; a final group of
/// 1 or 2 bytes is padded with `=`.
///
/// ```
/// use ddpm::figures::base64_encode;
/// // Test vectors from RFC 4648, section 10.
/// assert_eq!(base64_encode(b""), "");
/// assert_eq!(base64_encode(b"f"), "Zg==");
/// assert_eq!(base64_encode(b"fo"), "Zm8=");
/// assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
/// ```
pub fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 0x3f) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
