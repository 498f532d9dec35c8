//! Password and secret hashing: Argon2id with the crate's defaults (19 MiB,
//! 2 passes), deliberately slow. Hashing runs on the blocking pool so a
//! burst of logins never stalls request handling.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::rngs::OsRng;
use std::sync::LazyLock;

use crate::service::{IdentityError, Result};

pub fn hash_blocking(secret: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| IdentityError::internal("hashing a password", error.to_string()))
}

pub async fn hash(secret: String) -> Result<String> {
    tokio::task::spawn_blocking(move || hash_blocking(&secret))
        .await
        .map_err(|error| IdentityError::internal("hashing a password", error))?
}

/// Checks `secret` against a stored hash. With no stored hash (unknown user,
/// user without password) a dummy hash is checked instead, so the answer
/// takes as long either way and does not reveal which users exist.
pub async fn verify(secret: String, stored: Option<String>) -> bool {
    static DUMMY: LazyLock<String> =
        LazyLock::new(|| hash_blocking("no such user").expect("hashing a constant"));
    tokio::task::spawn_blocking(move || {
        let (hash, real) = match &stored {
            Some(hash) => (hash.as_str(), true),
            None => (DUMMY.as_str(), false),
        };
        let matches = PasswordHash::new(hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(secret.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false);
        real && matches
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_are_salted() {
        let a = hash("pw".into()).await.unwrap();
        let b = hash("pw".into()).await.unwrap();
        assert_ne!(a, b, "salts must differ");
        assert!(a.starts_with("$argon2id$"));
        assert!(verify("pw".into(), Some(a.clone())).await);
        assert!(!verify("wrong".into(), Some(a)).await);
        assert!(!verify("no such user".into(), None).await);
    }
}
