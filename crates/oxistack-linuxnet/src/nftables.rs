//! Loading whole nftables scripts into a namespace only when they
//! changed. Every script is loaded together with a marker table whose set
//! carries the script's digest as its comment, in the same `nft -f`
//! transaction; a converged apply reads the marker back (one small `nft
//! -j list`) and loads nothing when the digest matches.

use std::fmt::Write as _;

use oxistack_netplane::DataPlaneError;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::command::{Cmd, Runner};

/// The marker table (`ip` family) and its set.
const MARKER_TABLE: &str = "oxistack-linuxnet";
const MARKER_SET: &str = "applied";

/// An `nft -f` script and its digest.
pub(crate) struct Script {
    text: String,
    digest: String,
}

impl Script {
    pub fn new(text: String) -> Script {
        let hash = Sha256::digest(text.as_bytes());
        // 128 bits tell scripts apart well enough and keep the comment short.
        let digest = hash[..16].iter().fold(String::new(), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        });
        Script { text, digest }
    }

    #[cfg(test)]
    pub fn text(&self) -> &str {
        &self.text
    }
}

#[derive(Deserialize)]
struct Listing {
    nftables: Vec<serde_json::Value>,
}

/// Whether `script` is what the namespace's marker says was last loaded.
pub(crate) async fn is_loaded(
    runner: &Runner,
    namespace: &str,
    script: &Script,
) -> Result<bool, DataPlaneError> {
    let listing = list(runner, namespace, &["table", "ip", MARKER_TABLE]).await?;
    let loaded = listing.iter().find_map(|object| {
        let set = object.get("set")?;
        (set.get("name")? == MARKER_SET).then_some(())?;
        set.get("comment")?.as_str().map(str::to_owned)
    });
    tracing::debug!(namespace, loaded = ?loaded, wanted = %script.digest, "nftables digest");
    Ok(loaded.as_deref() == Some(script.digest.as_str()))
}

/// Loads `script` and the marker in one transaction.
pub(crate) async fn load(
    runner: &Runner,
    namespace: &str,
    script: &Script,
) -> Result<(), DataPlaneError> {
    let marker = format!(
        "table ip {MARKER_TABLE}\n\
         delete table ip {MARKER_TABLE}\n\
         table ip {MARKER_TABLE} {{\n\
         \tset {MARKER_SET} {{\n\
         \t\ttype ipv4_addr\n\
         \t\tcomment \"{digest}\"\n\
         \t}}\n\
         }}\n",
        digest = script.digest
    );
    runner
        .change(
            Cmd::nft(namespace)
                .args(["-f", "-"])
                .stdin(format!("{}\n{marker}", script.text)),
        )
        .await
}

/// The JSON objects of `nft -j list <what>`; empty when the table or set
/// does not exist.
pub(crate) async fn list(
    runner: &Runner,
    namespace: &str,
    what: &[&str],
) -> Result<Vec<serde_json::Value>, DataPlaneError> {
    let cmd = Cmd::nft(namespace).arg("-j").arg("list").args(what);
    let finished = runner.query_status(cmd.clone()).await?;
    if finished.status != Some(0) {
        if finished.stderr.contains("No such file or directory") {
            return Ok(Vec::new());
        }
        return Err(cmd.failed(finished));
    }
    serde_json::from_str::<Listing>(&finished.stdout)
        .map(|listing| listing.nftables)
        .map_err(|error| DataPlaneError::Io {
            context: format!("reading `{cmd}`"),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, error),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_tell_scripts_apart() {
        let a = Script::new("table ip a {}\n".into());
        let b = Script::new("table ip b {}\n".into());
        assert_eq!(a.digest.len(), 32);
        assert_ne!(a.digest, b.digest);
        assert_eq!(a.digest, Script::new(a.text().to_owned()).digest);
    }
}
