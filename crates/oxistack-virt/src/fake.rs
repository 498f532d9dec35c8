//! A driver without a hypervisor: instances are entries in memory that go
//! through the same state transitions a real guest would, instantly. Tests
//! use its failure switches to reach the compute service's error paths.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Mutex;
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

use crate::{
    ComputeDriver, CpuInfo, DriverError, DriverResult, HostInfo, InstanceInfo, InstanceSpec,
    InstanceState, Nic, RebootKind, SerialConsole, VolumeDisk, tail,
};

/// Every state an instance can be in on the host, for operations that work
/// on running and stopped instances alike.
const ANY_STATE: [InstanceState; 3] = [
    InstanceState::Running,
    InstanceState::Paused,
    InstanceState::Shutdown,
];

struct FakeInstance {
    spec: InstanceSpec,
    state: InstanceState,
    console: String,
}

impl FakeInstance {
    fn log(&mut self, line: &str) {
        self.console.push_str(line);
        self.console.push('\n');
    }
}

#[derive(Default)]
struct Switches {
    /// Spawning an instance of one of these images fails.
    failing_images: HashSet<String>,
    /// How long a spawn takes, so tests can observe servers in BUILD.
    spawn_delay: Duration,
}

/// The in-memory driver. Cheap to create; every instance disappears with
/// it, as on a host that rebooted.
pub struct FakeDriver {
    instances: Mutex<HashMap<String, FakeInstance>>,
    switches: Mutex<Switches>,
    host: HostInfo,
}

impl Default for FakeDriver {
    fn default() -> Self {
        FakeDriver::new()
    }
}

impl FakeDriver {
    pub fn new() -> Self {
        FakeDriver {
            instances: Mutex::new(HashMap::new()),
            switches: Mutex::new(Switches::default()),
            host: HostInfo {
                hostname: "fake-host".into(),
                host_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
                hypervisor_type: "fake".into(),
                hypervisor_version: 1_000,
                vcpus: 16,
                memory_mib: 65_536,
                disk_gib: 1_024,
                cpu: CpuInfo {
                    arch: "x86_64".into(),
                    model: "fake".into(),
                    vendor: "oxistack".into(),
                    sockets: 1,
                    cores: 16,
                    threads: 1,
                    features: Vec::new(),
                },
                uptime: " 00:00:00 up 1 day,  0:00,  0 users,  load average: 0.00, 0.00, 0.00"
                    .into(),
            },
        }
    }

    /// Makes every later spawn of `image_id` fail, as a corrupt image would.
    pub fn fail_spawns_of_image(&self, image_id: &str) {
        self.switches().failing_images.insert(image_id.to_owned());
    }

    /// Makes every later spawn take `delay`.
    pub fn set_spawn_delay(&self, delay: Duration) {
        self.switches().spawn_delay = delay;
    }

    /// Forgets every instance, as a host reboot (or a crash of the
    /// hypervisor) would.
    pub fn lose_all_instances(&self) {
        self.instances().clear();
    }

    /// The spec an instance was spawned with, NICs attached since included.
    pub fn spec(&self, id: &str) -> Option<InstanceSpec> {
        self.instances().get(id).map(|i| i.spec.clone())
    }

    fn instances(&self) -> std::sync::MutexGuard<'_, HashMap<String, FakeInstance>> {
        self.instances.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn switches(&self) -> std::sync::MutexGuard<'_, Switches> {
        self.switches.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies `change` to instance `id` if it is in one of `from`, else
    /// fails as a hypervisor refusing the operation would.
    fn transition(
        &self,
        id: &str,
        operation: &'static str,
        from: &[InstanceState],
        change: impl FnOnce(&mut FakeInstance),
    ) -> DriverResult<()> {
        let mut instances = self.instances();
        let instance = instances
            .get_mut(id)
            .ok_or_else(|| DriverError::NotFound(id.to_owned()))?;
        if !from.contains(&instance.state) {
            return Err(DriverError::Hypervisor {
                id: id.to_owned(),
                operation,
                reason: format!("the instance is {:?}", instance.state),
            });
        }
        change(instance);
        Ok(())
    }
}

impl ComputeDriver for FakeDriver {
    fn spawn<'a>(&'a self, spec: &'a InstanceSpec) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move {
            let (failing, delay) = {
                let switches = self.switches();
                (
                    switches.failing_images.contains(&spec.image.id),
                    switches.spawn_delay,
                )
            };
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            if failing {
                return Err(DriverError::ImageUnavailable {
                    id: spec.image.id.clone(),
                    reason: "the fake driver was told to fail it".into(),
                });
            }
            let mut instances = self.instances();
            let instance = instances
                .entry(spec.id.clone())
                .or_insert_with(|| FakeInstance {
                    spec: spec.clone(),
                    state: InstanceState::Shutdown,
                    console: String::new(),
                });
            instance.spec = spec.clone();
            instance.state = InstanceState::Running;
            // A few lines, as a boot writes them (and Nova's fake driver):
            // clients check that a whole console has more than a line.
            instance.log(&format!("[fake] {} booted", spec.hostname));
            instance.log("[fake] network configured");
            instance.log(&format!("[fake] {} login:", spec.hostname));
            Ok(())
        })
    }

    fn destroy<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move {
            self.instances().remove(id);
            Ok(())
        })
    }

    fn power_on<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move {
            self.transition(
                id,
                "power on",
                &[InstanceState::Shutdown, InstanceState::Running],
                |i| {
                    i.state = InstanceState::Running;
                    i.log("[fake] powered on");
                },
            )
        })
    }

    fn power_off<'a>(
        &'a self,
        id: &'a str,
        _graceful: Duration,
    ) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move {
            self.transition(
                id,
                "power off",
                &[
                    InstanceState::Running,
                    InstanceState::Paused,
                    InstanceState::Shutdown,
                ],
                |i| {
                    i.state = InstanceState::Shutdown;
                    i.log("[fake] powered off");
                },
            )
        })
    }

    fn reboot<'a>(&'a self, id: &'a str, kind: RebootKind) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move {
            let from: &[InstanceState] = match kind {
                RebootKind::Soft => &[InstanceState::Running],
                RebootKind::Hard => &[
                    InstanceState::Running,
                    InstanceState::Paused,
                    InstanceState::Shutdown,
                ],
            };
            self.transition(id, "reboot", from, |i| {
                i.state = InstanceState::Running;
                i.log(&format!("[fake] {kind:?} reboot"));
            })
        })
    }

    fn pause<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move {
            self.transition(id, "pause", &[InstanceState::Running], |i| {
                i.state = InstanceState::Paused;
            })
        })
    }

    fn unpause<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move {
            self.transition(id, "unpause", &[InstanceState::Paused], |i| {
                i.state = InstanceState::Running;
            })
        })
    }

    fn attach_nic<'a>(&'a self, id: &'a str, nic: &'a Nic) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move {
            self.transition(id, "attach a NIC to", &ANY_STATE, |i| {
                i.spec.nics.retain(|n| n.port_id != nic.port_id);
                i.spec.nics.push(nic.clone());
            })
        })
    }

    fn detach_nic<'a>(&'a self, id: &'a str, port_id: &'a str) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move {
            self.transition(id, "detach a NIC from", &ANY_STATE, |i| {
                i.spec.nics.retain(|n| n.port_id != port_id);
            })
        })
    }

    fn attach_volume<'a>(
        &'a self,
        id: &'a str,
        disk: &'a VolumeDisk,
    ) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move {
            self.transition(id, "attach a volume to", &ANY_STATE, |i| {
                i.spec.volumes.retain(|v| v.volume_id != disk.volume_id);
                i.spec.volumes.push(disk.clone());
            })
        })
    }

    fn detach_volume<'a>(
        &'a self,
        id: &'a str,
        volume_id: &'a str,
    ) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move {
            self.transition(id, "detach a volume from", &ANY_STATE, |i| {
                i.spec.volumes.retain(|v| v.volume_id != volume_id);
            })
        })
    }

    fn resize_volume<'a>(
        &'a self,
        id: &'a str,
        volume_id: &'a str,
        _size_bytes: u64,
    ) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move {
            let instances = self.instances();
            let instance = instances
                .get(id)
                .ok_or_else(|| DriverError::NotFound(id.to_owned()))?;
            if instance
                .spec
                .volumes
                .iter()
                .any(|v| v.volume_id == volume_id)
            {
                Ok(())
            } else {
                Err(DriverError::Hypervisor {
                    id: id.to_owned(),
                    operation: "resize a volume of",
                    reason: format!("volume {volume_id} is not attached"),
                })
            }
        })
    }

    fn console_output<'a>(
        &'a self,
        id: &'a str,
        tail_lines: Option<usize>,
    ) -> BoxFuture<'a, DriverResult<String>> {
        Box::pin(async move {
            let instances = self.instances();
            let instance = instances
                .get(id)
                .ok_or_else(|| DriverError::NotFound(id.to_owned()))?;
            Ok(tail(&instance.console, tail_lines))
        })
    }

    fn serial_console<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<SerialConsole>> {
        Box::pin(async move {
            let hostname = {
                let instances = self.instances();
                let instance = instances
                    .get(id)
                    .ok_or_else(|| DriverError::NotFound(id.to_owned()))?;
                if instance.state == InstanceState::Shutdown {
                    return Err(DriverError::NotRunning(id.to_owned()));
                }
                instance.spec.hostname.clone()
            };
            let (client, guest) = tokio::io::duplex(4096);
            tokio::spawn(fake_getty(guest, hostname));
            Ok(Box::new(client) as SerialConsole)
        })
    }

    fn state<'a>(&'a self, id: &'a str) -> BoxFuture<'a, DriverResult<InstanceState>> {
        Box::pin(async move {
            Ok(self
                .instances()
                .get(id)
                .map_or(InstanceState::Absent, |i| i.state))
        })
    }

    fn list(&self) -> BoxFuture<'_, DriverResult<Vec<InstanceInfo>>> {
        Box::pin(async move {
            Ok(self
                .instances()
                .iter()
                .map(|(id, i)| InstanceInfo {
                    id: id.clone(),
                    state: i.state,
                })
                .collect())
        })
    }

    fn host(&self) -> HostInfo {
        self.host.clone()
    }
}

/// The guest's end of a fake serial console: a login prompt that echoes
/// what is typed and prompts again after each line, as a getty would. It
/// ends when the client hangs up.
async fn fake_getty(mut guest: DuplexStream, hostname: String) {
    let prompt = format!("\r\n{hostname} login: ");
    if guest.write_all(prompt.as_bytes()).await.is_err() {
        return;
    }
    let mut buffer = [0u8; 1024];
    loop {
        let read = match guest.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => read,
        };
        let mut out = Vec::with_capacity(read + prompt.len());
        for &byte in &buffer[..read] {
            if byte == b'\r' || byte == b'\n' {
                out.extend_from_slice(prompt.as_bytes());
            } else {
                out.push(byte);
            }
        }
        if guest.write_all(&out).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ImageSource, InstanceMetadata};

    fn spec(id: &str, image: &str) -> InstanceSpec {
        InstanceSpec {
            id: id.into(),
            name: "vm".into(),
            hostname: "vm".into(),
            project_id: "p".into(),
            availability_zone: "nova".into(),
            vcpus: 1,
            memory_mib: 512,
            root_disk_gib: 1,
            image: ImageSource {
                id: image.into(),
                path: None,
                disk_format: None,
            },
            nics: Vec::new(),
            config_drive: false,
            metadata: InstanceMetadata::default(),
            root_volume: None,
            volumes: Vec::new(),
        }
    }

    #[tokio::test]
    async fn instances_go_through_the_power_states() {
        let driver = FakeDriver::new();
        driver.spawn(&spec("a", "img")).await.unwrap();
        assert_eq!(driver.state("a").await.unwrap(), InstanceState::Running);
        driver.power_off("a", Duration::ZERO).await.unwrap();
        assert_eq!(driver.state("a").await.unwrap(), InstanceState::Shutdown);
        assert!(driver.reboot("a", RebootKind::Soft).await.is_err());
        driver.reboot("a", RebootKind::Hard).await.unwrap();
        driver.pause("a").await.unwrap();
        assert_eq!(driver.state("a").await.unwrap(), InstanceState::Paused);
        driver.unpause("a").await.unwrap();
        let console = driver.console_output("a", Some(1)).await.unwrap();
        assert_eq!(console, "[fake] Hard reboot\n");
        driver.destroy("a").await.unwrap();
        driver.destroy("a").await.unwrap();
        assert_eq!(driver.state("a").await.unwrap(), InstanceState::Absent);
        assert_eq!(
            driver.power_on("a").await,
            Err(DriverError::NotFound("a".into()))
        );
    }

    #[tokio::test]
    async fn the_serial_console_is_a_login_prompt() {
        let driver = FakeDriver::new();
        assert_eq!(
            driver.serial_console("a").await.err(),
            Some(DriverError::NotFound("a".into()))
        );
        driver.spawn(&spec("a", "img")).await.unwrap();
        let mut console = driver.serial_console("a").await.unwrap();
        let mut seen = Vec::new();
        let mut buffer = [0u8; 256];
        while !seen.ends_with(b"vm login: ") {
            let read = console.read(&mut buffer).await.unwrap();
            assert_ne!(read, 0);
            seen.extend_from_slice(&buffer[..read]);
        }
        console.write_all(b"root\n").await.unwrap();
        seen.clear();
        while !seen.ends_with(b"root\r\nvm login: ") {
            let read = console.read(&mut buffer).await.unwrap();
            assert_ne!(read, 0);
            seen.extend_from_slice(&buffer[..read]);
        }
        driver.power_off("a", Duration::ZERO).await.unwrap();
        assert_eq!(
            driver.serial_console("a").await.err(),
            Some(DriverError::NotRunning("a".into()))
        );
    }

    #[tokio::test]
    async fn failing_images_and_lost_instances() {
        let driver = FakeDriver::new();
        driver.fail_spawns_of_image("bad");
        assert!(matches!(
            driver.spawn(&spec("a", "bad")).await,
            Err(DriverError::ImageUnavailable { .. })
        ));
        driver.spawn(&spec("b", "good")).await.unwrap();
        assert_eq!(driver.list().await.unwrap().len(), 1);
        driver.lose_all_instances();
        assert!(driver.list().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn nics_attach_and_detach() {
        let driver = FakeDriver::new();
        driver.spawn(&spec("a", "img")).await.unwrap();
        let nic = Nic {
            port_id: "p1".into(),
            mac_address: "fa:16:3e:00:00:01".into(),
            network_id: "n".into(),
            fixed_ips: Vec::new(),
        };
        driver.attach_nic("a", &nic).await.unwrap();
        assert_eq!(driver.spec("a").unwrap().nics, vec![nic]);
        driver.detach_nic("a", "p1").await.unwrap();
        assert!(driver.spec("a").unwrap().nics.is_empty());
    }
}
