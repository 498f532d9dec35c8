//! The limits Keystone's request schemas put on names, passwords and
//! tags, checked by the service so every caller (API or not) meets them.

use oxistack_http::text::refuse_control_characters;

use super::error::{IdentityError, Result};

/// The longest name Keystone stores for projects and domains.
pub const SHORT_NAME_LENGTH: usize = 64;
/// The longest name Keystone stores for users, groups, roles and
/// application credentials.
pub const NAME_LENGTH: usize = 255;

/// Keystone's default `[identity] max_password_length`, in bytes of UTF-8.
pub const MAX_PASSWORD_BYTES: usize = 4096;

const MAX_TAGS: usize = 80;

fn no_control_characters(field: &str, text: &str) -> Result<()> {
    refuse_control_characters(field, text)
        .map_err(|refused| IdentityError::Invalid(refused.message))
}

/// Names follow Keystone's schema (1 to `max_length` characters, not all
/// whitespace), and hold no control characters: they end up in shells,
/// logs and terminals.
pub fn name(field: &str, name: &str, max_length: usize) -> Result<()> {
    if name.trim().is_empty() || name.chars().count() > max_length {
        return Err(IdentityError::invalid(format!(
            "Invalid input for field '{field}': must be a non-empty string of at most {max_length} characters."
        )));
    }
    no_control_characters(field, name)
}

/// Refuses a password or secret longer than Keystone accepts. (Keystone
/// truncates unless `strict_password_check` is set; refusing is the strict
/// behaviour, so a client never holds a secret that works only in part.)
pub fn password(field: &str, password: &str) -> Result<()> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(IdentityError::invalid(format!(
            "Invalid input for field '{field}': The password length must be less than or equal to {MAX_PASSWORD_BYTES}. The server could not comply with the request because the password is invalid."
        )));
    }
    Ok(())
}

/// Project tags as Keystone's schema bounds them: at most 80, each 1 to
/// 255 characters without ',' or '/' (the API working group's guideline)
/// or control characters, none repeated.
pub fn tags(field: &str, tags: &[String]) -> Result<()> {
    if tags.len() > MAX_TAGS {
        return Err(IdentityError::invalid(format!(
            "Invalid input for field '{field}': at most {MAX_TAGS} tags are allowed."
        )));
    }
    for (index, tag) in tags.iter().enumerate() {
        if tag.is_empty() || tag.chars().count() > NAME_LENGTH || tag.contains([',', '/']) {
            return Err(IdentityError::invalid(format!(
                "Invalid input for field '{field}': tag '{tag}' must be 1 to {NAME_LENGTH} characters without ',' or '/'."
            )));
        }
        no_control_characters(field, tag)?;
        if tags[..index].contains(tag) {
            return Err(IdentityError::invalid(format!(
                "Invalid input for field '{field}': tag '{tag}' is repeated."
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_keystones() {
        assert!(name("project.name", &"n".repeat(64), SHORT_NAME_LENGTH).is_ok());
        assert!(name("project.name", &"n".repeat(65), SHORT_NAME_LENGTH).is_err());
        assert!(name("user.name", " ", NAME_LENGTH).is_err());
        assert!(name("user.name", "a\u{0}b", NAME_LENGTH).is_err());
        assert!(password("user.password", &"é".repeat(2048)).is_ok());
        assert!(password("user.password", &"é".repeat(2049)).is_err());
        assert!(tags("project.tags", &["env:prod".into(), "k8s".into()]).is_ok());
        for bad in [
            vec!["a,b".to_owned()],
            vec!["x".into(), "x".into()],
            vec![String::new()],
        ] {
            assert!(tags("project.tags", &bad).is_err(), "{bad:?}");
        }
    }
}
