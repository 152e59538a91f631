//! Authentication (`AUTH_SECRET`): HS256 JWTs whose `sub` is the caller's user id.
//!
//! Without a secret every caller is `Trusted`: the seed document's behaviour, where the
//! WebSocket path's `user_id` is believed and HTTP calls carry no identity. With one, HTTP
//! calls need `Authorization: Bearer <token>` and WebSockets that header or, for browsers
//! (which cannot set headers on a WebSocket), a `token` query parameter.

use std::sync::Arc;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::domain::UserId;
use crate::error::ApiError;

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// Authentication is off: no identity, and no per-user checks (the seed's behaviour).
    Trusted,
    /// A verified token for this user.
    User(UserId),
}

impl Caller {
    /// The verified user, if authentication is on.
    pub fn user(&self) -> Option<&UserId> {
        match self {
            Caller::Trusted => None,
            Caller::User(u) => Some(u),
        }
    }
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
}

/// The token verifier; clones share the key.
#[derive(Clone, Default)]
pub struct Auth {
    verifier: Option<Arc<(DecodingKey, Validation)>>,
}

impl Auth {
    /// Verifies with `secret`, or trusts every caller without one.
    pub fn new(secret: Option<&str>) -> Self {
        let verifier = secret.filter(|s| !s.is_empty()).map(|s| {
            let mut v = Validation::new(Algorithm::HS256);
            v.set_required_spec_claims(&["exp", "sub"]);
            v.leeway = 5; // seconds of clock skew tolerated on `exp`
            Arc::new((DecodingKey::from_secret(s.as_bytes()), v))
        });
        Self { verifier }
    }

    /// Who presents `bearer` (an `Authorization` header) or `token` (a query parameter).
    pub fn caller(&self, bearer: Option<&str>, token: Option<&str>) -> Result<Caller, ApiError> {
        let Some(verifier) = &self.verifier else {
            return Ok(Caller::Trusted);
        };
        let header_token = match bearer {
            Some(h) => Some(h.strip_prefix("Bearer ").ok_or_else(|| {
                ApiError::Unauthorized("Invalid Authorization header: expected `Bearer <token>`".into())
            })?),
            None => None,
        };
        let Some(token) = header_token.or(token) else {
            return Err(ApiError::Unauthorized("Missing bearer token".into()));
        };
        let data = jsonwebtoken::decode::<Claims>(token.trim(), &verifier.0, &verifier.1).map_err(|e| {
            ApiError::Unauthorized(match e.kind() {
                ErrorKind::ExpiredSignature => "Token expired".into(),
                ErrorKind::InvalidSignature => "Invalid token: bad signature".into(),
                ErrorKind::MissingRequiredClaim(c) => format!("Invalid token: missing claim `{c}`"),
                _ => "Invalid token".into(),
            })
        })?;
        let user = UserId::parse_client(&data.claims.sub)
            .map_err(|_| ApiError::Unauthorized("Invalid token: `sub` is not a valid user id".into()))?;
        Ok(Caller::User(user))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header, encode};

    fn token(secret: &str, claims: serde_json::Value) -> String {
        encode(
            &Header::default(),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    fn in_an_hour() -> i64 {
        chrono::Utc::now().timestamp() + 3600
    }

    #[test]
    fn trusted_without_a_secret() {
        assert_eq!(Auth::new(None).caller(None, None).unwrap(), Caller::Trusted);
    }

    #[test]
    fn verifies_sub_exp_and_signature() {
        let auth = Auth::new(Some("k"));
        let good = token("k", serde_json::json!({"sub": "alice", "exp": in_an_hour()}));
        let alice = Caller::User(UserId::parse("alice").unwrap());
        assert_eq!(auth.caller(Some(&format!("Bearer {good}")), None).unwrap(), alice);
        assert_eq!(auth.caller(None, Some(&good)).unwrap(), alice);
        let cases = [
            (None, "Missing bearer token"),
            (
                Some(format!("Basic {good}")),
                "Invalid Authorization header: expected `Bearer <token>`",
            ),
            (
                Some(format!(
                    "Bearer {}",
                    token("other", serde_json::json!({"sub": "a", "exp": in_an_hour()}))
                )),
                "Invalid token: bad signature",
            ),
            (
                Some(format!(
                    "Bearer {}",
                    token("k", serde_json::json!({"sub": "a", "exp": 1000}))
                )),
                "Token expired",
            ),
            (
                Some(format!("Bearer {}", token("k", serde_json::json!({"sub": "a"})))),
                "Invalid token: missing claim `exp`",
            ),
            (
                Some(format!(
                    "Bearer {}",
                    token("k", serde_json::json!({"sub": "a b", "exp": in_an_hour()}))
                )),
                "Invalid token: `sub` is not a valid user id",
            ),
            (Some("Bearer nonsense".to_string()), "Invalid token"),
        ];
        for (header, want) in cases {
            let err = auth.caller(header.as_deref(), None).unwrap_err();
            assert_eq!(err.to_string(), want);
        }
    }
}
