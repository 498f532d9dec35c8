//! The QEMU command line of an instance, and the QMP arguments that
//! hot-plug a NIC or a volume the same way. Pure functions, so tests can
//! pin them.

use std::collections::{BTreeMap, BTreeSet};

use oxistack_virt::{InstanceSpec, Nic, VIRTIO_SERIAL_LENGTH, VolumeDisk};
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
    /// PCI addresses (`0x5`) by device id, for a saved guest whose devices
    /// must sit where they sat when it was saved; other devices take the
    /// next free slot in command-line order.
    pub addresses: &'a BTreeMap<String, String>,
}

/// The device ids of the root disk and the config drive.
pub const ROOT_DEVICE: &str = "root-disk";
pub const CONFIG_DEVICE: &str = "config-disk";

/// QEMU's arguments (without the program) for a daemonized instance: no
/// monitor on stdio, the serial console on the unix socket `serial.sock`
/// (a server one client at a time may connect to, never waiting for one)
/// and appended to `console.log` whether a client is connected or not,
/// QMP on `qmp.sock`. `-pidfile` carries the instance directory, which is how
/// `/proc/<pid>/cmdline` is matched to the instance.
///
/// QEMU creates `-device`s in command-line order, each in the next free PCI
/// slot: the NICs first, then the root disk (the overlay, or the root
/// volume), the config drive and the volumes in attach order, so the guest
/// finds its root disk as `vda` and an instance without volumes keeps the
/// slots it had when its disks were `-drive if=virtio` (which QEMU created
/// after every `-device`).
pub fn qemu_arguments(options: &LaunchOptions) -> Vec<String> {
    let LaunchOptions {
        spec,
        paths,
        accel,
        vhost_net,
        incoming,
        addresses,
    } = options;
    let addr = |id: &str| match addresses.get(id) {
        Some(address) => format!(",addr={address}"),
        None => String::new(),
    };
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
            "socket,id=console,path={},server=on,wait=off,logfile={},logappend=on",
            path(&paths.serial_socket),
            path(&paths.console_log)
        ),
        "-serial".into(),
        "chardev:console".into(),
        "-qmp".into(),
        format!("unix:{},server=on,wait=off", path(&paths.qmp_socket)),
    ]);
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
                "virtio-net-pci,netdev={},mac={},id={},romfile={}",
                netdev_id(nic),
                escape(&nic.mac_address),
                device_id(nic),
                addr(&device_id(nic))
            ),
        ]);
    }
    // bootindex: the firmware boots the root disk even when a hot-plugged
    // volume took a lower slot (one a detached NIC freed) before a reset.
    match &spec.root_volume {
        None => args.extend([
            "-drive".into(),
            format!(
                "file={},if=none,id=root,format=qcow2,cache=writeback,discard=unmap",
                path(&paths.disk)
            ),
            "-device".into(),
            format!(
                "virtio-blk-pci,drive=root,id={ROOT_DEVICE},bootindex=1{}",
                addr(ROOT_DEVICE)
            ),
        ]),
        Some(volume) => {
            let mut device = volume_device_arguments(volume);
            device["id"] = json!(ROOT_DEVICE);
            device["bootindex"] = json!(1);
            push_volume(&mut args, volume, device, addresses);
        }
    }
    if spec.config_drive {
        args.extend([
            "-drive".into(),
            format!(
                "file={},if=none,id=config,format=raw,readonly=on",
                path(&paths.config_drive)
            ),
            "-device".into(),
            format!(
                "virtio-blk-pci,drive=config,id={CONFIG_DEVICE}{}",
                addr(CONFIG_DEVICE)
            ),
        ]);
    }
    for volume in &spec.volumes {
        push_volume(
            &mut args,
            volume,
            volume_device_arguments(volume),
            addresses,
        );
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

/// The block nodes of `volume`, file node first, as QMP `blockdev-add`
/// arguments and (as JSON) `-blockdev` options: a `file` node over the
/// volume's file and a `qcow2` or `raw` node over it, host page cache on
/// (`cache.direct=off`), discards passed down. File locking stays on: a
/// shareable volume's device says `share-rw`, which lets QEMUs that all say
/// it open the file read-write together and still keeps out any that does not.
pub fn blockdev_add_arguments(volume: &VolumeDisk) -> [Value; 2] {
    let mut file = json!({
        "driver": "file",
        "node-name": volume_file_node(&volume.volume_id),
        "filename": volume.path.to_string_lossy(),
        "cache": { "direct": false },
    });
    let mut format = json!({
        "driver": volume.format,
        "node-name": volume_node(&volume.volume_id),
        "file": volume_file_node(&volume.volume_id),
        "cache": { "direct": false },
    });
    for node in [&mut file, &mut format] {
        if volume.read_only {
            node["read-only"] = json!(true);
        } else {
            node["discard"] = json!("unmap");
        }
    }
    [file, format]
}

/// QMP `device_add` arguments (and, as JSON, the `-device` option) for
/// `volume`: a virtio-blk disk whose serial is the volume id's start.
pub fn volume_device_arguments(volume: &VolumeDisk) -> Value {
    let mut device = json!({
        "driver": "virtio-blk-pci",
        "drive": volume_node(&volume.volume_id),
        "id": volume_device_id(&volume.volume_id),
        "serial": volume.serial(),
    });
    if volume.shareable {
        device["share-rw"] = json!(true);
    }
    device
}

/// Why QEMU cannot be given `volume`, if it cannot.
pub fn unsupported_volume(volume: &VolumeDisk) -> Option<String> {
    match volume.format.as_str() {
        "qcow2" | "raw" => None,
        other => Some(format!(
            "volume {} has the disk format {other}; only qcow2 and raw are supported",
            volume.volume_id
        )),
    }
}

/// Appends `volume`'s `-blockdev`s and its `-device` (given, as JSON).
fn push_volume(
    args: &mut Vec<String>,
    volume: &VolumeDisk,
    mut device: Value,
    addresses: &BTreeMap<String, String>,
) {
    for node in blockdev_add_arguments(volume) {
        args.extend(["-blockdev".into(), node.to_string()]);
    }
    if let Some(address) = device["id"].as_str().and_then(|id| addresses.get(id)) {
        device["addr"] = json!(address);
    }
    args.extend(["-device".into(), device_option(&device)]);
}

/// A `device_add` argument object as a `-device` option list. Not as JSON:
/// QEMU 7.2 creates JSON `-device`s after all the others, which would put
/// the volumes in lower PCI slots than the disks before them.
fn device_option(device: &Value) -> String {
    let fields = device.as_object().into_iter().flatten();
    let mut option = device["driver"].as_str().unwrap_or_default().to_owned();
    for (key, value) in fields.filter(|(key, _)| *key != "driver") {
        let value = match value {
            Value::String(text) => escape(text),
            Value::Bool(true) => "on".to_owned(),
            Value::Bool(false) => "off".to_owned(),
            other => other.to_string(),
        };
        option.push_str(&format!(",{key}={value}"));
    }
    option
}

/// The ids of every device [`qemu_arguments`] gives `spec`, to compare
/// with the devices a saved guest had.
pub fn device_ids(spec: &InstanceSpec) -> BTreeSet<String> {
    let mut ids: BTreeSet<String> = spec.nics.iter().map(device_id).collect();
    ids.insert(ROOT_DEVICE.to_owned());
    if spec.config_drive {
        ids.insert(CONFIG_DEVICE.to_owned());
    }
    ids.extend(spec.volumes.iter().map(|v| volume_device_id(&v.volume_id)));
    ids
}

/// The node name of a volume's format node: `vol-` + the id's first 20
/// characters (its serial), within QEMU's 31 for node names.
pub fn volume_node(volume_id: &str) -> String {
    qemu_id("vol", volume_id, VIRTIO_SERIAL_LENGTH)
}

/// The node name of a volume's file node.
pub fn volume_file_node(volume_id: &str) -> String {
    format!("{}-file", volume_node(volume_id))
}

/// The QEMU id of a volume's virtio-blk device.
pub fn volume_device_id(volume_id: &str) -> String {
    qemu_id("volume", volume_id, VIRTIO_SERIAL_LENGTH)
}

/// The QEMU id of a NIC's backend. Derived from the port rather than the
/// NIC's position, so hot-plugs after detaches never collide.
pub fn netdev_id(nic: &Nic) -> String {
    qemu_id("net", &nic.port_id, 11)
}

/// The QEMU id of a NIC's device.
pub fn device_id(nic: &Nic) -> String {
    qemu_id("nic", &nic.port_id, 11)
}

/// `<prefix>-<first length characters of id>` with anything QEMU does not
/// allow in an id replaced by `_`; a port's 11 characters as in the tap's
/// name, a volume's 20 as in its serial.
fn qemu_id(prefix: &str, id: &str, length: usize) -> String {
    let suffix: String = id
        .chars()
        .take(length)
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
            root_volume: None,
            volumes: Vec::new(),
        }
    }

    fn volume(id: &str, format: &str) -> VolumeDisk {
        VolumeDisk {
            volume_id: id.into(),
            path: format!("/srv/volumes/{id},x").into(),
            format: format.into(),
            shareable: false,
            read_only: false,
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
            addresses: &BTreeMap::new(),
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
            &format!(
                "socket,id=console,path={dir}/serial.sock,server=on,wait=off,\
                 logfile={dir}/console.log,logappend=on"
            ),
            "-serial",
            "chardev:console",
            "-qmp",
            &format!("unix:{dir}/qmp.sock,server=on,wait=off"),
            "-netdev",
            "tap,id=net-5d2e8a91-7f,ifname=tap5d2e8a91-7f,script=no,downscript=no",
            "-device",
            "virtio-net-pci,netdev=net-5d2e8a91-7f,mac=fa:16:3e:12:34:56,id=nic-5d2e8a91-7f,romfile=",
            "-drive",
            &format!(
                "file={dir}/disk.qcow2,if=none,id=root,format=qcow2,cache=writeback,discard=unmap"
            ),
            "-device",
            "virtio-blk-pci,drive=root,id=root-disk,bootindex=1",
            "-drive",
            &format!("file={dir}/config.iso,if=none,id=config,format=raw,readonly=on"),
            "-device",
            "virtio-blk-pci,drive=config,id=config-disk",
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
            addresses: &BTreeMap::new(),
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

    /// The `-blockdev` (JSON) and virtio-blk `-device` options, parsed into
    /// objects (`on` as true, digits as numbers).
    fn volume_options(args: &[String]) -> Vec<(String, Value)> {
        args.windows(2)
            .filter_map(|pair| match pair[0].as_str() {
                "-blockdev" => Some((pair[0].clone(), serde_json::from_str(&pair[1]).unwrap())),
                "-device" if pair[1].contains("drive=vol-") => {
                    let (driver, rest) = pair[1].split_once(',').unwrap();
                    let mut device = json!({ "driver": driver });
                    for field in rest.split(',') {
                        let (key, value) = field.split_once('=').unwrap();
                        device[key] = match value {
                            "on" => json!(true),
                            _ => value.parse::<u64>().map_or(json!(value), |n| json!(n)),
                        };
                    }
                    Some((pair[0].clone(), device))
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn volumes_follow_the_root_disk_and_the_config_drive_in_attach_order() {
        let mut spec = spec();
        let mut shared = volume("6f1c9e0a-2b3d-4c5e-8f70-91a2b3c4d5e6", "raw");
        shared.shareable = true;
        let mut read_only = volume("a7b8c9d0-e1f2-4a3b-9c4d-5e6f70819203", "qcow2");
        read_only.read_only = true;
        spec.volumes = vec![shared.clone(), read_only.clone()];
        let paths = InstancePaths::new(Path::new("/srv/instances"), &spec.id).unwrap();
        let mut addresses = BTreeMap::new();
        addresses.insert("root-disk".to_owned(), "0x4".to_owned());
        addresses.insert("volume-6f1c9e0a-2b3d-4c5e-8".to_owned(), "0x7".to_owned());
        let args = qemu_arguments(&LaunchOptions {
            spec: &spec,
            paths: &paths,
            accel: ResolvedAccel::Tcg,
            vhost_net: false,
            incoming: true,
            addresses: &addresses,
        });
        let config = args
            .iter()
            .position(|a| a.contains("id=config-disk"))
            .unwrap();
        assert_eq!(
            args[config - 4],
            "virtio-blk-pci,drive=root,id=root-disk,bootindex=1,addr=0x4"
        );
        let options = volume_options(&args[config + 1..]);
        let shared_file = json!({"driver": "file", "node-name": "vol-6f1c9e0a-2b3d-4c5e-8-file",
            "filename": "/srv/volumes/6f1c9e0a-2b3d-4c5e-8f70-91a2b3c4d5e6,x",
            "cache": {"direct": false}, "discard": "unmap"});
        let shared_format = json!({"driver": "raw", "node-name": "vol-6f1c9e0a-2b3d-4c5e-8",
            "file": "vol-6f1c9e0a-2b3d-4c5e-8-file", "cache": {"direct": false}, "discard": "unmap"});
        assert_eq!(
            options,
            vec![
                ("-blockdev".to_owned(), shared_file),
                ("-blockdev".to_owned(), shared_format),
                (
                    "-device".to_owned(),
                    json!({"driver": "virtio-blk-pci",
                    "drive": "vol-6f1c9e0a-2b3d-4c5e-8", "id": "volume-6f1c9e0a-2b3d-4c5e-8",
                    "serial": "6f1c9e0a-2b3d-4c5e-8", "share-rw": true, "addr": "0x7"})
                ),
                (
                    "-blockdev".to_owned(),
                    json!({"driver": "file",
                    "node-name": "vol-a7b8c9d0-e1f2-4a3b-9-file",
                    "filename": "/srv/volumes/a7b8c9d0-e1f2-4a3b-9c4d-5e6f70819203,x",
                    "cache": {"direct": false}, "read-only": true})
                ),
                (
                    "-blockdev".to_owned(),
                    json!({"driver": "qcow2",
                    "node-name": "vol-a7b8c9d0-e1f2-4a3b-9", "file": "vol-a7b8c9d0-e1f2-4a3b-9-file",
                    "cache": {"direct": false}, "read-only": true})
                ),
                (
                    "-device".to_owned(),
                    json!({"driver": "virtio-blk-pci",
                    "drive": "vol-a7b8c9d0-e1f2-4a3b-9", "id": "volume-a7b8c9d0-e1f2-4a3b-9",
                    "serial": "a7b8c9d0-e1f2-4a3b-9"})
                ),
            ]
        );
        // -incoming comes last, after the volumes.
        assert_eq!(args[args.len() - 2], "-incoming");
        // Node names fit QEMU's 31 characters.
        assert!(volume_file_node(&shared.volume_id).len() <= 31);
        assert_eq!(
            device_ids(&spec).into_iter().collect::<Vec<_>>(),
            [
                "config-disk",
                "nic-5d2e8a91-7f",
                "root-disk",
                "volume-6f1c9e0a-2b3d-4c5e-8",
                "volume-a7b8c9d0-e1f2-4a3b-9"
            ]
        );
    }

    #[test]
    fn a_root_volume_replaces_the_overlay() {
        let mut spec = spec();
        spec.config_drive = false;
        spec.nics.clear();
        spec.root_volume = Some(volume("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "qcow2"));
        let paths = InstancePaths::new(Path::new("/srv/instances"), &spec.id).unwrap();
        let args = qemu_arguments(&LaunchOptions {
            spec: &spec,
            paths: &paths,
            accel: ResolvedAccel::Tcg,
            vhost_net: false,
            incoming: false,
            addresses: &BTreeMap::new(),
        });
        assert!(!args.join(" ").contains("disk.qcow2"), "{args:?}");
        let options = volume_options(&args);
        assert_eq!(options.len(), 3, "{args:?}");
        assert_eq!(options[1].1["driver"], "qcow2");
        assert_eq!(
            options[2].1,
            json!({"driver": "virtio-blk-pci", "drive": "vol-0a1b2c3d-4e5f-4a6b-8",
                   "id": "root-disk", "serial": "0a1b2c3d-4e5f-4a6b-8", "bootindex": 1})
        );
        assert_eq!(
            device_ids(&spec).into_iter().collect::<Vec<_>>(),
            ["root-disk"]
        );
    }

    #[test]
    fn device_options_are_option_lists_in_key_order() {
        let device = json!({"driver": "virtio-blk-pci", "serial": "a,b", "share-rw": true,
                            "bootindex": 1, "id": "x"});
        assert_eq!(
            device_option(&device),
            "virtio-blk-pci,bootindex=1,id=x,serial=a,,b,share-rw=on"
        );
    }

    #[test]
    fn volume_hot_plug_arguments_and_unsupported_formats() {
        let disk = volume("odd id/with,comma-and-more", "raw");
        let [file, format] = blockdev_add_arguments(&disk);
        assert_eq!(file["node-name"], "vol-odd_id_with_comma-an-file");
        assert_eq!(
            file["filename"],
            "/srv/volumes/odd id/with,comma-and-more,x"
        );
        assert_eq!(format["file"], file["node-name"]);
        assert_eq!(
            volume_device_arguments(&disk),
            json!({"driver": "virtio-blk-pci", "drive": "vol-odd_id_with_comma-an",
                   "id": "volume-odd_id_with_comma-an", "serial": "odd id/with,comma-an"})
        );
        assert_eq!(unsupported_volume(&disk), None);
        let vmdk = volume("v", "vmdk");
        assert!(unsupported_volume(&vmdk).unwrap().contains("vmdk"));
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
