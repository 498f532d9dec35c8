//! The files a proxy and its data plane exchange, in the proxy's
//! directory, and how they are written: whole or not at all.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use oxistack_lbplane::Observation;
use serde::{Deserialize, Serialize};

/// The load balancer the proxy serves (JSON, 0600): written by the data
/// plane, read by the proxy at start and on SIGHUP.
pub const CONFIG_FILE: &str = "config.json";
/// What the proxy observes ([`ProxyStatus`] as JSON), rewritten about
/// every 500 ms.
pub const STATUS_FILE: &str = "status.json";
/// The proxy's pid, written by the data plane when it starts one.
pub const PID_FILE: &str = "proxy.pid";
/// The proxy's standard output and error.
pub const LOG_FILE: &str = "proxy.log";

/// The status file's content.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyStatus {
    pub observation: Observation,
    /// Why the last configuration read is not (wholly) served: it could
    /// not be read or parsed, or a listener could not bind.
    pub config_error: Option<String>,
}

/// Writes `contents` to `path` through a temporary file and a rename, so
/// a reader sees the old or the new file, never a part; mode 0600.
pub fn write_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = Path::new(&temporary);
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(temporary)?;
    file.write_all(contents)?;
    file.sync_all()?;
    std::fs::rename(temporary, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn atomic_writes_replace_the_whole_file_privately() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CONFIG_FILE);
        write_atomic(&path, b"a long first version").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
