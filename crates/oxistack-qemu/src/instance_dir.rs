//! An instance's state directory, `<instances_dir>/<id>/`: everything the
//! driver needs to start, find and stop the instance without a database.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use oxistack_virt::InstanceSpec;

/// The files of one instance.
#[derive(Debug, Clone)]
pub struct InstancePaths {
    pub dir: PathBuf,
    /// The [`InstanceSpec`] as JSON; written last when an instance is
    /// prepared, so a directory without it is an unfinished spawn.
    pub spec: PathBuf,
    pub disk: PathBuf,
    pub config_drive: PathBuf,
    pub console_log: PathBuf,
    /// The guest's serial port, interactive: QEMU listens on it (one
    /// client at a time) and logs the guest's output to `console_log`
    /// whether or not a client is connected. Instances started by builds
    /// before it existed have none.
    pub serial_socket: PathBuf,
    pub qmp_socket: PathBuf,
    pub pidfile: PathBuf,
    /// The guest's memory and device state while it is suspended to disk
    /// (see `suspend`); present only between a save and the next start.
    pub saved_state: PathBuf,
    /// The saved guest's PCI addresses by device id, so that it is loaded
    /// into the same slots (hot-plugs may have left them in another order
    /// than the command line's).
    pub saved_devices: PathBuf,
    /// Where QEMU streams that state, out when saving and in when resuming.
    pub migration_socket: PathBuf,
}

impl InstancePaths {
    /// The paths of instance `id`, or `None` if `id` cannot name a
    /// directory (empty, `.`/`..`, or with a `/`), so no id escapes
    /// `instances_dir`.
    pub fn new(instances_dir: &Path, id: &str) -> Option<InstancePaths> {
        if id.is_empty() || id == "." || id == ".." || id.contains(['/', '\0']) {
            return None;
        }
        let dir = instances_dir.join(id);
        Some(InstancePaths {
            spec: dir.join("spec.json"),
            disk: dir.join("disk.qcow2"),
            config_drive: dir.join("config.iso"),
            console_log: dir.join("console.log"),
            serial_socket: dir.join("serial.sock"),
            qmp_socket: dir.join("qmp.sock"),
            pidfile: dir.join("qemu.pid"),
            saved_state: dir.join("saved-state"),
            saved_devices: dir.join("saved-state.devices.json"),
            migration_socket: dir.join("migration.sock"),
            dir,
        })
    }

    /// Whether the instance exists: its directory holds a spec.
    pub fn exists(&self) -> bool {
        self.spec.is_file()
    }

    /// Creates the directory, readable by root only (it holds the admin
    /// password and user data).
    pub fn create_dir(&self) -> io::Result<()> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
    }
}

/// The console log may grow to this size before a start trims it.
const CONSOLE_LOG_LIMIT: u64 = 1 << 20;
/// What a trim keeps: the end of the log, the most recent boots.
const CONSOLE_LOG_KEPT: usize = 256 << 10;

/// Trims the console log to its last [`CONSOLE_LOG_KEPT`] bytes once it
/// is over [`CONSOLE_LOG_LIMIT`]. QEMU appends to it across restarts, so
/// without this a guest that reboots often would fill the disk. Called
/// while no QEMU writes to it.
pub fn trim_console_log(path: &Path) -> io::Result<()> {
    let size = match fs::metadata(path) {
        Ok(metadata) => metadata.len(),
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(error),
    };
    if size <= CONSOLE_LOG_LIMIT {
        return Ok(());
    }
    let log = fs::read(path)?;
    let kept = &log[log.len().saturating_sub(CONSOLE_LOG_KEPT)..];
    // Start at a line, so the first one is not cut in half.
    let kept = match kept.iter().position(|b| *b == b'\n') {
        Some(newline) => &kept[newline + 1..],
        None => kept,
    };
    let partial = path.with_extension("log.part");
    fs::write(&partial, kept)?;
    fs::rename(&partial, path)
}

/// Writes `spec` to `path` so that a crash leaves either the old or the new
/// spec, never half of one: a 0600 temporary file, fsync, rename, fsync of
/// the directory.
pub fn write_spec(path: &Path, spec: &InstanceSpec) -> io::Result<()> {
    let json = serde_json::to_vec_pretty(spec).map_err(io::Error::other)?;
    let temporary = path.with_extension("json.tmp");
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)?;
    file.write_all(&json)?;
    file.sync_all()?;
    fs::rename(&temporary, path)?;
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

pub fn read_spec(path: &Path) -> io::Result<InstanceSpec> {
    let json = fs::read(path)?;
    serde_json::from_slice(&json).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} is not a valid instance spec: {e}", path.display()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_console_logs_keep_their_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("console.log");
        trim_console_log(&log).unwrap();
        fs::write(&log, b"short\n").unwrap();
        trim_console_log(&log).unwrap();
        assert_eq!(fs::read(&log).unwrap(), b"short\n");
        let line = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n";
        let long: Vec<u8> = line.repeat(20_000);
        fs::write(&log, [&long[..], b"last boot\n"].concat()).unwrap();
        trim_console_log(&log).unwrap();
        let trimmed = fs::read(&log).unwrap();
        assert!(trimmed.len() <= CONSOLE_LOG_KEPT, "{}", trimmed.len());
        assert!(trimmed.len() > CONSOLE_LOG_KEPT - 2 * line.len());
        assert!(trimmed.starts_with(line));
        assert!(trimmed.ends_with(b"last boot\n"));
    }
    use oxistack_virt::{ImageSource, InstanceMetadata, Nic};
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn ids_that_would_escape_the_directory_are_refused() {
        let base = Path::new("/srv/instances");
        assert!(InstancePaths::new(base, "").is_none());
        assert!(InstancePaths::new(base, "..").is_none());
        assert!(InstancePaths::new(base, "a/../../etc").is_none());
        let paths = InstancePaths::new(base, "0c4e7e63").unwrap();
        assert_eq!(paths.pidfile, Path::new("/srv/instances/0c4e7e63/qemu.pid"));
    }

    #[test]
    fn the_spec_round_trips_through_a_private_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spec.json");
        let mut spec = InstanceSpec {
            id: "0c4e7e63-5e0f-4b7a-9d0e-1d2f3a4b5c6d".into(),
            name: "web, 1".into(),
            hostname: "web-1".into(),
            project_id: "p".into(),
            availability_zone: "nova".into(),
            vcpus: 2,
            memory_mib: 512,
            root_disk_gib: 1,
            image: ImageSource {
                id: "img".into(),
                path: Some("/images/cirros".into()),
                disk_format: Some("qcow2".into()),
            },
            nics: vec![Nic {
                port_id: "port".into(),
                mac_address: "fa:16:3e:00:00:01".into(),
                network_id: "net".into(),
                fixed_ips: vec!["10.0.0.5".parse().unwrap()],
            }],
            config_drive: true,
            metadata: InstanceMetadata {
                admin_password: Some("secret".into()),
                ..InstanceMetadata::default()
            },
            root_volume: None,
            volumes: Vec::new(),
        };
        write_spec(&path, &spec).unwrap();
        assert_eq!(read_spec(&path).unwrap(), spec);
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);

        spec.nics.clear();
        write_spec(&path, &spec).unwrap();
        assert_eq!(read_spec(&path).unwrap(), spec);
        assert!(!path.with_extension("json.tmp").exists());

        fs::write(&path, "{").unwrap();
        let error = read_spec(&path).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }
}
