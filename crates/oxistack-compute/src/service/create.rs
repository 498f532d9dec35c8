//! `POST /servers` once the request is read: checking what Nova checks
//! before answering (flavor, image, key pair, networks, security groups,
//! server group, quota), recording the servers in BUILD and handing each to
//! a background build.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::service::ComputeError;
use chrono::Utc;
use oxistack_auth::{Action, AuthContext};
use rand::Rng;
use rand::distributions::Alphanumeric;
use serde_json::Value;

use super::ComputeService;
use super::error::authorize;
use super::volumes::free_device;
use crate::interfaces::{ContractError, ImageSummary, NetworkSummary};
use crate::model::{
    AttachState, BlockDevice, Fault, Flavor, FlavorSnapshot, GroupPolicy, NewVolume, PowerState,
    RequestedNic, RequestedSecurityGroup, Server, ServerGroup, TaskState, VmState, new_id,
};
use crate::quota::{self, Limits, Resource};
use crate::store;
use crate::wire::block_devices::VolumeOrigin;
use crate::wire::create_server::{CreateRequest, NetworkChoice, RequestedNetwork};

/// What a create request made.
pub struct Created {
    pub servers: Vec<Server>,
    pub reservation_id: String,
    pub admin_pass: String,
    pub return_reservation_id: bool,
}

/// A guest host name made from a display name, as Nova makes one.
fn sanitize_hostname(name: &str, id: &str) -> String {
    let mut hostname: String = name
        .to_lowercase()
        .chars()
        .map(|c| {
            if c == ' ' || c == '_' || c == '.' {
                '-'
            } else {
                c
            }
        })
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    hostname.truncate(63);
    let trimmed = hostname.trim_matches('-');
    if trimmed.is_empty() {
        format!("server-{id}")
    } else {
        trimmed.to_owned()
    }
}

fn random_text(length: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(length)
        .map(char::from)
        .collect()
}

/// What the checks against existing resources resolved.
struct Resolved {
    flavor: Flavor,
    /// None when the server boots from a volume.
    image: Option<ImageSummary>,
    key_data: Option<String>,
    nics: Vec<RequestedNic>,
    security_groups: Vec<RequestedSecurityGroup>,
    group: Option<ServerGroup>,
}

impl ComputeService {
    /// Creates the servers `request` asks for in BUILD and starts building
    /// them. Every refusal is decided before anything is written.
    pub(crate) async fn create_servers(
        &self,
        caller: &Arc<AuthContext>,
        request: CreateRequest,
    ) -> Result<Created, ComputeError> {
        authorize(caller, Action::CreateServer)?;
        let project = caller
            .project_id()
            .ok_or_else(|| {
                ComputeError::forbidden("Creating servers needs a project-scoped token.")
            })?
            .to_owned();
        if let Some(host) = &request.host {
            authorize(caller, Action::ShowServerHostDetails)?;
            if host != self.host_name() {
                return Err(ComputeError::invalid(format!(
                    "Compute host {host} could not be found."
                )));
            }
        }
        let resolved = self.resolve(caller, &project, &request).await?;

        let now = Utc::now();
        let reservation_id = format!("r-{}", random_text(8).to_lowercase());
        let admin_pass = request
            .admin_pass
            .clone()
            .unwrap_or_else(|| random_text(12));
        let host = self.host_name().to_owned();
        let caller_user = caller.user.id.clone();
        let recorded_reservation = reservation_id.clone();
        let servers = self
            .write(move |tx| {
                let count = admit(tx, &project, &request, &resolved)?;
                let placed = match &resolved.group {
                    Some(group) => store::servers::placed_group_members(tx, &group.id)?,
                    None => 0,
                };
                let mut servers = Vec::with_capacity(count as usize);
                for index in 0..count {
                    let id = new_id();
                    let (name, default_hostname) = if count > 1 {
                        let name = format!("{}-{}", request.name, index + 1);
                        let hostname = sanitize_hostname(&name, &id);
                        (name, hostname)
                    } else {
                        (request.name.clone(), sanitize_hostname(&request.name, &id))
                    };
                    let no_room = resolved
                        .group
                        .as_ref()
                        .is_some_and(|g| !has_room(g, placed + u64::from(index)));
                    let mut server = Server {
                        number: 0,
                        id,
                        project_id: project.clone(),
                        user_id: caller_user.clone(),
                        name,
                        description: request.description.clone(),
                        hostname: request.hostname.clone().unwrap_or(default_hostname),
                        image_id: request.boot.image_id.clone(),
                        image_properties: resolved
                            .image
                            .as_ref()
                            .map(image_properties)
                            .unwrap_or_default(),
                        flavor: FlavorSnapshot::from(&resolved.flavor),
                        key_name: request.key_name.clone(),
                        key_data: resolved.key_data.clone(),
                        user_data: request.user_data.clone(),
                        config_drive: request.config_drive,
                        metadata: request.metadata.clone(),
                        tags: request.tags.clone(),
                        security_groups: resolved.security_groups.clone(),
                        requested_networks: resolved.nics.clone(),
                        block_devices: block_devices(&request),
                        scheduler_hints: request.scheduler_hints.clone(),
                        server_group_id: resolved.group.as_ref().map(|g| g.id.clone()),
                        availability_zone: request.availability_zone.clone(),
                        host: (!no_room).then(|| host.clone()),
                        reservation_id: recorded_reservation.clone(),
                        launch_index: index,
                        vm_state: VmState::Building,
                        task_state: Some(TaskState::Scheduling),
                        power_state: PowerState::NoState,
                        locked_by: None,
                        locked_reason: None,
                        fault: None,
                        access_ipv4: request.access_ipv4.clone(),
                        access_ipv6: request.access_ipv6.clone(),
                        disk_config: request.disk_config.clone(),
                        created_at: now,
                        updated_at: now,
                        launched_at: None,
                    };
                    if no_room {
                        // What Nova's scheduler concludes on a single host
                        // when an anti-affinity group is full.
                        server.vm_state = VmState::Error;
                        server.task_state = None;
                        server.fault = Some(Fault {
                            code: 500,
                            message:
                                "No valid host was found. There are not enough hosts available."
                                    .into(),
                            created: now,
                        });
                    }
                    store::servers::insert(tx, &mut server)?;
                    servers.push(server);
                }
                Ok((servers, request.return_reservation_id))
            })
            .await?;
        let (servers, return_reservation_id) = servers;
        for server in servers.iter().filter(|s| s.vm_state == VmState::Building) {
            self.start_build(&server.id, caller.clone(), Some(admin_pass.clone()));
        }
        Ok(Created {
            servers,
            reservation_id,
            admin_pass,
            return_reservation_id,
        })
    }

    /// Checks the request against what exists, as Nova does before it
    /// answers: 400 for a flavor, image, key pair, network, security group
    /// or server group the caller cannot use.
    async fn resolve(
        &self,
        caller: &Arc<AuthContext>,
        project: &str,
        request: &CreateRequest,
    ) -> Result<Resolved, ComputeError> {
        let lookup = (
            request.flavor_id.clone(),
            request.key_name.clone(),
            request
                .scheduler_hints
                .get("group")
                .and_then(Value::as_str)
                .map(str::to_owned),
            caller.clone(),
            project.to_owned(),
        );
        let (flavor, key_data, group) = self
            .read(move |conn| {
                let (flavor_id, key_name, group_id, caller, project) = lookup;
                let not_found =
                    || ComputeError::invalid(format!("Flavor {flavor_id} could not be found."));
                let flavor = store::flavors::find(conn, &flavor_id)?.ok_or_else(not_found)?;
                if !caller.is_admin() && !store::flavors::usable_by(conn, &flavor, &project)? {
                    return Err(not_found());
                }
                if flavor.disabled {
                    return Err(ComputeError::invalid("Flavor is disabled."));
                }
                let key_data = match key_name {
                    Some(name) => Some(
                        store::keypairs::find(conn, &caller.user.id, &name)?
                            .ok_or_else(|| ComputeError::invalid("Invalid key_name provided."))?
                            .public_key,
                    ),
                    None => None,
                };
                let group = match group_id {
                    Some(id) => Some(
                        store::groups::find(conn, &id)?
                            .filter(|g| caller.can_see_project(&g.project_id))
                            .ok_or_else(|| {
                                ComputeError::invalid(format!(
                                    "Instance group {id} could not be found."
                                ))
                            })?,
                    ),
                    None => None,
                };
                Ok((flavor, key_data, group))
            })
            .await?;

        let image = match request.boot.image_id.as_str() {
            "" => None,
            image_id => {
                let image = self.usable_image(caller, image_id).await?;
                check_image_fits(&image, &flavor)?;
                Some(image)
            }
        };
        self.check_volumes(caller, request).await?;

        let nics = self
            .resolve_networks(caller, project, &request.networks)
            .await?;
        let security_groups = if request.security_groups.is_empty() {
            Vec::new()
        } else {
            let ids = self
                .networking
                .resolve_security_groups(caller, &request.security_groups)
                .await
                .map_err(|e| match e {
                    ContractError::NotFound(message) => ComputeError::invalid(message),
                    other => other.into(),
                })?;
            request
                .security_groups
                .iter()
                .cloned()
                .zip(ids)
                .map(|(name, id)| RequestedSecurityGroup { name, id })
                .collect()
        };
        Ok(Resolved {
            flavor,
            image,
            key_data,
            nics,
            security_groups,
            group,
        })
    }

    async fn usable_image(
        &self,
        caller: &Arc<AuthContext>,
        image_id: &str,
    ) -> Result<ImageSummary, ComputeError> {
        self.images
            .find(caller, image_id)
            .await?
            .ok_or_else(|| ComputeError::invalid(format!("Image {image_id} could not be found.")))
    }

    /// The volumes a request maps exist for the caller and can be
    /// attached; the images new ones are made from exist.
    async fn check_volumes(
        &self,
        caller: &Arc<AuthContext>,
        request: &CreateRequest,
    ) -> Result<(), ComputeError> {
        if request.boot.volumes.is_empty() {
            return Ok(());
        }
        let volumes = self.volume_service()?.clone();
        for requested in &request.boot.volumes {
            match &requested.origin {
                VolumeOrigin::Existing(id) => {
                    if request.max_count > 1 {
                        return Err(ComputeError::invalid(
                            "Unable to launch multiple instances with a single volume.",
                        ));
                    }
                    let volume = volumes.find(caller, id).await?.ok_or_else(|| {
                        ComputeError::invalid(format!("Volume {id} could not be found."))
                    })?;
                    if requested.boot_index == Some(0) && !volume.bootable {
                        return Err(ComputeError::invalid(format!(
                            "Block Device {id} is not bootable."
                        )));
                    }
                    if volume.status != "available"
                        && !(volume.multiattach && volume.status == "in-use")
                    {
                        return Err(ComputeError::invalid(format!(
                            "Invalid volume: volume '{id}' status must be 'available'. Currently in '{}'",
                            volume.status
                        )));
                    }
                }
                VolumeOrigin::Image(id) => {
                    self.usable_image(caller, id).await?;
                }
                VolumeOrigin::Blank => {}
            }
        }
        Ok(())
    }

    async fn resolve_networks(
        &self,
        caller: &Arc<AuthContext>,
        project: &str,
        choice: &NetworkChoice,
    ) -> Result<Vec<RequestedNic>, ComputeError> {
        let only_usable = |networks: Vec<NetworkSummary>, auto: bool| match networks.as_slice() {
            [] if auto => Err(ComputeError::invalid(format!(
                "Unable to automatically allocate a network for project {project}"
            ))),
            [] => Ok(Vec::new()),
            [network] => Ok(vec![RequestedNic::Network {
                network_id: network.id.clone(),
                fixed_ip: None,
            }]),
            _ => Err(ComputeError::conflict(
                "Multiple possible networks found, use a Network ID to be more specific.",
            )),
        };
        match choice {
            NetworkChoice::None => Ok(Vec::new()),
            NetworkChoice::Unspecified => {
                only_usable(self.networking.usable_networks(caller).await?, false)
            }
            NetworkChoice::Auto => {
                only_usable(self.networking.usable_networks(caller).await?, true)
            }
            NetworkChoice::List(list) => {
                let named: Vec<String> = list
                    .iter()
                    .filter_map(|n| match n {
                        RequestedNetwork::Network { id, .. } => Some(id.clone()),
                        RequestedNetwork::Port { .. } => None,
                    })
                    .collect();
                let usable = if named.is_empty() {
                    Vec::new()
                } else {
                    self.networking.attachable_networks(caller, &named).await?
                };
                list.iter()
                    .map(|requested| match requested {
                        RequestedNetwork::Network { id, fixed_ip } => {
                            if usable.iter().any(|n| &n.id == id) {
                                Ok(RequestedNic::Network {
                                    network_id: id.clone(),
                                    fixed_ip: *fixed_ip,
                                })
                            } else {
                                Err(ComputeError::invalid(format!(
                                    "Network {id} could not be found."
                                )))
                            }
                        }
                        RequestedNetwork::Port { id } => Ok(RequestedNic::Port {
                            port_id: id.clone(),
                        }),
                    })
                    .collect()
            }
        }
    }
}

/// The image properties a server keeps (shown from 2.98): the image's own
/// and the base ones Nova copies with them.
fn image_properties(image: &ImageSummary) -> BTreeMap<String, String> {
    let mut properties: BTreeMap<String, String> = image.properties.clone().into_iter().collect();
    properties.insert("base_image_ref".into(), image.id.clone());
    properties.insert("min_disk".into(), image.min_disk.to_string());
    properties.insert("min_ram".into(), image.min_ram.to_string());
    if let Some(format) = &image.disk_format {
        properties.insert("disk_format".into(), format.clone());
    }
    properties
}

/// Whether an image fits a flavor, as Nova checks it.
fn check_image_fits(image: &ImageSummary, flavor: &Flavor) -> Result<(), ComputeError> {
    if image.status != "active" {
        return Err(ComputeError::invalid(format!(
            "Image {} is not active.",
            image.id
        )));
    }
    if image.min_ram > flavor.ram {
        return Err(ComputeError::invalid(
            "Flavor's memory is too small for requested image.",
        ));
    }
    if flavor.disk > 0 {
        let disk_bytes = flavor.disk * 1024 * 1024 * 1024;
        if image.min_disk > flavor.disk {
            return Err(ComputeError::invalid(
                "Flavor's disk is too small for requested image.",
            ));
        }
        if let Some(size) = image.size.filter(|size| *size > disk_bytes) {
            return Err(ComputeError::invalid(format!(
                "Flavor's disk is too small for requested image. Flavor disk is {disk_bytes} bytes, image is {size} bytes."
            )));
        }
    }
    Ok(())
}

/// How many servers of the request fit the project's quota (at most
/// `max_count`); 403 if fewer than `min_count` do, naming the resource.
fn admit(
    conn: &oxistack_db::rusqlite::Connection,
    project: &str,
    request: &CreateRequest,
    resolved: &Resolved,
) -> Result<u32, ComputeError> {
    let limits = Limits::of(conn, project)?;
    let metadata_limit = limits.get(Resource::MetadataItems);
    if metadata_limit >= 0 && request.metadata.len() as i64 > metadata_limit {
        return Err(ComputeError::forbidden(format!(
            "Quota exceeded for metadata_items: Maximum number of metadata items exceeds {metadata_limit}"
        )));
    }
    let used = store::servers::usage(conn, project)?;
    let demands = [
        (Resource::Instances, used.instances, 1),
        (
            Resource::Cores,
            used.cores,
            u64::from(resolved.flavor.vcpus),
        ),
        (Resource::Ram, used.ram, resolved.flavor.ram),
    ];
    let mut count = u64::from(request.max_count);
    for (resource, used, each) in demands {
        if let Some(room) = limits.room(resource, used, each) {
            if room < u64::from(request.min_count) {
                return Err(quota::exceeded(
                    resource,
                    each * u64::from(request.min_count),
                    used,
                    limits.get(resource),
                ));
            }
            count = count.min(room);
        }
    }
    if let Some(group) = &resolved.group {
        let members = store::servers::group_size(conn, &group.id)?;
        if let Some(room) = limits.room(Resource::ServerGroupMembers, members, 1) {
            if room < u64::from(request.min_count) {
                return Err(ComputeError::forbidden(
                    "Quota exceeded, too many servers in group",
                ));
            }
            count = count.min(room);
        }
    }
    Ok(count as u32)
}

/// Whether a server group has room on this host for one more member,
/// `placed` members being there already.
fn has_room(group: &ServerGroup, placed: u64) -> bool {
    match group.policy {
        GroupPolicy::AntiAffinity => placed < u64::from(group.max_server_per_host.unwrap_or(1)),
        GroupPolicy::Affinity | GroupPolicy::SoftAffinity | GroupPolicy::SoftAntiAffinity => true,
    }
}

/// A new server's mappings: the root volume at `/dev/vda`, the others at
/// the next free names, all to be created or reserved by the build.
fn block_devices(request: &CreateRequest) -> Vec<BlockDevice> {
    let mut taken: Vec<String> = Vec::new();
    let mut devices = Vec::with_capacity(request.boot.volumes.len());
    let mut ordered: Vec<_> = request.boot.volumes.iter().collect();
    // The root first, so it is the guest's first disk.
    ordered.sort_by_key(|v| v.boot_index != Some(0));
    for requested in ordered {
        let device = if requested.boot_index == Some(0) {
            "/dev/vda".to_owned()
        } else {
            let name = free_device(taken.iter().map(String::as_str), request.config_drive);
            taken.push(name.clone());
            name
        };
        let (volume_id, create) = match &requested.origin {
            VolumeOrigin::Existing(id) => (Some(id.clone()), None),
            VolumeOrigin::Image(image) => (
                None,
                Some(NewVolume {
                    image_id: Some(image.clone()),
                    size_gib: requested.size_gib.unwrap_or(1),
                    volume_type: requested.volume_type.clone(),
                }),
            ),
            VolumeOrigin::Blank => (
                None,
                Some(NewVolume {
                    image_id: None,
                    size_gib: requested.size_gib.unwrap_or(1),
                    volume_type: requested.volume_type.clone(),
                }),
            ),
        };
        devices.push(BlockDevice {
            id: new_id(),
            volume_id,
            attachment_id: None,
            device,
            boot_index: requested.boot_index,
            delete_on_termination: requested.delete_on_termination,
            tag: requested.tag.clone(),
            state: AttachState::Pending,
            create,
        });
    }
    devices
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames_are_made_from_names() {
        assert_eq!(sanitize_hostname("Master 1_a.b", "x"), "master-1-a-b");
        assert_eq!(sanitize_hostname("!!!", "abc"), "server-abc");
    }
}
