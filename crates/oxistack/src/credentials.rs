//! The admin password, the openrc exports and clouds.yaml: how users get
//! credentials for the cloud, as DevStack's openrc and clouds.yaml do.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;
use rand::Rng;
use rand::distributions::Alphanumeric;

use crate::config::Config;

const PASSWORD_FILE: &str = "admin-password";
const CLOUDS_FILE: &str = "clouds.yaml";

/// Writes `contents` to `path` readable by its owner only, atomically, so
/// the secret is never visible with wider permissions, even briefly.
pub fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    let temporary = path.with_extension("tmp");
    let _ = std::fs::remove_file(&temporary);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temporary)
        .with_context(|| format!("cannot create {}", temporary.display()))?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(())
}

/// The admin password in force, and whether it was generated just now (the
/// only time it is printed).
pub struct AdminPassword {
    pub password: String,
    pub generated: bool,
}

/// The configured admin password, else the one generated on an earlier
/// start, else a new one stored (0600) in the state directory.
pub fn admin_password(config: &Config, create: bool) -> anyhow::Result<AdminPassword> {
    if let Some(password) = &config.admin_password {
        return Ok(AdminPassword {
            password: password.clone(),
            generated: false,
        });
    }
    let path = config.state_dir.join(PASSWORD_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => {
            return Ok(AdminPassword {
                password: text.trim().to_owned(),
                generated: false,
            });
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
    if !create {
        anyhow::bail!(
            "no admin password is configured and {} does not exist: has `oxistack up` run with this state directory?",
            path.display()
        );
    }
    let password: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(20)
        .map(char::from)
        .collect();
    write_private(&path, &format!("{password}\n"))?;
    Ok(AdminPassword {
        password,
        generated: true,
    })
}

/// Quotes `value` for a POSIX shell.
pub(crate) fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// Shell exports for `user` on `project`, as `source openrc USER PROJECT`
/// gives in DevStack. OS_PASSWORD is the admin password unless the caller's
/// environment already has one.
pub fn openrc(config: &Config, user: &str, project: &str, password: Option<&str>) -> String {
    let mut lines = vec![
        format!(
            "export OS_AUTH_URL={}",
            shell_quote(&format!("{}/identity", config.public_url()))
        ),
        format!("export OS_USERNAME={}", shell_quote(user)),
        format!("export OS_PROJECT_NAME={}", shell_quote(project)),
        "export OS_USER_DOMAIN_ID=default".to_owned(),
        "export OS_PROJECT_DOMAIN_ID=default".to_owned(),
        format!("export OS_REGION_NAME={}", shell_quote(&config.region)),
        "export OS_IDENTITY_API_VERSION=3".to_owned(),
        "export OS_INTERFACE=public".to_owned(),
        "export OS_AUTH_TYPE=password".to_owned(),
        // A leftover cloud name or token would override these settings.
        "unset OS_CLOUD OS_TOKEN OS_PROJECT_ID OS_TENANT_NAME OS_TENANT_ID".to_owned(),
    ];
    if let Some(password) = password {
        lines.push(format!("export OS_PASSWORD={}", shell_quote(password)));
    }
    lines.join("\n") + "\n"
}

/// Writes clouds.yaml (0600) with `admin` and `demo` entries; `--os-cloud
/// admin` or `OS_CLOUD=demo` use it.
pub fn write_clouds_yaml(config: &Config, admin_password: &str) -> anyhow::Result<PathBuf> {
    // YAML accepts JSON's double-quoted strings, so JSON quoting is safe here.
    let quote = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let entry = |name: &str, project: &str| {
        format!(
            "  {name}:\n    auth:\n      auth_url: {}\n      username: {}\n      password: {}\n      project_name: {}\n      user_domain_id: default\n      project_domain_id: default\n    region_name: {}\n    interface: public\n    identity_api_version: 3\n",
            quote(&format!("{}/identity", config.public_url())),
            quote(name),
            quote(admin_password),
            quote(project),
            quote(&config.region),
        )
    };
    let text = format!(
        "clouds:\n{}{}",
        entry("admin", "admin"),
        entry("demo", "demo")
    );
    let path = config.state_dir.join(CLOUDS_FILE);
    write_private(&path, &text)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_hostile_passwords() {
        assert_eq!(shell_quote("a'b $x"), r"'a'\''b $x'");
    }

    #[test]
    fn private_files_are_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        write_private(&path, "x").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
