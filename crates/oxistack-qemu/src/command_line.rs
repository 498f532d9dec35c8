//! The QEMU command line of an instance, and the QMP arguments that
//! hot-plug a NIC the same way. Pure functions, so tests can pin them.

use oxistack_virt::{InstanceSpec, Nic};
use serde_json::{Value, json};

use crate::ResolvedAccel;
use crate::instance_dir::InstancePaths;

pub const QEMU: &str = "qemu-system-x86_64";

/// What besides the spec decides how an instance is started.
pub struct LaunchOptions<'a> {
    pub spec: &'a InstanceSpec,
    pub paths: &'a InstancePaths,
    pub accel: ResolvedAccel,
    /// Whether `/dev/vhost-net` exists, which moves virtio-net's data path
    /// into the host kernel.
    pub vhost_net: bool,
    /// Whether QEMU loads a saved guest from its migration socket instead
    /// of booting.
    pub incoming: bool,
}

/// QEMU's arguments (without the program) for a daemonized instance: no
/// monitor on stdio, serial console appended to `console.log`, QMP on
/// `qmp.sock`. `-pidfile` carries the instance directory, which is how
/// `/proc/<pid>/cmdline` is matched to the instance.
pub fn qemu_arguments(options: &LaunchOptions) -> Vec<String> {
    let LaunchOptions {
        spec,
        paths,
        accel,
        vhost_net,
        incoming,
    } = options;
    let path = |p: &std::path::Path| escape(&p.to_string_lossy());
    let mut args: Vec<String> = vec![
        "-name".into(),
        format!("guest={},debug-threads=on", escape(&spec.name)),
        "-uuid".into(),
        spec.id.clone(),
        "-no-user-config".into(),
        "-nodefaults".into(),
    ];
    match accel {
        ResolvedAccel::Kvm => args.extend([
            "-machine".into(),
            "pc,accel=kvm".into(),
            "-cpu".into(),
            "host".into(),
        ]),
        // The research notes (docs/research/test-image.md): the default
        // CPU model boots as fast as `-cpu max` under TCG.
        ResolvedAccel::Tcg => args.extend(["-machine".into(), "pc,accel=tcg".into()]),
    }
    args.extend([
        "-smp".into(),
        spec.vcpus.to_string(),
        "-m".into(),
        spec.memory_mib.to_string(),
        "-display".into(),
        "none".into(),
        "-daemonize".into(),
        "-pidfile".into(),
        paths.pidfile.to_string_lossy().into_owned(),
        "-chardev".into(),
        format!(
            "file,id=console,path={},append=on",
            path(&paths.console_log)
        ),
        "-serial".into(),
        "chardev:console".into(),
        "-qmp".into(),
        format!("unix:{},server=on,wait=off", path(&paths.qmp_socket)),
        "-drive".into(),
        format!(
            "file={},if=virtio,format=qcow2,cache=writeback,discard=unmap",
            path(&paths.disk)
        ),
    ]);
    if spec.config_drive {
        args.extend([
            "-drive".into(),
            format!(
                "file={},if=virtio,format=raw,readonly=on",
                path(&paths.config_drive)
            ),
        ]);
    }
    for nic in &spec.nics {
        args.extend([
            "-netdev".into(),
            format!(
                "tap,id={},ifname={},script=no,downscript=no{}",
                netdev_id(nic),
                escape(&nic.tap_name()),
                if *vhost_net { ",vhost=on" } else { "" }
            ),
            "-device".into(),
            format!(
                "virtio-net-pci,netdev={},mac={},id={},romfile=",
                netdev_id(nic),
                escape(&nic.mac_address),
                device_id(nic)
            ),
        ]);
    }
    if *incoming {
        args.extend([
            "-incoming".into(),
            format!("unix:{}", path(&paths.migration_socket)),
        ]);
    }
    args
}

/// QMP `netdev_add` arguments for `nic`, equal to its `-netdev` option.
pub fn netdev_add_arguments(nic: &Nic, vhost_net: bool) -> Value {
    let mut arguments = json!({
        "type": "tap",
        "id": netdev_id(nic),
        "ifname": nic.tap_name(),
        "script": "no",
        "downscript": "no",
    });
    if vhost_net {
        arguments["vhost"] = json!(true);
    }
    arguments
}

/// QMP `device_add` arguments for `nic`, equal to its `-device` option.
pub fn device_add_arguments(nic: &Nic) -> Value {
    json!({
        "driver": "virtio-net-pci",
        "netdev": netdev_id(nic),
        "mac": nic.mac_address,
        "id": device_id(nic),
        "romfile": "",
    })
}

/// The QEMU id of a NIC's backend. Derived from the port rather than the
/// NIC's position, so hot-plugs after detaches never collide.
pub fn netdev_id(nic: &Nic) -> String {
    qemu_id("net", &nic.port_id)
}

/// The QEMU id of a NIC's device.
pub fn device_id(nic: &Nic) -> String {
    qemu_id("nic", &nic.port_id)
}

/// `<prefix>-<first 11 characters of port_id>` with anything QEMU does not
/// allow in an id replaced by `_`; 11 characters as in the tap's name.
fn qemu_id(prefix: &str, port_id: &str) -> String {
    let suffix: String = port_id
        .chars()
        .take(11)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{prefix}-{suffix}")
}

/// Escapes a value inside a QEMU option list, where `,` separates options.
fn escape(value: &str) -> String {
    value.replace(',', ",,")
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxistack_virt::{ImageSource, InstanceMetadata};
    use std::path::Path;

    fn spec() -> InstanceSpec {
        InstanceSpec {
            id: "0c4e7e63-5e0f-4b7a-9d0e-1d2f3a4b5c6d".into(),
            name: "web,1".into(),
            hostname: "web-1".into(),
            project_id: "p".into(),
            availability_zone: "nova".into(),
            vcpus: 2,
            memory_mib: 256,
            root_disk_gib: 1,
            image: ImageSource {
                id: "img".into(),
                path: None,
                disk_format: None,
            },
            nics: vec![Nic {
                port_id: "5d2e8a91-7f3c-4e1b-9a0d-2c4b6e8f0a1c".into(),
                mac_address: "fa:16:3e:12:34:56".into(),
                network_id: "net".into(),
                fixed_ips: Vec::new(),
            }],
            config_drive: true,
            metadata: InstanceMetadata::default(),
        }
    }

    #[test]
    fn a_tcg_instance_with_a_nic_and_a_config_drive() {
        let spec = spec();
        let paths = InstancePaths::new(Path::new("/srv/instances"), &spec.id).unwrap();
        let args = qemu_arguments(&LaunchOptions {
            spec: &spec,
            paths: &paths,
            accel: ResolvedAccel::Tcg,
            vhost_net: false,
            incoming: false,
        });
        let dir = "/srv/instances/0c4e7e63-5e0f-4b7a-9d0e-1d2f3a4b5c6d";
        let expected: Vec<String> = [
            "-name",
            "guest=web,,1,debug-threads=on",
            "-uuid",
            "0c4e7e63-5e0f-4b7a-9d0e-1d2f3a4b5c6d",
            "-no-user-config",
            "-nodefaults",
            "-machine",
            "pc,accel=tcg",
            "-smp",
            "2",
            "-m",
            "256",
            "-display",
            "none",
            "-daemonize",
            "-pidfile",
            &format!("{dir}/qemu.pid"),
            "-chardev",
            &format!("file,id=console,path={dir}/console.log,append=on"),
            "-serial",
            "chardev:console",
            "-qmp",
            &format!("unix:{dir}/qmp.sock,server=on,wait=off"),
            "-drive",
            &format!(
                "file={dir}/disk.qcow2,if=virtio,format=qcow2,cache=writeback,discard=unmap"
            ),
            "-drive",
            &format!("file={dir}/config.iso,if=virtio,format=raw,readonly=on"),
            "-netdev",
            "tap,id=net-5d2e8a91-7f,ifname=tap5d2e8a91-7f,script=no,downscript=no",
            "-device",
            "virtio-net-pci,netdev=net-5d2e8a91-7f,mac=fa:16:3e:12:34:56,id=nic-5d2e8a91-7f,romfile=",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(args, expected);
    }

    #[test]
    fn kvm_uses_the_host_cpu_and_vhost_when_available() {
        let mut spec = spec();
        spec.config_drive = false;
        let paths = InstancePaths::new(Path::new("/srv/a,b"), &spec.id).unwrap();
        let args = qemu_arguments(&LaunchOptions {
            spec: &spec,
            paths: &paths,
            accel: ResolvedAccel::Kvm,
            vhost_net: true,
            incoming: true,
        })
        .join(" ");
        assert!(args.contains("-machine pc,accel=kvm -cpu host"), "{args}");
        assert!(args.contains(",downscript=no,vhost=on "), "{args}");
        assert!(!args.contains("config.iso"), "{args}");
        // Commas in paths are doubled inside option lists only.
        assert!(args.contains("path=/srv/a,,b/"), "{args}");
        assert!(args.contains("-pidfile /srv/a,b/"), "{args}");
        // A suspended guest is loaded from its migration socket.
        assert!(
            args.ends_with(&format!(
                "-incoming unix:/srv/a,,b/{}/migration.sock",
                spec.id
            )),
            "{args}"
        );
    }

    #[test]
    fn hot_plug_arguments_match_the_command_line() {
        let nic = Nic {
            port_id: "odd port/id".into(),
            ..spec().nics[0].clone()
        };
        assert_eq!(
            netdev_add_arguments(&nic, false),
            json!({"type": "tap", "id": "net-odd_port_id", "ifname": "tapodd port/id",
                   "script": "no", "downscript": "no"})
        );
        assert_eq!(netdev_add_arguments(&nic, true)["vhost"], json!(true));
        assert_eq!(
            device_add_arguments(&nic),
            json!({"driver": "virtio-net-pci", "netdev": "net-odd_port_id",
                   "mac": "fa:16:3e:12:34:56", "id": "nic-odd_port_id", "romfile": ""})
        );
    }
}
