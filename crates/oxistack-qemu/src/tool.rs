//! Running the host's QEMU tools: typed argument lists (never a shell),
//! stdout kept, stderr turned into the error.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

/// How long a tool (`qemu-img`, `genisoimage`...) may take.
const TOOL_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("cannot run {program}: {source}")]
    Start {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{program} did not finish within {TOOL_TIMEOUT:?}")]
    Timeout { program: String },
    #[error("{program} failed: {stderr}")]
    Failed { program: String, stderr: String },
}

/// Runs `program` with `args` and returns its stdout.
pub async fn run<I, S>(program: &str, args: I) -> Result<Vec<u8>, ToolError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(TOOL_TIMEOUT, child)
        .await
        .map_err(|_| ToolError::Timeout {
            program: program.to_owned(),
        })?
        .map_err(|source| ToolError::Start {
            program: program.to_owned(),
            source,
        })?;
    if output.status.success() {
        Ok(output.stdout)
    } else {
        Err(ToolError::Failed {
            program: program.to_owned(),
            stderr: stderr_text(&output.stderr, output.status),
        })
    }
}

/// A process's stderr for an error message, or its exit status if it said
/// nothing.
pub fn stderr_text(stderr: &[u8], status: std::process::ExitStatus) -> String {
    let text = String::from_utf8_lossy(stderr).trim().to_owned();
    if text.is_empty() {
        format!("it exited with {status}")
    } else {
        text
    }
}

/// Where `program` is on `PATH`, if it is an executable there.
pub fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stdout_is_returned_and_stderr_becomes_the_error() {
        assert_eq!(run("echo", ["hello"]).await.unwrap(), b"hello\n");
        let error = run("ls", ["/no/such/path"]).await.unwrap_err();
        assert!(error.to_string().contains("No such file"), "{error}");
        let error = run("false", [] as [&str; 0]).await.unwrap_err();
        assert!(error.to_string().contains("exit status: 1"), "{error}");
        let error = run("no-such-program-oxistack", ["x"]).await.unwrap_err();
        assert!(matches!(error, ToolError::Start { .. }), "{error}");
    }

    #[test]
    fn programs_are_found_on_the_path() {
        assert!(find_on_path("sh").is_some());
        assert!(find_on_path("no-such-program-oxistack").is_none());
    }
}
