//! How this oxistack was configured (its config file and the environment
//! overrides in force), so that oxistack can hand the same configuration
//! on: as the shell commands the start-up summary prints (`source <(oxistack
//! openrc admin admin ...)` must reach this cloud, not the default one) and
//! as the systemd unit `oxistack service install` writes.

use std::path::{Path, PathBuf};

use crate::config::{Config, ENV_ADMIN_PASSWORD, ENV_CIRROS_IMAGE, ENV_LISTEN, ENV_STATE_DIR};

/// The configuration's sources, every path made absolute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    /// This binary.
    pub program: PathBuf,
    /// The TOML file, if one was given.
    pub config_file: Option<PathBuf>,
    /// The environment overrides that reach the cloud itself (listen
    /// address, state directory, cirros image), in a fixed order; the
    /// admin password is apart, being a secret.
    pub environment: Vec<(&'static str, String)>,
    /// `OXISTACK_ADMIN_PASSWORD`, if set.
    pub admin_password: Option<String>,
}

/// The overrides that reach the cloud, but for the admin password.
const OVERRIDES: [&str; 3] = [ENV_LISTEN, ENV_STATE_DIR, ENV_CIRROS_IMAGE];
/// Overrides whose values are paths, resolved against the current directory.
const PATH_OVERRIDES: [&str; 2] = [ENV_STATE_DIR, ENV_CIRROS_IMAGE];
/// What a client command such as `openrc` needs to find the same cloud.
const CLIENT_OVERRIDES: [&str; 2] = [ENV_LISTEN, ENV_STATE_DIR];

impl Launch {
    /// The configuration `config` was loaded with, read from this process.
    pub fn current(config: &Config) -> anyhow::Result<Launch> {
        Ok(Launch::from_parts(
            std::env::current_exe()?,
            config.file.as_deref(),
            |name| std::env::var(name).ok().filter(|value| !value.is_empty()),
        ))
    }

    fn from_parts(
        program: PathBuf,
        config_file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Launch {
        let absolute = |path: &Path| std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
        let environment = OVERRIDES
            .into_iter()
            .filter_map(|name| {
                let value = env(name)?;
                let value = match PATH_OVERRIDES.contains(&name) {
                    true => absolute(Path::new(&value)).display().to_string(),
                    false => value,
                };
                Some((name, value))
            })
            .collect();
        Launch {
            program,
            config_file: config_file.map(absolute),
            environment,
            admin_password: env(ENV_ADMIN_PASSWORD),
        }
    }

    /// The shell command a client runs to act on this cloud, e.g.
    /// `oxistack openrc admin admin`: what finds the cloud (listen address,
    /// state directory) in front, `--config FILE` after the subcommand, and
    /// the program as `oxistack` when that name on PATH is this binary.
    pub fn client_command(&self, subcommand: &str, args: &[&str]) -> String {
        self.shell_command(subcommand, args, &CLIENT_OVERRIDES)
    }

    /// The shell command running `oxistack ARGS` with every override but
    /// the admin password, e.g. for an init system to run `up`.
    pub fn full_command(&self, subcommand: &str) -> String {
        self.shell_command(subcommand, &[], &OVERRIDES)
    }

    fn shell_command(&self, subcommand: &str, args: &[&str], overrides: &[&str]) -> String {
        let mut words: Vec<String> = self
            .environment
            .iter()
            .filter(|(name, _)| overrides.contains(name))
            .map(|(name, value)| format!("{name}={}", shell_word(value)))
            .collect();
        words.push(match on_path_as("oxistack", &self.program) {
            true => "oxistack".to_owned(),
            false => shell_word(&self.program.display().to_string()),
        });
        words.push(shell_word(subcommand));
        if let Some(file) = &self.config_file {
            words.push("--config".to_owned());
            words.push(shell_word(&file.display().to_string()));
        }
        words.extend(args.iter().map(|arg| shell_word(arg)));
        words.join(" ")
    }
}

/// Whether `name`, looked up on PATH, is `program` (through symlinks).
fn on_path_as(name: &str, program: &Path) -> bool {
    let (Some(path), Ok(program)) = (std::env::var_os("PATH"), program.canonicalize()) else {
        return false;
    };
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .and_then(|found| found.canonicalize().ok())
        .is_some_and(|found| found == program)
}

/// Whether `name` is a program on PATH.
pub fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(name).is_file()))
}

/// `value` as one shell word: bare when it is plainly safe, else quoted.
fn shell_word(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._:-=@+,%".contains(c));
    match plain {
        true => value.to_owned(),
        false => crate::credentials::shell_quote(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn launch(env: &[(&str, &str)], file: Option<&str>) -> Launch {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Launch::from_parts(
            PathBuf::from("/opt/ox dir/oxistack"),
            file.map(Path::new),
            |name| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()),
        )
    }

    #[test]
    fn overrides_are_kept_in_order_with_absolute_paths() {
        let cwd = std::env::current_dir().unwrap();
        let launch = launch(
            &[
                (ENV_CIRROS_IMAGE, "img/c.qcow2"),
                (ENV_STATE_DIR, "/srv/ox"),
                (ENV_ADMIN_PASSWORD, "s3cret"),
            ],
            Some("local.toml"),
        );
        assert_eq!(
            launch.environment,
            vec![
                (ENV_STATE_DIR, "/srv/ox".to_owned()),
                (
                    ENV_CIRROS_IMAGE,
                    cwd.join("img/c.qcow2").display().to_string()
                ),
            ]
        );
        assert_eq!(launch.config_file, Some(cwd.join("local.toml")));
        assert_eq!(launch.admin_password.as_deref(), Some("s3cret"));
    }

    #[test]
    fn client_commands_carry_what_finds_the_cloud_and_no_secret() {
        let command = launch(
            &[
                (ENV_LISTEN, "127.0.0.1:9000"),
                (ENV_CIRROS_IMAGE, "/i.qcow2"),
                (ENV_ADMIN_PASSWORD, "s3cret"),
            ],
            Some("/etc/ox.toml"),
        )
        .client_command("openrc", &["admin", "admin"]);
        assert_eq!(
            command,
            "OXISTACK_LISTEN=127.0.0.1:9000 '/opt/ox dir/oxistack' openrc --config /etc/ox.toml admin admin"
        );
        assert_eq!(
            launch(
                &[
                    (ENV_CIRROS_IMAGE, "/i.qcow2"),
                    (ENV_ADMIN_PASSWORD, "s3cret")
                ],
                None
            )
            .full_command("up"),
            "OXISTACK_CIRROS_IMAGE=/i.qcow2 '/opt/ox dir/oxistack' up"
        );
        assert_eq!(
            launch(&[], None).client_command("openrc", &["demo", "it's"]),
            r"'/opt/ox dir/oxistack' openrc demo 'it'\''s'"
        );
    }
}
