//! Checks on the free text clients send (names, descriptions). The
//! services refuse NUL and other control characters in names with a 400:
//! they end up in shells, logs and terminals (`openstack server list`)
//! where they do harm, and no real name holds one.

use crate::ApiError;

/// Refuses `value` if it holds a control character (NUL, ESC, newline,
/// DEL, C1 controls...), naming `field` as the client wrote it.
pub fn refuse_control_characters(field: &str, value: &str) -> Result<(), ApiError> {
    match value.chars().find(|c| c.is_control()) {
        None => Ok(()),
        Some(c) => Err(ApiError::bad_request(format!(
            "Invalid input for field '{field}': it contains the control character U+{:04X}.",
            c as u32
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_refused_and_named() {
        assert!(refuse_control_characters("name", "web-1 (prod) ✓").is_ok());
        for bad in ["a\0b", "a\nb", "\u{1b}[31mred", "x\u{7f}", "\u{85}"] {
            let error = refuse_control_characters("server.name", bad).unwrap_err();
            assert_eq!(error.status, 400, "{bad:?}");
            assert!(error.message.contains("'server.name'"), "{}", error.message);
        }
    }
}
