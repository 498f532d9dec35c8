//! The background half of the server lifecycle: building (ports, then the
//! driver), power changes, teardown, and resuming all of it after a
//! restart. The API records what it was asked in `task_state` and returns;
//! the work here runs one operation at a time per server and only ever
//! moves a server out of the `task_state` it was started for, so a delete
//! that arrives meanwhile always wins.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use oxistack_auth::AuthContext;
use oxistack_metadata::{InstanceMetadata, MetadataDisk, MetadataNic, PublicKey};
use oxistack_virt::{DriverError, ImageSource, InstanceSpec, InstanceState, Nic, RebootKind};

use super::ComputeService;
use super::error::{ComputeError, shown};
use crate::interfaces::{PortRequest, PortSummary};
use crate::model::{
    AVAILABILITY_ZONE, AttachState, Fault, PowerState, RequestedNic, Server, TaskState, VmState,
};
use crate::store;

/// How long a guest gets to shut down cleanly before it is switched off,
/// as Nova's `shutdown_timeout`.
const GRACEFUL_SHUTDOWN: Duration = Duration::from_secs(60);

/// A change of power state a user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerAction {
    Stop,
    Start,
    Reboot(RebootKind),
    Pause,
    Unpause,
}

impl PowerAction {
    /// Nova's name for the action, in conflict messages.
    pub fn name(self) -> &'static str {
        match self {
            PowerAction::Stop => "stop",
            PowerAction::Start => "start",
            PowerAction::Reboot(_) => "reboot",
            PowerAction::Pause => "pause",
            PowerAction::Unpause => "unpause",
        }
    }

    /// The states a server may be in for the action, as Nova allows it.
    pub fn allowed_from(self) -> &'static [VmState] {
        match self {
            PowerAction::Stop => &[VmState::Active, VmState::Error],
            PowerAction::Start => &[VmState::Stopped],
            PowerAction::Reboot(RebootKind::Soft) => &[VmState::Active],
            PowerAction::Reboot(RebootKind::Hard) => &[
                VmState::Active,
                VmState::Stopped,
                VmState::Paused,
                VmState::Error,
            ],
            PowerAction::Pause => &[VmState::Active],
            PowerAction::Unpause => &[VmState::Paused],
        }
    }

    /// The `task_state` a server has while the action runs.
    pub fn task(self) -> TaskState {
        match self {
            PowerAction::Stop => TaskState::PoweringOff,
            PowerAction::Start => TaskState::PoweringOn,
            PowerAction::Reboot(RebootKind::Soft) => TaskState::Rebooting,
            PowerAction::Reboot(RebootKind::Hard) => TaskState::RebootingHard,
            PowerAction::Pause => TaskState::Pausing,
            PowerAction::Unpause => TaskState::Unpausing,
        }
    }

    fn outcome(self) -> (VmState, PowerState) {
        match self {
            PowerAction::Stop => (VmState::Stopped, PowerState::Shutdown),
            PowerAction::Pause => (VmState::Paused, PowerState::Paused),
            PowerAction::Start | PowerAction::Reboot(_) | PowerAction::Unpause => {
                (VmState::Active, PowerState::Running)
            }
        }
    }

    /// The action an interrupted `task_state` was for.
    fn interrupted(task: TaskState) -> Option<PowerAction> {
        Some(match task {
            TaskState::PoweringOff => PowerAction::Stop,
            TaskState::PoweringOn => PowerAction::Start,
            TaskState::Rebooting => PowerAction::Reboot(RebootKind::Soft),
            TaskState::RebootingHard => PowerAction::Reboot(RebootKind::Hard),
            TaskState::Pausing => PowerAction::Pause,
            TaskState::Unpausing => PowerAction::Unpause,
            _ => return None,
        })
    }
}

/// Background work on one server.
enum Work {
    /// Create the server's ports and spawn its instance, as `caller`.
    Build {
        caller: Arc<AuthContext>,
        admin_password: Option<String>,
    },
    Power(PowerAction),
    /// Start again an instance the host no longer has, with its ports.
    Respawn,
    /// Destroy the instance, release the ports, forget the server.
    Teardown,
}

impl ComputeService {
    /// Builds a server recorded in BUILD, in the background.
    pub(crate) fn start_build(
        &self,
        id: &str,
        caller: Arc<AuthContext>,
        admin_password: Option<String>,
    ) {
        self.in_background(
            id,
            Work::Build {
                caller,
                admin_password,
            },
        );
    }

    /// Carries out a power action whose `task_state` the API recorded.
    pub(crate) fn start_power(&self, id: &str, action: PowerAction) {
        self.in_background(id, Work::Power(action));
    }

    /// Tears down a server the API marked `deleting`.
    pub(crate) fn start_teardown(&self, id: &str) {
        self.in_background(id, Work::Teardown);
    }

    fn in_background(&self, id: &str, work: Work) {
        let service = self.arc();
        let id = id.to_owned();
        // The work finishes even once shutdown began: it is short (a
        // spawn, an ACPI stop with its timeout) and leaves the server in a
        // recorded state; past the supervisor's deadline it is aborted
        // and the next start's resume drives the server on.
        self.tasks
            .spawn(format!("server {id}"), |_stop| async move {
                service.perform(&id, work).await
            });
    }

    async fn perform(&self, id: &str, work: Work) {
        let _turn = self.locks.lock(id).await;
        match work {
            Work::Build {
                caller,
                admin_password,
            } => self.build(id, &caller, admin_password).await,
            Work::Power(action) => self.power(id, action).await,
            Work::Respawn => self.respawn(id).await,
            Work::Teardown => self.teardown(id).await,
        }
    }

    /// The server as it is now, unless it is gone or being deleted.
    pub(super) async fn current(&self, id: &str) -> Option<Server> {
        let lookup = id.to_owned();
        match self
            .read(move |conn| store::servers::find(conn, &lookup))
            .await
        {
            Ok(server) => server.filter(|s| s.task_state != Some(TaskState::Deleting)),
            Err(error) => {
                tracing::error!(server = %id, %error, "cannot read a server to work on it");
                None
            }
        }
    }

    /// Applies `change` to the server unless it is gone or being deleted,
    /// in one transaction; false if it was not applied.
    pub(super) async fn update(
        &self,
        id: &str,
        change: impl FnOnce(&mut Server) + Send + 'static,
    ) -> bool {
        let target = id.to_owned();
        let updated = self
            .write(move |tx| {
                let Some(mut server) = store::servers::find(tx, &target)? else {
                    return Ok(false);
                };
                if server.task_state == Some(TaskState::Deleting) {
                    return Ok(false);
                }
                change(&mut server);
                server.updated_at = Utc::now();
                store::servers::save(tx, &server)?;
                Ok(true)
            })
            .await;
        updated.unwrap_or_else(|error| {
            tracing::error!(server = %id, %error, "cannot record a server's new state");
            false
        })
    }

    async fn build(&self, id: &str, caller: &AuthContext, admin_password: Option<String>) {
        // A delete that arrives meanwhile stops the build at its next step;
        // the teardown then removes whatever the build had made.
        let Some(server) = self.current(id).await else {
            return;
        };
        if !self
            .update(id, |s| s.task_state = Some(TaskState::Networking))
            .await
        {
            return;
        }
        let ports = match self.plug(&server, caller).await {
            Ok(ports) => ports,
            Err(error) => return self.fail_build(id, shown(error)).await,
        };
        if !server.block_devices.is_empty() {
            if !self
                .update(id, |s| s.task_state = Some(TaskState::BlockDeviceMapping))
                .await
            {
                return;
            }
            if let Err(error) = self.prepare_volumes(&server, caller).await {
                return self.fail_build(id, shown(error)).await;
            }
        }
        if !self
            .update(id, |s| s.task_state = Some(TaskState::Spawning))
            .await
        {
            return;
        }
        let Some(server) = self.current(id).await else {
            return;
        };
        let spawned = match self.spawn_on_host(&server, &ports, admin_password).await {
            Ok(()) => self
                .complete_volumes(id)
                .await
                .map_err(|e| DriverError::Io(shown(e))),
            Err(error) => Err(error),
        };
        match spawned {
            Ok(()) => {
                tracing::info!(server = %id, name = %server.name, "server built");
                self.update(id, |s| {
                    s.vm_state = VmState::Active;
                    s.task_state = None;
                    s.power_state = PowerState::Running;
                    s.launched_at = Some(Utc::now());
                })
                .await;
            }
            Err(error) => self.fail_build(id, error.to_string()).await,
        }
    }

    /// Creates or binds the ports the server asked for.
    async fn plug(
        &self,
        server: &Server,
        caller: &AuthContext,
    ) -> Result<Vec<PortSummary>, ComputeError> {
        let groups: Vec<String> = server
            .security_groups
            .iter()
            .map(|g| g.id.clone())
            .collect();
        let mut ports = Vec::with_capacity(server.requested_networks.len());
        for nic in &server.requested_networks {
            let port = match nic {
                RequestedNic::Network {
                    network_id,
                    fixed_ip,
                } => {
                    let request = PortRequest {
                        network_id: network_id.clone(),
                        fixed_ip: *fixed_ip,
                        security_group_ids: groups.clone(),
                        device_id: server.id.clone(),
                    };
                    self.networking.create_port(caller, request).await?
                }
                RequestedNic::Port { port_id } => {
                    self.networking
                        .bind_port(caller, port_id, &server.id)
                        .await?
                }
            };
            ports.push(port);
        }
        Ok(ports)
    }

    /// A build failed: nothing of the server may stay on the host or the
    /// network, and the server shows why in its fault.
    async fn fail_build(&self, id: &str, reason: String) {
        tracing::warn!(server = %id, %reason, "server build failed");
        if let Err(error) = self.driver.destroy(id).await {
            tracing::error!(server = %id, %error, "cannot clean up after a failed build");
        }
        if let Err(error) = self.networking.release_ports(id).await {
            tracing::error!(server = %id, %error, "cannot release the ports of a failed build");
        }
        if let Some(server) = self.current(id).await
            && let Err(error) = self.release_volumes(&server).await
        {
            tracing::error!(server = %id, %error, "cannot release the volumes of a failed build");
        }
        let message = format!("Build of instance {id} aborted: {reason}");
        self.update(id, move |s| {
            s.vm_state = VmState::Error;
            s.task_state = None;
            s.power_state = PowerState::NoState;
            s.fault = Some(Fault {
                code: 500,
                message,
                created: Utc::now(),
            });
        })
        .await;
    }

    async fn power(&self, id: &str, action: PowerAction) {
        match self.current(id).await {
            Some(server) if server.task_state == Some(action.task()) => {}
            _ => return,
        }
        let result = match action {
            PowerAction::Stop => self.driver.power_off(id, GRACEFUL_SHUTDOWN).await,
            PowerAction::Start => self.driver.power_on(id).await,
            PowerAction::Reboot(kind) => self.driver.reboot(id, kind).await,
            PowerAction::Pause => self.driver.pause(id).await,
            PowerAction::Unpause => self.driver.unpause(id).await,
        };
        let result = match (result, action) {
            // An instance the host lost is off already...
            (Err(DriverError::NotFound(_)), PowerAction::Stop) => Ok(()),
            // ...and starting it means spawning it again.
            (
                Err(DriverError::NotFound(_)),
                PowerAction::Start | PowerAction::Reboot(RebootKind::Hard),
            ) => self.spawn_again(id).await,
            (result, _) => result,
        };
        match result {
            Ok(()) => {
                let (vm_state, power_state) = action.outcome();
                self.update(id, move |s| {
                    s.vm_state = vm_state;
                    s.power_state = power_state;
                    s.task_state = None;
                })
                .await;
            }
            Err(error) => {
                tracing::warn!(server = %id, action = action.name(), %error, "power action failed");
                let power_state = self.observed_power(id).await;
                self.update(id, move |s| {
                    s.task_state = None;
                    s.power_state = power_state;
                })
                .await;
            }
        }
    }

    /// The power state the host reports for an instance.
    async fn observed_power(&self, id: &str) -> PowerState {
        match self.driver.state(id).await {
            Ok(InstanceState::Running) => PowerState::Running,
            Ok(InstanceState::Paused) => PowerState::Paused,
            Ok(InstanceState::Shutdown) => PowerState::Shutdown,
            Ok(InstanceState::Absent) | Err(_) => PowerState::NoState,
        }
    }

    /// Spawns the instance of an existing server again, with its ports.
    async fn spawn_again(&self, id: &str) -> Result<(), DriverError> {
        let Some(server) = self.current(id).await else {
            return Ok(());
        };
        let ids = [server.id.clone()];
        let ports = self
            .networking
            .ports_of(&ids)
            .await
            .map_err(|e| DriverError::Io(format!("cannot read the server's ports: {}", shown(e))))?
            .remove(&server.id)
            .unwrap_or_default();
        self.spawn_on_host(&server, &ports, None).await
    }

    /// Starts the instance of `server` with `ports`, once the host's
    /// network has their taps.
    async fn spawn_on_host(
        &self,
        server: &Server,
        ports: &[PortSummary],
        admin_password: Option<String>,
    ) -> Result<(), DriverError> {
        self.networking
            .sync_host()
            .await
            .map_err(|e| DriverError::Io(format!("the network is not ready: {}", shown(e))))?;
        let (root_volume, volumes) = self.volume_disks(server).await?;
        let spec = InstanceSpec {
            root_volume,
            volumes,
            ..self.instance_spec(server, ports, admin_password)
        };
        self.driver.spawn(&spec).await
    }

    /// What the driver needs to run `server` with `ports`.
    fn instance_spec(
        &self,
        server: &Server,
        ports: &[PortSummary],
        admin_password: Option<String>,
    ) -> InstanceSpec {
        InstanceSpec {
            id: server.id.clone(),
            name: server.name.clone(),
            hostname: server.hostname.clone(),
            project_id: server.project_id.clone(),
            availability_zone: AVAILABILITY_ZONE.to_owned(),
            vcpus: server.flavor.vcpus,
            memory_mib: server.flavor.ram,
            root_disk_gib: server.flavor.disk,
            image: ImageSource {
                id: server.image_id.clone(),
                path: self.images.data_file(&server.image_id),
                disk_format: server.image_properties.get("disk_format").cloned(),
            },
            nics: ports.iter().map(nic).collect(),
            config_drive: server.config_drive,
            metadata: guest_metadata(server, ports, admin_password),
            root_volume: None,
            volumes: Vec::new(),
        }
    }

    /// An ACTIVE server whose instance the host lost (a host reboot) is
    /// spawned again; if that fails it goes to ERROR.
    async fn respawn(&self, id: &str) {
        match self.spawn_again(id).await {
            Ok(()) => {
                tracing::info!(server = %id, "instance spawned again after a restart");
                self.update(id, |s| {
                    s.vm_state = VmState::Active;
                    s.power_state = PowerState::Running;
                })
                .await;
            }
            Err(error) => {
                tracing::warn!(server = %id, %error, "cannot spawn an instance again");
                let message = format!("Instance {id} could not be started again: {error}");
                self.update(id, move |s| {
                    s.vm_state = VmState::Error;
                    s.power_state = PowerState::NoState;
                    s.fault = Some(Fault {
                        code: 500,
                        message,
                        created: Utc::now(),
                    });
                })
                .await;
            }
        }
    }

    async fn teardown(&self, id: &str) {
        let released = match self.driver.destroy(id).await {
            Ok(()) => self.release_server_resources(id).await,
            Err(error) => Err(error.to_string()),
        };
        let target = id.to_owned();
        let recorded = self
            .write(move |tx| {
                let Some(mut server) = store::servers::find(tx, &target)? else {
                    return Ok(());
                };
                match released {
                    Ok(()) => store::servers::delete(tx, &target),
                    // Left in ERROR so that deleting it again retries.
                    Err(reason) => {
                        tracing::error!(server = %target, %reason, "deleting a server failed");
                        server.vm_state = VmState::Error;
                        server.task_state = None;
                        server.fault = Some(Fault {
                            code: 500,
                            message: format!("Deleting instance {target} failed: {reason}"),
                            created: Utc::now(),
                        });
                        server.updated_at = Utc::now();
                        store::servers::save(tx, &server)
                    }
                }
            })
            .await;
        match recorded {
            Ok(()) => self.locks.forget(id),
            Err(error) => {
                tracing::error!(server = %id, %error, "cannot record a server's deletion")
            }
        }
    }

    /// Releases what a destroyed instance held elsewhere: its volumes'
    /// attachments (deleting those it was to take with it), then its ports.
    async fn release_server_resources(&self, id: &str) -> Result<(), String> {
        let target = id.to_owned();
        let server = self
            .read(move |conn| store::servers::find(conn, &target))
            .await
            .map_err(shown)?;
        if let Some(server) = server {
            self.release_volumes(&server).await.map_err(shown)?;
        }
        self.networking.release_ports(id).await.map_err(shown)
    }

    /// What the metadata service tells the guest of server `id`; `None`
    /// if there is no such server (or it is being deleted).
    pub async fn instance_metadata(&self, id: &str) -> Option<InstanceMetadata> {
        let server = self.current(id).await?;
        let ids = [server.id.clone()];
        let ports = match self.networking.ports_of(&ids).await {
            Ok(mut ports) => ports.remove(&server.id).unwrap_or_default(),
            Err(error) => {
                tracing::warn!(server = %id, %error, "cannot read a server's ports for its metadata");
                return None;
            }
        };
        Some(guest_metadata(&server, &ports, None))
    }

    /// Re-drives, after a restart, what the last run left unfinished: the
    /// builds it interrupted, the power changes and deletes it had
    /// accepted, and the instances of ACTIVE servers the host no longer
    /// runs (after a host reboot). Stopped servers stay stopped; instances
    /// the host has but no server owns are destroyed. Runs to completion.
    pub async fn resume(&self) -> Result<(), ComputeError> {
        self.drive_host(true).await.map(|_| ())
    }

    /// Brings the host's instances in line with the servers on demand
    /// (`oxistack reconcile`): ACTIVE servers whose instance is gone are
    /// spawned again and instances no server owns are destroyed; servers
    /// with work under way are left to it. Returns how many instances it
    /// acted on.
    pub async fn reconcile_instances(&self) -> Result<usize, ComputeError> {
        self.drive_host(false).await
    }

    async fn drive_host(&self, after_restart: bool) -> Result<usize, ComputeError> {
        let on_host = self
            .driver
            .list()
            .await
            .map_err(|e| ComputeError::internal("listing the host's instances", e))?;
        let servers = self.read(store::servers::all).await?;
        let mut acted = 0;
        for server in &servers {
            let state = on_host
                .iter()
                .find(|i| i.id == server.id)
                .map_or(InstanceState::Absent, |i| i.state);
            let work = match (server.task_state, server.vm_state) {
                // Work under way in this run finishes by itself.
                (Some(_), _) | (_, VmState::Building) if !after_restart => continue,
                (Some(TaskState::Deleting), _) => Work::Teardown,
                (_, VmState::Building) => {
                    // The build starts over from nothing: what the
                    // interrupted one made on the host and network goes.
                    if let Err(error) = self.driver.destroy(&server.id).await {
                        tracing::error!(server = %server.id, %error, "cannot destroy the instance of an interrupted build");
                    }
                    if let Err(error) = self.networking.release_ports(&server.id).await {
                        tracing::error!(server = %server.id, %error, "cannot release the ports of an interrupted build");
                    }
                    Work::Build {
                        caller: Arc::new(owner_context(server)),
                        admin_password: None,
                    }
                }
                (Some(task), _) => match PowerAction::interrupted(task) {
                    Some(action) => Work::Power(action),
                    None => continue,
                },
                (None, VmState::Active | VmState::Paused)
                    if !matches!(state, InstanceState::Running | InstanceState::Paused) =>
                {
                    Work::Respawn
                }
                _ => continue,
            };
            tracing::info!(server = %server.id, status = server.status(), "resuming server");
            acted += 1;
            self.perform(&server.id, work).await;
        }
        if after_restart {
            // Only servers with mappings can have an attach or detach to finish.
            for server in servers.iter().filter(|s| {
                !s.block_devices.is_empty()
                    && s.task_state != Some(TaskState::Deleting)
                    && s.vm_state != VmState::Building
            }) {
                let _turn = self.locks.lock(&server.id).await;
                if let Some(current) = self.current(&server.id).await {
                    self.resume_volumes(&current).await;
                }
            }
        }
        for stray in on_host
            .iter()
            .filter(|i| !servers.iter().any(|s| s.id == i.id))
        {
            tracing::warn!(instance = %stray.id, "destroying an instance no server owns");
            acted += 1;
            if let Err(error) = self.driver.destroy(&stray.id).await {
                tracing::error!(instance = %stray.id, %error, "cannot destroy a stray instance");
            }
        }
        Ok(acted)
    }
}

/// Acts for a server's owner when no request does (resuming a build
/// after a restart): a member of the server's project.
fn owner_context(server: &Server) -> AuthContext {
    AuthContext::internal(
        &server.user_id,
        &server.project_id,
        &["member", "reader"],
        &format!("compute-resume-{}", server.id),
    )
}

/// What a guest learns about itself at boot, from its config drive or
/// the metadata service. The admin password only ever reaches a config
/// drive, while the server is first built.
pub(crate) fn guest_metadata(
    server: &Server,
    ports: &[PortSummary],
    admin_password: Option<String>,
) -> InstanceMetadata {
    InstanceMetadata {
        uuid: server.id.clone(),
        number: server.number,
        name: server.name.clone(),
        hostname: server.hostname.clone(),
        project_id: server.project_id.clone(),
        availability_zone: AVAILABILITY_ZONE.to_owned(),
        launch_index: server.launch_index,
        reservation_id: server.reservation_id.clone(),
        flavor_name: server.flavor.name.clone(),
        image_id: server.image_id.clone(),
        key: match (&server.key_name, &server.key_data) {
            (Some(name), Some(data)) => Some(PublicKey {
                name: name.clone(),
                data: data.clone(),
            }),
            _ => None,
        },
        user_data: server
            .user_data
            .as_deref()
            .and_then(|data| crate::validate::decode_user_data(data).ok()),
        properties: server.metadata.clone(),
        admin_password,
        security_groups: security_group_names(server, ports),
        nics: ports
            .iter()
            .map(|port| MetadataNic {
                port_id: port.id.clone(),
                mac_address: port.mac_address.clone(),
                network_id: port.network_id.clone(),
                mtu: None,
                fixed_ips: port.fixed_ips.iter().map(|ip| ip.ip_address).collect(),
                floating_ips: port.floating_ips.clone(),
            })
            .collect(),
        dns_nameservers: Vec::new(),
        disks: server
            .block_devices
            .iter()
            .filter(|d| d.state != AttachState::Pending)
            .filter_map(|d| {
                Some(MetadataDisk {
                    serial: d.volume_id.clone()?,
                    tags: d.tag.iter().cloned().collect(),
                })
            })
            .collect(),
    }
}

/// The groups the server's ports are in now (they change after the
/// server is built); those it was created with if it has no ports.
fn security_group_names(server: &Server, ports: &[PortSummary]) -> Vec<String> {
    if ports.is_empty() {
        return server
            .security_groups
            .iter()
            .map(|g| g.name.clone())
            .collect();
    }
    let mut names: Vec<String> = ports
        .iter()
        .flat_map(|port| port.security_groups.iter().cloned())
        .collect();
    names.sort();
    names.dedup();
    names
}

pub(crate) fn nic(port: &PortSummary) -> Nic {
    Nic {
        port_id: port.id.clone(),
        mac_address: port.mac_address.clone(),
        network_id: port.network_id.clone(),
        fixed_ips: port.fixed_ips.iter().map(|ip| ip.ip_address).collect(),
    }
}
