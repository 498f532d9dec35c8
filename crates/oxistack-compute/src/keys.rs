//! SSH public keys as Nova accepts them, their fingerprints, and key
//! generation for the API versions that still offer it.

use crate::service::ComputeError;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest, Md5};

/// The refusal Nova gives for a key it cannot read.
fn invalid() -> ComputeError {
    ComputeError::invalid("Keypair data is invalid: failed to generate fingerprint")
}

/// Reads the length-prefixed strings of an SSH wire-format key blob.
struct Blob<'a>(&'a [u8]);

impl<'a> Blob<'a> {
    fn string(&mut self) -> Result<&'a [u8], ComputeError> {
        let (length, rest) = self.0.split_first_chunk::<4>().ok_or_else(invalid)?;
        let length = u32::from_be_bytes(*length) as usize;
        if rest.len() < length {
            return Err(invalid());
        }
        let (value, rest) = rest.split_at(length);
        self.0 = rest;
        Ok(value)
    }

    fn end(&self) -> Result<(), ComputeError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(invalid())
        }
    }
}

/// Checks that `public_key` is an OpenSSH public key line of a supported
/// type (`ssh-rsa`, `ssh-ed25519`, `ecdsa-sha2-nistp{256,384,521}`) whose
/// data matches its type, and answers its fingerprint as Nova computes it:
/// the MD5 of the key data in colon-separated hex.
pub fn fingerprint(public_key: &str) -> Result<String, ComputeError> {
    let mut fields = public_key.split_whitespace();
    let (Some(kind), Some(data)) = (fields.next(), fields.next()) else {
        return Err(invalid());
    };
    let blob = STANDARD.decode(data).map_err(|_| invalid())?;
    let mut reader = Blob(&blob);
    if reader.string()? != kind.as_bytes() {
        return Err(invalid());
    }
    match kind {
        "ssh-rsa" => {
            let exponent = reader.string()?;
            let modulus = reader.string()?;
            if exponent.is_empty() || modulus.len() < 64 {
                return Err(invalid());
            }
        }
        "ssh-ed25519" => {
            if reader.string()?.len() != 32 {
                return Err(invalid());
            }
        }
        "ecdsa-sha2-nistp256" | "ecdsa-sha2-nistp384" | "ecdsa-sha2-nistp521" => {
            let curve = &kind["ecdsa-sha2-".len()..];
            let point_length = match curve {
                "nistp256" => 65,
                "nistp384" => 97,
                _ => 133,
            };
            let point = {
                if reader.string()? != curve.as_bytes() {
                    return Err(invalid());
                }
                reader.string()?
            };
            // An uncompressed point: 0x04, then both coordinates.
            if point.len() != point_length || point[0] != 4 {
                return Err(invalid());
            }
        }
        _ => return Err(invalid()),
    }
    reader.end()?;
    let digest = Md5::digest(&blob);
    Ok(digest
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect::<Vec<_>>()
        .join(":"))
}

/// A new key pair: the OpenSSH private key and public key line.
pub struct GeneratedKey {
    pub private_key: String,
    pub public_key: String,
}

/// Generates an Ed25519 key pair, commented as Nova comments the keys it
/// generates.
pub fn generate() -> Result<GeneratedKey, ComputeError> {
    let mut key = ssh_key::PrivateKey::random(&mut rand::rngs::OsRng, ssh_key::Algorithm::Ed25519)
        .map_err(|e| ComputeError::internal("generating a key pair", e))?;
    key.set_comment("Generated-by-Nova");
    let private_key = key
        .to_openssh(ssh_key::LineEnding::LF)
        .map_err(|e| ComputeError::internal("generating a key pair", e))?
        .to_string();
    let public_key = key
        .public_key()
        .to_openssh()
        .map_err(|e| ComputeError::internal("generating a key pair", e))?;
    Ok(GeneratedKey {
        private_key,
        public_key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIN2bwENvgPrminI8dwBW9T/RMtUcuorTD3V8zdPXWbBD alice@example";
    const ECDSA: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBJZsOFXYZL5t4nRz8NmyfHI5KalSzboN/wEwlUF6qeyiITb3tPlok7LF6boGTeVJcKcGI3kHbM3LrHjjlx9mNgo= root@vm";
    const RSA: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCitimPV+w49pF36n0+0ARoZRZ1zdfZtIHBFZxIiR/GYyos/AkgWal/WFhoBXCVvxewj6D9aACXCUv7CQ4+lNnIgwMQfPeFF6x3ufSNDyC0603FmMryhQHlk/RKzl7XlfaDlOI7i5oHT71auMNJBkw05WDkbkk7+xc6pYpEiv+UlPb+vebG6PPOufyvNLYqmrYgwtBzOFe71YdCMfzCo/AoDIsPvrW6ow3CHyjsbyerqYnrlmzSTY/R3wd5tnJ2oR5F2m43Uu9JPGHfPP0sPXiOLJfoTWg4X0QeKs57KkteTZJlR0l6EQCDbWrddrWQz5oAIKQvOIyhtJApEci+bVnH root@vm";

    #[test]
    fn fingerprints_match_ssh_keygen_md5() {
        // Expected values from `ssh-keygen -l -E md5`.
        assert_eq!(
            fingerprint(ED25519).unwrap(),
            "fe:72:10:ca:7b:92:a6:43:97:da:b2:e9:4c:63:00:37"
        );
        assert_eq!(
            fingerprint(ECDSA).unwrap(),
            "8e:18:28:1a:ff:90:b6:5a:fc:1e:86:14:53:9b:ec:da"
        );
        assert_eq!(
            fingerprint(RSA).unwrap(),
            "41:0d:f6:07:d8:6c:5b:fd:46:58:30:99:8c:d3:4d:6d"
        );
    }

    #[test]
    fn malformed_keys_are_refused() {
        for bad in [
            "",
            "ssh-ed25519",
            "ssh-ed25519 not-base64!",
            // The data says ed25519 but the line says rsa.
            &ED25519.replace("ssh-ed25519", "ssh-rsa"),
            "ssh-dss AAAAB3NzaC1kc3M=",
            // A truncated ed25519 key.
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIN2bwENvgPrminI8",
        ] {
            assert!(
                matches!(fingerprint(bad), Err(ComputeError::Invalid(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn generated_keys_are_valid_openssh_keys() {
        let key = generate().unwrap();
        assert!(
            key.private_key
                .starts_with("-----BEGIN OPENSSH PRIVATE KEY-----")
        );
        assert!(key.public_key.starts_with("ssh-ed25519 "));
        assert!(key.public_key.ends_with("Generated-by-Nova"));
        fingerprint(&key.public_key).unwrap();
    }
}
