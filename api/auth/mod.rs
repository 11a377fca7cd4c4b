//! Identity and access: passwords, tokens, the signed-in actor, the subordination policy,
//! throttling of repeated failures.

mod actor;
pub mod password;
pub mod policy;
pub mod routes;
pub mod throttle;
pub mod tokens;

pub use actor::{grants_of, request_id, Actor};
pub use policy::{Action, CampaignResultsView, Decision, Grants, Role, Scope, SessionResultsView};

/// `bytes` random bytes from a cryptographically secure generator, as lowercase hex.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::fill(&mut buf[..]);
    hex(&buf)
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

/// SHA-256 of a secret token, as hex: what is stored instead of the token.
pub fn sha256_hex(value: &str) -> String {
    use sha2::{Digest, Sha256};
    hex(&Sha256::digest(value.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_tokens_differ_and_have_the_asked_length() {
        let a = random_token(32);
        assert_eq!(a.len(), 64);
        assert_ne!(a, random_token(32));
        assert_eq!(hex(&[0x00, 0xab, 0xff]), "00abff");
    }
}
