//! `oxistack service install|uninstall`: starting the cloud at boot. A
//! systemd unit runs `oxistack up` with the configuration the install
//! command was given (its config file and environment overrides), restarts
//! it when it fails, and stops it with the suspend-to-disk teardown, as
//! libvirt-guests does on a host shutdown, so that after a reboot every
//! guest resumes where it was. After a crash of `oxistack up` the guests
//! and load-balancer proxies keep serving, as after a `kill -9` by hand:
//! systemd kills only the main process (`KillMode=process`), the teardown
//! it runs before the restart stands aside ([`failed_service_result`]),
//! and the restarted cloud adopts them.
//!
//! The unit directory can be moved (`--unit-dir`, `OXISTACK_UNIT_DIR`) so
//! tests never touch the host's; systemd is only asked to enable or disable
//! the unit when it runs this host and the unit is in its own directory.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::config::{Config, ENV_ADMIN_PASSWORD};
use crate::credentials::write_private;
use crate::launch::Launch;

pub const UNIT_NAME: &str = "oxistack.service";
/// Where administrators' units live, and where systemd looks first.
pub const DEFAULT_UNIT_DIR: &str = "/etc/systemd/system";
/// The admin password from the environment, kept out of the unit (which
/// anyone may read), in the state directory, 0600.
const PASSWORD_ENV_FILE: &str = "service.env";

/// The unit running `launch` at boot; `password_file` holds the admin
/// password from the environment, if there was one.
pub fn unit_text(launch: &Launch, password_file: Option<&Path>) -> anyhow::Result<String> {
    let command = |args: &[&str]| -> anyhow::Result<String> {
        let mut words = vec![launch.program.display().to_string()];
        words.extend(args.iter().map(|arg| arg.to_string()));
        if let Some(file) = &launch.config_file {
            words.extend(["--config".to_owned(), file.display().to_string()]);
        }
        words
            .iter()
            .map(|word| exec_word(word))
            .collect::<anyhow::Result<Vec<_>>>()
            .map(|w| w.join(" "))
    };
    let mut text = String::from(
        "# Written by `oxistack service install`; `oxistack service uninstall` removes it.\n\
         [Unit]\n\
         Description=oxistack, an OpenStack-compatible cloud on this host\n\
         Wants=network-online.target\n\
         After=network-online.target\n\
         \n\
         [Service]\n\
         Type=simple\n",
    );
    for (name, value) in &launch.environment {
        text.push_str(&format!(
            "Environment={}\n",
            quoted(&format!("{name}={value}"))?
        ));
    }
    if let Some(file) = password_file {
        text.push_str(&format!("EnvironmentFile={}\n", unit_path(file)?));
    }
    text.push_str(&format!("ExecStart={}\n", command(&["up"])?));
    text.push_str(
        "# Guests are suspended to disk, as on a host shutdown; the next start resumes them.\n",
    );
    text.push_str(&format!("ExecStop={}\n", command(&["teardown"])?));
    text.push_str(
        "# After a crash the guests and proxies serve on, for the restart to adopt.\n\
         KillMode=process\n\
         Restart=on-failure\n\
         RestartSec=5s\n\
         TimeoutStopSec=10min\n\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n",
    );
    Ok(text)
}

/// Why systemd is running the unit's ExecStop, when `oxistack up` failed
/// on its own (a crash): systemd passes the service's result to ExecStop
/// as `SERVICE_RESULT`, and also runs it then. The restart that follows
/// adopts the running guests and proxies, so a teardown would only
/// interrupt them; `oxistack teardown` then stands aside.
pub fn failed_service_result(service_result: Option<&str>) -> Option<&str> {
    service_result.filter(|result| *result != "success")
}

/// `oxistack service install`.
pub fn install(config: &Config, unit_dir: &Path) -> anyhow::Result<()> {
    let launch = Launch::current(config)?;
    let password_file = match &launch.admin_password {
        Some(password) => {
            let file = config.state_dir.join(PASSWORD_ENV_FILE);
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&config.state_dir)
                .with_context(|| format!("cannot create {}", config.state_dir.display()))?;
            write_private(
                &file,
                &format!("{ENV_ADMIN_PASSWORD}={}\n", env_file_value(password)?),
            )?;
            Some(file)
        }
        None => None,
    };
    let text = unit_text(&launch, password_file.as_deref())?;
    std::fs::create_dir_all(unit_dir)
        .with_context(|| format!("cannot create {}", unit_dir.display()))?;
    let unit = unit_dir.join(UNIT_NAME);
    let temporary = unit.with_extension("service.tmp");
    std::fs::write(&temporary, text)
        .and_then(|()| std::fs::rename(&temporary, &unit))
        .with_context(|| format!("cannot write {}", unit.display()))?;
    println!("oxistack service: wrote {}", unit.display());
    match Systemd::here(unit_dir) {
        Systemd::Manages => {
            systemctl(&["daemon-reload"])?;
            systemctl(&["enable", UNIT_NAME])?;
            println!(
                "oxistack service: enabled: the cloud starts at boot. To start it now, stop any `oxistack up` running in a terminal, then: systemctl start oxistack"
            );
        }
        Systemd::OtherDirectory => println!(
            "oxistack service: not enabled, as {} is not systemd's {DEFAULT_UNIT_DIR}: to start it at boot, run systemctl link {} && systemctl enable {UNIT_NAME}",
            unit_dir.display(),
            unit.display()
        ),
        Systemd::NotRunning(init) => println!(
            "oxistack service: not enabled: systemd is not running on this host (PID 1 is {init}), so nothing starts the cloud at boot yet. On a host booted with systemd, run systemctl daemon-reload && systemctl enable {UNIT_NAME}. Without systemd, have the init system run at boot: {}   and at shutdown: {}{}",
            launch.full_command("up"),
            launch.full_command("teardown"),
            match &password_file {
                Some(file) => format!(
                    "   (both with the variables of {} in their environment)",
                    file.display()
                ),
                None => String::new(),
            }
        ),
    }
    Ok(())
}

/// `oxistack service uninstall`: disables the unit (stopping the cloud
/// it runs, with the teardown, which keeps the state) and removes it.
pub fn uninstall(unit_dir: &Path) -> anyhow::Result<()> {
    let unit = unit_dir.join(UNIT_NAME);
    let text = match std::fs::read_to_string(&unit) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            println!(
                "oxistack service: no {} in {}: nothing to remove",
                UNIT_NAME,
                unit_dir.display()
            );
            return Ok(());
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", unit.display())),
    };
    let systemd = Systemd::here(unit_dir);
    if systemd == Systemd::Manages {
        systemctl(&["disable", "--now", UNIT_NAME])?;
    }
    for file in password_files(&text) {
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot remove {}", file.display())),
        }
    }
    std::fs::remove_file(&unit).with_context(|| format!("cannot remove {}", unit.display()))?;
    if systemd == Systemd::Manages {
        systemctl(&["daemon-reload"])?;
    }
    println!("oxistack service: removed {}", unit.display());
    Ok(())
}

/// The password files a unit written by [`unit_text`] names.
fn password_files(unit: &str) -> Vec<PathBuf> {
    unit.lines()
        .filter_map(|line| line.strip_prefix("EnvironmentFile="))
        .map(|path| PathBuf::from(path.replace("%%", "%")))
        .filter(|path| {
            path.file_name()
                .is_some_and(|name| name == PASSWORD_ENV_FILE)
        })
        .collect()
}

/// Whether systemd can be asked to enable a unit in the unit directory.
#[derive(Debug, PartialEq, Eq)]
enum Systemd {
    Manages,
    OtherDirectory,
    /// Not running; the name of PID 1.
    NotRunning(String),
}

impl Systemd {
    fn here(unit_dir: &Path) -> Systemd {
        // As sd_booted(3): systemd creates this directory when it is PID 1.
        if !Path::new("/run/systemd/system").is_dir() {
            let init = std::fs::read_to_string("/proc/1/comm")
                .map(|name| name.trim().to_owned())
                .unwrap_or_else(|_| "unknown".to_owned());
            return Systemd::NotRunning(init);
        }
        let same = |dir: &Path| dir.canonicalize().ok();
        match same(unit_dir).is_some() && same(unit_dir) == same(Path::new(DEFAULT_UNIT_DIR)) {
            true => Systemd::Manages,
            false => Systemd::OtherDirectory,
        }
    }
}

fn systemctl(args: &[&str]) -> anyhow::Result<()> {
    let status = Command::new("systemctl")
        .args(args)
        .status()
        .context("cannot run systemctl")?;
    if !status.success() {
        bail!("systemctl {} failed ({status})", args.join(" "));
    }
    Ok(())
}

/// Refuses what no unit line can hold.
fn one_line(value: &str) -> anyhow::Result<&str> {
    if value.contains(['\n', '\r', '\0']) {
        bail!("{value:?} cannot go into a systemd unit: it has a line break or NUL");
    }
    Ok(value)
}

/// A path as a unit setting's whole value: only specifiers need escaping.
fn unit_path(path: &Path) -> anyhow::Result<String> {
    Ok(one_line(&path.display().to_string())?.replace('%', "%%"))
}

/// A double-quoted unit value: C-style escapes, `%` doubled.
fn quoted(value: &str) -> anyhow::Result<String> {
    let escaped = one_line(value)?
        .replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('%', "%%");
    Ok(format!("\"{escaped}\""))
}

/// One word of an Exec line: bare when plain, else quoted; `$` doubled,
/// as systemd would otherwise expand it.
fn exec_word(word: &str) -> anyhow::Result<String> {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._:-=@+,".contains(c));
    match plain {
        true => Ok(word.to_owned()),
        false => Ok(quoted(word)?.replace('$', "$$")),
    }
}

/// A value for an EnvironmentFile, double-quoted: systemd unescapes
/// `\\`, `\"`, `` \` `` and `\$` there and expands nothing.
fn env_file_value(value: &str) -> anyhow::Result<String> {
    let mut escaped = String::from("\"");
    for c in one_line(value)?.chars() {
        if "\\\"`$".contains(c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped.push('"');
    Ok(escaped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ENV_CIRROS_IMAGE, ENV_STATE_DIR};

    fn launch() -> Launch {
        Launch {
            program: PathBuf::from("/usr/local/bin/oxistack"),
            config_file: Some(PathBuf::from("/etc/oxistack/local 100%.toml")),
            environment: vec![
                (ENV_STATE_DIR, "/srv/ox".to_owned()),
                (ENV_CIRROS_IMAGE, "/img/cirros.qcow2".to_owned()),
            ],
            admin_password: Some("never in the unit".to_owned()),
        }
    }

    #[test]
    fn the_unit_runs_up_with_the_same_configuration_and_stops_with_the_teardown() {
        let text = unit_text(&launch(), Some(Path::new("/srv/ox/service.env"))).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for expected in [
            "[Service]",
            "Type=simple",
            r#"Environment="OXISTACK_STATE_DIR=/srv/ox""#,
            r#"Environment="OXISTACK_CIRROS_IMAGE=/img/cirros.qcow2""#,
            "EnvironmentFile=/srv/ox/service.env",
            r#"ExecStart=/usr/local/bin/oxistack up --config "/etc/oxistack/local 100%%.toml""#,
            r#"ExecStop=/usr/local/bin/oxistack teardown --config "/etc/oxistack/local 100%%.toml""#,
            "KillMode=process",
            "Restart=on-failure",
            "WantedBy=multi-user.target",
        ] {
            assert!(
                lines.contains(&expected),
                "{expected} missing from:\n{text}"
            );
        }
        assert!(!text.contains("never in the unit"), "{text}");
        assert_eq!(
            password_files(&text),
            vec![PathBuf::from("/srv/ox/service.env")]
        );
    }

    #[test]
    fn without_a_file_or_overrides_the_unit_runs_the_defaults() {
        let bare = Launch {
            config_file: None,
            environment: Vec::new(),
            admin_password: None,
            ..launch()
        };
        let text = unit_text(&bare, None).unwrap();
        assert!(
            text.contains("\nExecStart=/usr/local/bin/oxistack up\n"),
            "{text}"
        );
        assert!(
            text.contains("\nExecStop=/usr/local/bin/oxistack teardown\n"),
            "{text}"
        );
        assert!(!text.contains("Environment"), "{text}");
        assert!(password_files(&text).is_empty());
    }

    #[test]
    fn the_teardown_stands_aside_only_after_a_crash() {
        assert_eq!(failed_service_result(None), None, "run by hand");
        assert_eq!(failed_service_result(Some("success")), None, "a stop");
        for crash in ["exit-code", "signal", "core-dump", "watchdog"] {
            assert_eq!(failed_service_result(Some(crash)), Some(crash));
        }
    }

    #[test]
    fn values_are_escaped_for_systemd_or_refused() {
        assert_eq!(exec_word("/a b/$HOME").unwrap(), r#""/a b/$$HOME""#);
        assert_eq!(quoted(r#"A="q" \ 5%"#).unwrap(), r#""A=\"q\" \\ 5%%""#);
        assert_eq!(env_file_value(r#"p"w$x`\"#).unwrap(), r#""p\"w\$x\`\\""#);
        assert!(quoted("two\nlines").is_err());
        assert!(env_file_value("a\nb").is_err());
    }
}
