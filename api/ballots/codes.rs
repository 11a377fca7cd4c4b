//! Voting codes (评议码): 60 random bits as 12 Crockford base32 characters in groups of
//! four (`7KQ2-M9XD-4TNB`), easy to type from paper, stored only as a keyed hash.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Crockford's base32 alphabet: no I, L, O or U, so nothing is misread.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
pub const CODE_CHARS: usize = 12;
pub const CODE_BITS: usize = CODE_CHARS * 5;
// The design asks for at least 50 bits: a guess must be hopeless.
const _: () = assert!(CODE_BITS >= 50);

/// The key that hashes codes and derives receipts.
#[derive(Clone)]
pub struct CodeKey(Vec<u8>);

impl CodeKey {
    /// Derived from a secret with a fixed label, so it differs from the token key.
    pub fn derive(secret: &str) -> Self {
        CodeKey(mac(secret.as_bytes(), b"pingyi voting-code key v1").to_vec())
    }

    /// The stored form of a code: HMAC-SHA256 of its canonical form, hex.
    pub fn hash(&self, canonical: &str) -> String {
        crate::auth::hex(&mac(&self.0, canonical.as_bytes()))
    }

    /// The stored form of a printed (grouped) code.
    pub fn hash_printed(&self, printed: &str) -> String {
        self.hash(&canonical(printed).unwrap_or_default())
    }

    /// The stored form of a service ticket (instant evaluation): keyed apart from voting
    /// codes, so the same characters never match across the two tables.
    pub fn ticket_hash(&self, canonical: &str) -> String {
        self.hash(&format!("ticket:{canonical}"))
    }

    /// The key a bad-review case keeps to answer the rater who holds the ticket; another
    /// derivation than `ticket_hash`, so the case cannot be joined to the ticket's row.
    pub fn reply_key(&self, canonical: &str) -> String {
        self.hash(&format!("reply:{canonical}"))
    }

    /// A receipt for a ballot: derived from its random id, reveals nothing of the content,
    /// and can later be checked against a published list.
    pub fn receipt(&self, ballot_id: &str) -> String {
        let digest = mac(&self.0, format!("receipt:{ballot_id}").as_bytes());
        group(&encode(&digest, 16))
    }
}

fn mac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(data);
    m.finalize().into_bytes().into()
}

/// The first `chars` base32 characters of `bytes`.
fn encode(bytes: &[u8], chars: usize) -> String {
    let mut out = String::with_capacity(chars);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        if out.len() == chars {
            break;
        }
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 && out.len() < chars {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
        buffer &= (1 << bits) - 1;
    }
    out
}

fn group(code: &str) -> String {
    code.as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("-")
}

/// A fresh random code, grouped for printing.
pub fn generate() -> String {
    let mut bytes = [0u8; 8];
    rand::fill(&mut bytes[..]);
    group(&encode(&bytes, CODE_CHARS))
}

/// The canonical form of what a voter typed: upper case, no separators, the look-alikes
/// Crockford allows (I, L → 1; O → 0). `None` when it cannot be a code.
pub fn canonical(typed: &str) -> Option<String> {
    let mut out = String::with_capacity(CODE_CHARS);
    for c in typed.chars() {
        let c = match c.to_ascii_uppercase() {
            '-' | ' ' => continue,
            'I' | 'L' => '1',
            'O' => '0',
            c if c.is_ascii() && ALPHABET.contains(&(c as u8)) => c,
            _ => return None,
        };
        out.push(c);
        if out.len() > CODE_CHARS {
            return None;
        }
    }
    (out.len() == CODE_CHARS).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_grouped_crockford_with_enough_entropy() {
        let code = generate();
        assert_eq!(code.len(), 14, "{code}");
        assert_eq!(code.matches('-').count(), 2);
        assert!(code
            .chars()
            .all(|c| c == '-' || ALPHABET.contains(&(c as u8))));
        assert_ne!(generate(), generate());
    }

    #[test]
    fn typing_variants_canonicalize_to_the_same_code() {
        assert_eq!(canonical("7kq2-m9xd-4tnb").as_deref(), Some("7KQ2M9XD4TNB"));
        assert_eq!(canonical("7KQ2 M9XD 4TNB").as_deref(), Some("7KQ2M9XD4TNB"));
        assert_eq!(canonical("OIL0-0000-0000").as_deref(), Some("011000000000"));
        assert_eq!(canonical("7KQ2-M9XD-4TN"), None);
        assert_eq!(canonical("7KQ2-M9XD-4TNBB"), None);
        assert_eq!(canonical("7KQ2-M9XD-4TNU"), None);
        assert_eq!(canonical("码码码码"), None);
    }

    #[test]
    fn hashes_are_keyed() {
        let a = CodeKey::derive("secret one secret one secret one!!");
        let b = CodeKey::derive("secret two secret two secret two!!");
        assert_eq!(a.hash("7KQ2M9XD4TNB"), a.hash("7KQ2M9XD4TNB"));
        assert_ne!(a.hash("7KQ2M9XD4TNB"), b.hash("7KQ2M9XD4TNB"));
        assert_eq!(a.hash("x").len(), 64);
        let r = a.receipt("ballot-1");
        assert_eq!(r.len(), 19);
        assert_ne!(r, a.receipt("ballot-2"));
    }

    #[test]
    fn base32_encoding_matches_the_alphabet() {
        assert_eq!(encode(&[0, 0, 0, 0, 0], 8), "00000000");
        assert_eq!(encode(&[0xff, 0xff, 0xff, 0xff, 0xff], 8), "ZZZZZZZZ");
        assert_eq!(encode(&[0x08], 1), "1");
    }
}
