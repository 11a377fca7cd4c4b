//! Access tokens (short-lived JWTs, HS256 pinned) and opaque refresh tokens.

use chrono::{Duration, NaiveDateTime, Utc};
use diesel::prelude::*;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::db::schema::{refresh_tokens, users};
use crate::db::DbConn;
use crate::error::{ApiError, ApiResult};
use crate::types::now;

pub const ACCESS_TOKEN_SECONDS: i64 = 15 * 60;
pub const REFRESH_TOKEN_DAYS: i64 = 30;
pub const ISSUER: &str = "pingyi";
pub const AUDIENCE: &str = "pingyi-api";
const ALGORITHM: Algorithm = Algorithm::HS256;

/// Every claim is required: a token missing one fails to decode.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub exp: i64,
    pub iat: i64,
    /// Not before: a token is refused until then (with the same leeway as `exp`).
    pub nbf: i64,
    pub jti: String,
    /// The user's `token_version` when the token was issued: a token of an older version
    /// is refused (logout everywhere, a new password, disabling, a grant change).
    pub ver: i64,
}

/// What a valid access token says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub user_id: i64,
    pub version: i64,
}

pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl TokenKeys {
    pub fn new(secret: &str) -> Result<Self, String> {
        let mut validation = Validation::new(ALGORITHM);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = 5;
        let invalid = |e: jsonwebtoken::errors::Error| format!("the JWT secret is unusable: {e}");
        Ok(Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()).map_err(invalid)?,
            decoding: DecodingKey::from_secret(secret.as_bytes()).map_err(invalid)?,
            validation,
        })
    }

    /// A signed access token for a user at a token version, and its lifetime in seconds.
    pub fn issue(&self, user_id: i64, version: i64) -> ApiResult<(String, i64)> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: user_id.to_string(),
            exp: now + ACCESS_TOKEN_SECONDS,
            iat: now,
            nbf: now,
            jti: super::random_token(16),
            ver: version,
        };
        let token =
            encode(&Header::new(ALGORITHM), &claims, &self.encoding).map_err(ApiError::internal)?;
        Ok((token, ACCESS_TOKEN_SECONDS))
    }

    /// The user and token version of a valid token; any defect (signature, algorithm,
    /// expiry, not yet valid, audience, issuer, a missing claim) is a 401.
    pub fn verify(&self, token: &str) -> ApiResult<Verified> {
        let invalid = || ApiError::unauthorized("The access token is invalid or expired.");
        let data =
            decode::<Claims>(token, &self.decoding, &self.validation).map_err(|_| invalid())?;
        let user_id = data.claims.sub.parse().map_err(|_| invalid())?;
        Ok(Verified {
            user_id,
            version: data.claims.ver,
        })
    }

    #[cfg(test)]
    pub fn encode_claims_for_tests(&self, claims: &serde_json::Value, alg: Algorithm) -> String {
        encode(&Header::new(alg), claims, &self.encoding).unwrap_or_default()
    }
}

/// A fresh opaque refresh token (shown once) and the hash that is stored.
pub fn new_refresh_token() -> (String, String) {
    let token = super::random_token(32);
    let hash = super::sha256_hex(&token);
    (token, hash)
}

/// Revokes every live refresh token of a family (one login's rotation chain).
pub fn revoke_family(conn: &mut DbConn, family: &str) -> ApiResult<()> {
    diesel::update(refresh_tokens::table)
        .filter(refresh_tokens::family.eq(family))
        .filter(refresh_tokens::revoked_at.is_null())
        .set(refresh_tokens::revoked_at.eq(now()))
        .execute(conn)?;
    Ok(())
}

/// Makes every access token of a user stop working at once (their next request is a 401)
/// and revokes every refresh token: logout everywhere, a new password, disabling.
pub fn sign_out_everywhere(conn: &mut DbConn, user_id: i64) -> ApiResult<()> {
    bump_token_version(conn, user_id)?;
    revoke_all_for_user(conn, user_id)
}

/// Access tokens issued before stop working (a grant change: the refresh tokens stay,
/// and the next refresh carries the new version).
pub fn bump_token_version(conn: &mut DbConn, user_id: i64) -> ApiResult<()> {
    diesel::update(users::table.find(user_id))
        .set(users::token_version.eq(users::token_version + 1))
        .execute(conn)?;
    Ok(())
}

/// Revokes every refresh token of a user (password change, disabled account).
pub fn revoke_all_for_user(conn: &mut DbConn, user_id: i64) -> ApiResult<()> {
    diesel::update(refresh_tokens::table)
        .filter(refresh_tokens::user_id.eq(user_id))
        .filter(refresh_tokens::revoked_at.is_null())
        .set(refresh_tokens::revoked_at.eq(now()))
        .execute(conn)?;
    Ok(())
}

/// An access token and a refresh token, as the login and refresh answers carry them.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"access_token": "eyJhbGciOiJIUzI1NiJ9…", "token_type": "Bearer", "expires_in": 900, "refresh_token": "3f1c…"}))]
pub struct TokenPair {
    /// A JWT for `Authorization: Bearer …`, valid for `expires_in` seconds.
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    /// Opaque; exchange it at `/api/v1/auth/refresh` for a new pair. Works once.
    pub refresh_token: String,
}

/// Issues a new refresh token in `family` (stored as its hash) and an access token.
pub fn issue_pair(
    conn: &mut DbConn,
    keys: &TokenKeys,
    user_id: i64,
    family: &str,
) -> ApiResult<TokenPair> {
    let (refresh_token, hash) = new_refresh_token();
    let created = now();
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::user_id.eq(user_id),
            refresh_tokens::token_hash.eq(hash),
            refresh_tokens::family.eq(family),
            refresh_tokens::expires_at.eq(created + Duration::days(REFRESH_TOKEN_DAYS)),
            refresh_tokens::created_at.eq(created),
        ))
        .execute(conn)?;
    let version = users::table
        .find(user_id)
        .select(users::token_version)
        .first(conn)?;
    let (access_token, expires_in) = keys.issue(user_id, version)?;
    Ok(TokenPair {
        access_token,
        token_type: "Bearer",
        expires_in,
        refresh_token,
    })
}

/// Spends a presented refresh token: the user and family of a live, unused, unexpired
/// token. Presenting a spent token again revokes its whole family (it was stolen, or the
/// client is broken); of two concurrent uses, one wins.
pub fn spend_refresh_token(conn: &mut DbConn, token: &str) -> ApiResult<Option<(i64, String)>> {
    let row: Option<(i64, i64, String, NaiveDateTime, Option<NaiveDateTime>)> =
        refresh_tokens::table
            .filter(refresh_tokens::token_hash.eq(super::sha256_hex(token.trim())))
            .filter(refresh_tokens::revoked_at.is_null())
            .select((
                refresh_tokens::id,
                refresh_tokens::user_id,
                refresh_tokens::family,
                refresh_tokens::expires_at,
                refresh_tokens::used_at,
            ))
            .first(conn)
            .optional()?;
    let Some((id, user_id, family, expires_at, used_at)) = row else {
        return Ok(None);
    };
    let spent = diesel::update(refresh_tokens::table.find(id))
        .filter(refresh_tokens::used_at.is_null())
        .set(refresh_tokens::used_at.eq(now()))
        .execute(conn)?;
    if used_at.is_some() || spent == 0 {
        revoke_family(conn, &family)?;
        tracing::warn!(user_id, "refresh token reused: chain revoked");
        return Ok(None);
    }
    if expires_at < now() {
        return Ok(None);
    }
    Ok(Some((user_id, family)))
}

/// Revokes the family of a presented refresh token, if it is known.
pub fn revoke_family_of(conn: &mut DbConn, token: &str) -> ApiResult<()> {
    let family: Option<String> = refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(super::sha256_hex(token.trim())))
        .select(refresh_tokens::family)
        .first(conn)
        .optional()?;
    match family {
        Some(family) => revoke_family(conn, &family),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn keys() -> TokenKeys {
        TokenKeys::new("0123456789abcdef0123456789abcdef").unwrap()
    }

    fn claims(now: i64) -> serde_json::Value {
        json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "7", "exp": now + 60, "iat": now, "nbf": now, "jti": "x", "ver": 3})
    }

    #[test]
    fn issued_tokens_verify() {
        let (token, ttl) = keys().issue(42, 2).unwrap();
        assert_eq!(ttl, 900);
        assert_eq!(
            keys().verify(&token).unwrap(),
            Verified {
                user_id: 42,
                version: 2
            }
        );
    }

    #[test]
    fn tampered_signature_fails() {
        let (token, _) = keys().issue(42, 0).unwrap();
        let mut chars: Vec<char> = token.chars().collect();
        let last = chars.len() - 2;
        chars[last] = if chars[last] == 'A' { 'B' } else { 'A' };
        let tampered: String = chars.into_iter().collect();
        assert!(keys().verify(&tampered).is_err());
        assert!(TokenKeys::new("another secret another secret 1234")
            .unwrap()
            .verify(&token)
            .is_err());
    }

    #[test]
    fn other_algorithm_expired_wrong_audience_and_missing_claims_fail() {
        let now = Utc::now().timestamp();
        let k = keys();
        assert_eq!(
            k.verify(&k.encode_claims_for_tests(&claims(now), Algorithm::HS256))
                .unwrap()
                .user_id,
            7
        );
        assert!(k
            .verify(&k.encode_claims_for_tests(&claims(now), Algorithm::HS512))
            .is_err());
        let mut expired = claims(now);
        expired["exp"] = json!(now - 3600);
        assert!(k
            .verify(&k.encode_claims_for_tests(&expired, Algorithm::HS256))
            .is_err());
        let mut audience = claims(now);
        audience["aud"] = json!("someone-else");
        assert!(k
            .verify(&k.encode_claims_for_tests(&audience, Algorithm::HS256))
            .is_err());
        let mut early = claims(now);
        early["nbf"] = json!(now + 600);
        assert!(
            k.verify(&k.encode_claims_for_tests(&early, Algorithm::HS256))
                .is_err(),
            "a token is refused before its nbf"
        );
        let mut within_leeway = claims(now);
        within_leeway["nbf"] = json!(now + 2);
        assert!(k
            .verify(&k.encode_claims_for_tests(&within_leeway, Algorithm::HS256))
            .is_ok());
        for missing in ["iss", "aud", "sub", "exp", "iat", "nbf", "jti", "ver"] {
            let mut c = claims(now);
            c.as_object_mut().unwrap().remove(missing);
            assert!(
                k.verify(&k.encode_claims_for_tests(&c, Algorithm::HS256))
                    .is_err(),
                "a token without {missing} must fail"
            );
        }
    }

    #[test]
    fn unsigned_tokens_fail() {
        // {"alg":"none"} header with valid claims and no signature.
        let now = Utc::now().timestamp();
        use base64_like::encode_url;
        let header = encode_url(br#"{"alg":"none","typ":"JWT"}"#);
        let body = encode_url(claims(now).to_string().as_bytes());
        assert!(keys().verify(&format!("{header}.{body}.")).is_err());
    }

    /// Minimal base64url without padding, for building a hostile token by hand.
    mod base64_like {
        pub fn encode_url(input: &[u8]) -> String {
            const A: &[u8; 64] =
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            let mut out = String::new();
            for chunk in input.chunks(3) {
                let b = [
                    chunk[0],
                    *chunk.get(1).unwrap_or(&0),
                    *chunk.get(2).unwrap_or(&0),
                ];
                let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
                for i in 0..=chunk.len() {
                    out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
                }
            }
            out
        }
    }
}
