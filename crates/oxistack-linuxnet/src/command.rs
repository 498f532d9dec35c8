//! Typed invocations of the tools the data plane drives (`ip`, `nft`,
//! `conntrack`): argument vectors, never shell strings, run with
//! tokio::process. A failure becomes [`DataPlaneError::Command`] carrying
//! the tool's stderr. Commands that change the kernel are counted, so a
//! converged apply can be shown to change nothing.

use std::fmt;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};

use oxistack_netplane::DataPlaneError;
use tokio::io::AsyncWriteExt;

/// One tool invocation, built argument by argument.
#[derive(Debug, Clone)]
pub(crate) struct Cmd {
    program: &'static str,
    /// For tools without a namespace option of their own (`nft`,
    /// `conntrack`): the namespace the child enters before exec.
    enter_namespace: Option<String>,
    args: Vec<String>,
    stdin: Option<String>,
}

impl Cmd {
    /// `ip -n <namespace> ...`
    pub fn ip(namespace: &str) -> Cmd {
        Cmd::ip_root().args(["-n", namespace])
    }

    /// `ip ...` in the namespace this process lives in (the host's, for
    /// the bridged uplink).
    pub fn ip_root() -> Cmd {
        Cmd {
            program: "ip",
            enter_namespace: None,
            args: Vec::new(),
            stdin: None,
        }
    }

    pub fn nft(namespace: &str) -> Cmd {
        Cmd::entering(namespace, "nft")
    }

    pub fn conntrack(namespace: &str) -> Cmd {
        Cmd::entering(namespace, "conntrack")
    }

    fn entering(namespace: &str, program: &'static str) -> Cmd {
        Cmd {
            program,
            enter_namespace: Some(namespace.to_owned()),
            args: Vec::new(),
            stdin: None,
        }
    }

    pub fn arg(mut self, arg: impl ToString) -> Cmd {
        self.args.push(arg.to_string());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: ToString,
    {
        self.args.extend(args.into_iter().map(|a| a.to_string()));
        self
    }

    pub fn stdin(mut self, input: String) -> Cmd {
        self.stdin = Some(input);
        self
    }

    /// The error of this command having finished as `finished` did.
    pub fn failed(&self, finished: Finished) -> DataPlaneError {
        DataPlaneError::Command {
            command: self.to_string(),
            status: status_text(finished.status),
            stderr: finished.stderr,
        }
    }
}

/// For messages only: the command as someone would type it.
impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(namespace) = &self.enter_namespace {
            write!(f, "ip netns exec {namespace} ")?;
        }
        f.write_str(self.program)?;
        for arg in &self.args {
            write!(f, " {arg}")?;
        }
        Ok(())
    }
}

/// What a finished command printed.
pub(crate) struct Finished {
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs commands and counts the ones that change the kernel.
#[derive(Debug, Default)]
pub(crate) struct Runner {
    changes: AtomicU64,
}

impl Runner {
    /// Commands run through [`Runner::change`] so far.
    pub fn changes(&self) -> u64 {
        self.changes.load(Ordering::Relaxed)
    }

    /// Runs a command that only reads; returns its stdout.
    pub async fn query(&self, cmd: Cmd) -> Result<String, DataPlaneError> {
        let finished = run(&cmd).await?;
        if finished.status == Some(0) {
            Ok(finished.stdout)
        } else {
            Err(cmd.failed(finished))
        }
    }

    /// Counts (and logs) a change made without a command, such as a
    /// sysctl written from a thread inside a namespace.
    pub fn record_change(&self, what: &str) {
        self.changes.fetch_add(1, Ordering::Relaxed);
        tracing::info!(change = what, "changing the network");
    }

    /// Runs a read whose failure may just mean "not there"; the caller
    /// looks at the status.
    pub async fn query_status(&self, cmd: Cmd) -> Result<Finished, DataPlaneError> {
        run(&cmd).await
    }

    /// Runs a command that changes the kernel, logged at info.
    pub async fn change(&self, cmd: Cmd) -> Result<(), DataPlaneError> {
        self.change_accepting(cmd, &[0]).await
    }

    /// Like [`Runner::change`], with more exit statuses meaning success
    /// (`conntrack -D` exits 1 when nothing matched).
    pub async fn change_accepting(&self, cmd: Cmd, success: &[i32]) -> Result<(), DataPlaneError> {
        self.changes.fetch_add(1, Ordering::Relaxed);
        tracing::info!(command = %cmd, "changing the network");
        let finished = run(&cmd).await?;
        match finished.status {
            Some(code) if success.contains(&code) => Ok(()),
            _ => Err(cmd.failed(finished)),
        }
    }
}

fn status_text(status: Option<i32>) -> String {
    match status {
        Some(code) => format!("exit status {code}"),
        None => "killed by a signal".to_owned(),
    }
}

async fn run(cmd: &Cmd) -> Result<Finished, DataPlaneError> {
    let mut command = match &cmd.enter_namespace {
        Some(namespace) => {
            let std_command = oxistack_netns::command_in(namespace, cmd.program).map_err(|e| {
                DataPlaneError::Io {
                    context: format!("preparing `{cmd}`"),
                    source: std::io::Error::other(e),
                }
            })?;
            tokio::process::Command::from(std_command)
        }
        None => tokio::process::Command::new(cmd.program),
    };
    command
        .args(&cmd.args)
        .stdin(if cmd.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let io_error = |source| DataPlaneError::Io {
        context: format!("running `{cmd}`"),
        source,
    };
    let mut child = command.spawn().map_err(io_error)?;
    if let (Some(input), Some(mut pipe)) = (&cmd.stdin, child.stdin.take()) {
        pipe.write_all(input.as_bytes()).await.map_err(io_error)?;
        // Dropping the pipe closes it: the tool sees end of input.
    }
    let output = child.wait_with_output().await.map_err(io_error)?;
    Ok(Finished {
        status: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
    })
}
