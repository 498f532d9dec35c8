//! Server operations the API answers at once: listing, changing records,
//! and accepting actions that the background work then carries out.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use crate::service::ComputeError;
use chrono::Utc;
use oxistack_auth::{Action, AuthContext};
use oxistack_virt::DriverError;

use super::error::{allows, authorize, shown};
use super::lifecycle::{PowerAction, nic};
use super::{ComputeService, load_visible};
use crate::interfaces::{PortRequest, PortSummary, SecurityGroupDetail};
use crate::model::{LockedBy, Server, TaskState, VmState, server_not_found};
use crate::query::ServerListing;
use crate::store;

/// A page of servers with the ports of each (when asked for).
pub struct ListedServers {
    pub servers: Vec<Server>,
    pub ports: HashMap<String, Vec<PortSummary>>,
}

impl ListedServers {
    pub fn ports(&self, id: &str) -> &[PortSummary] {
        self.ports.get(id).map_or(&[], Vec::as_slice)
    }
}

/// What the caller may see of servers beyond their own attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerVisibility {
    /// Where servers run (`OS-EXT-SRV-ATTR:*`, `host_status`).
    pub host_details: bool,
    /// The extra specs of their flavors (embedded flavor, 2.47).
    pub extra_specs: bool,
}

impl ServerVisibility {
    pub fn of(caller: &AuthContext) -> Self {
        ServerVisibility {
            host_details: allows(caller, Action::ShowServerHostDetails),
            extra_specs: allows(caller, Action::ReadFlavorExtraSpecs),
        }
    }
}

/// `PUT /servers/{id}`: what changes (`None`: stays as it is).
#[derive(Debug, Clone, Default)]
pub struct ServerUpdate {
    pub name: Option<String>,
    /// `Some(None)` removes the description.
    pub description: Option<Option<String>>,
    pub hostname: Option<String>,
    pub access_ipv4: Option<String>,
    pub access_ipv6: Option<String>,
    pub disk_config: Option<String>,
}

/// Whether a server-changing request heeds the server's lock, as Nova's
/// corresponding call does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    Heeded,
    Ignored,
}

/// A 409 for an action the server's state does not allow, in Nova's words.
pub fn conflict(action: &str, server: &Server) -> ComputeError {
    let (attribute, state) = match server.task_state {
        Some(task) => ("task_state", task.as_str()),
        None => ("vm_state", server.vm_state.as_str()),
    };
    ComputeError::conflict(format!(
        "Cannot '{action}' instance {} while it is in {attribute} {state}",
        server.id
    ))
}

/// Refuses `action` unless the server is idle in one of `states`.
pub fn require_state(
    server: &Server,
    action: &str,
    states: &[VmState],
) -> Result<(), ComputeError> {
    if server.task_state.is_some() || !states.contains(&server.vm_state) {
        return Err(conflict(action, server));
    }
    Ok(())
}

impl ComputeService {
    /// The servers `listing` selects; with `with_ports`, their ports too,
    /// fetched in one call.
    pub(crate) async fn list_servers(
        &self,
        caller: &Arc<AuthContext>,
        mut listing: ServerListing,
        with_ports: bool,
    ) -> Result<ListedServers, ComputeError> {
        authorize(caller, Action::ReadServers)?;
        if listing.all_projects {
            authorize(caller, Action::ListAllProjectsServers)?;
        }
        // Without `all_tenants` a project filter is ignored, as Nova
        // ignores it (lp:#1185290): everyone lists their own project.
        listing.query.project = match (listing.all_projects, listing.project) {
            (true, project) => project,
            (false, _) => Some(
                caller
                    .project_id()
                    .ok_or_else(|| {
                        ComputeError::forbidden("Listing servers needs a project-scoped token.")
                    })?
                    .to_owned(),
            ),
        };
        if caller.is_admin() {
            listing.query.host = listing.host;
        }
        if listing.empty {
            return Ok(ListedServers {
                servers: Vec::new(),
                ports: HashMap::new(),
            });
        }
        let by_address = listing.ip.is_some() || listing.ip6.is_some();
        let filtered_later = by_address || listing.name.is_some();
        listing.query.limit = (!filtered_later).then_some(listing.limit);
        let query = listing.query;
        let mut servers = self
            .read(move |conn| store::servers::list(conn, &query))
            .await?;
        if let Some(name) = &listing.name {
            servers.retain(|s| name.is_match(&s.name));
        }
        let mut ports = HashMap::new();
        if by_address {
            ports = self.ports_of(&servers).await?;
            // A server matches when any of its fixed addresses does.
            let matches = |server: &Server| {
                let fixed = ports
                    .get(&server.id)
                    .into_iter()
                    .flatten()
                    .flat_map(|p| &p.fixed_ips);
                fixed.map(|ip| ip.ip_address).any(|address| {
                    let pattern = if address.is_ipv4() {
                        &listing.ip
                    } else {
                        &listing.ip6
                    };
                    pattern
                        .as_ref()
                        .is_some_and(|p| p.is_match(&address.to_string()))
                })
            };
            servers.retain(matches);
        }
        servers.truncate(listing.limit);
        if with_ports && !by_address {
            ports = self.ports_of(&servers).await?;
        }
        Ok(ListedServers { servers, ports })
    }

    /// The ports of `servers`, in one call.
    async fn ports_of(
        &self,
        servers: &[Server],
    ) -> Result<HashMap<String, Vec<PortSummary>>, ComputeError> {
        if servers.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<String> = servers.iter().map(|s| s.id.clone()).collect();
        Ok(self.networking.ports_of(&ids).await?)
    }

    pub(crate) async fn ports_of_server(&self, id: &str) -> Result<Vec<PortSummary>, ComputeError> {
        let ids = [id.to_owned()];
        Ok(self
            .networking
            .ports_of(&ids)
            .await?
            .remove(id)
            .unwrap_or_default())
    }

    /// A server the caller may see, with its ports.
    pub(crate) async fn show_server(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
    ) -> Result<(Server, Vec<PortSummary>), ComputeError> {
        authorize(caller, Action::ReadServers)?;
        let server = self.visible_server(caller, id).await?;
        let ports = self.ports_of_server(id).await?;
        Ok((server, ports))
    }

    /// The security groups of a server the caller may see, with their
    /// rules, in Nova's order: by project, then name.
    pub(crate) async fn server_security_groups(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
    ) -> Result<Vec<SecurityGroupDetail>, ComputeError> {
        authorize(caller, Action::ReadServers)?;
        self.visible_server(caller, id).await?;
        let mut groups = self.networking.server_security_groups(id).await?;
        groups.sort_by(|a, b| (&a.project_id, &a.name).cmp(&(&b.project_id, &b.name)));
        Ok(groups)
    }

    /// Changes a server the caller may modify, in one transaction:
    /// 404 if they cannot see it, 409 if it is locked (for `Lock::Heeded`)
    /// and they are not an administrator, or whatever `change` refuses.
    pub(crate) async fn modify_server<T, F>(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
        lock: Lock,
        change: F,
    ) -> Result<(Server, T), ComputeError>
    where
        F: FnOnce(&mut Server) -> Result<T, ComputeError> + Send + 'static,
        T: Send + 'static,
    {
        authorize(caller, Action::ModifyServer)?;
        let (caller, id) = (caller.clone(), id.to_owned());
        self.write(move |tx| {
            let mut server = load_visible(tx, &caller, &id)?;
            if lock == Lock::Heeded {
                require_unlocked(&caller, &server)?;
            }
            let outcome = change(&mut server)?;
            server.updated_at = Utc::now();
            store::servers::save(tx, &server)?;
            Ok((server, outcome))
        })
        .await
    }

    /// A server the caller may change, for an action that looks no further.
    pub(crate) async fn actionable_server(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
    ) -> Result<Server, ComputeError> {
        authorize(caller, Action::ModifyServer)?;
        self.visible_server(caller, id).await
    }

    /// Renames, describes or readdresses a server the caller may change
    /// (locked or not, as Nova allows); the server and its ports after.
    pub async fn update_server(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
        update: ServerUpdate,
    ) -> Result<(Server, Vec<PortSummary>), ComputeError> {
        let (server, ()) = self
            .modify_server(caller, id, Lock::Ignored, move |server| {
                let replace = |field: &mut String, value: Option<String>| {
                    if let Some(value) = value {
                        *field = value;
                    }
                };
                replace(&mut server.name, update.name);
                replace(&mut server.hostname, update.hostname);
                replace(&mut server.access_ipv4, update.access_ipv4);
                replace(&mut server.access_ipv6, update.access_ipv6);
                replace(&mut server.disk_config, update.disk_config);
                if let Some(description) = update.description {
                    server.description = description;
                }
                Ok(())
            })
            .await?;
        let ports = self.ports_of_server(id).await?;
        Ok((server, ports))
    }

    /// Accepts a delete: the server shows `deleting` until the background
    /// teardown has removed it. Deleting twice is not an error.
    pub(crate) async fn delete_server(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
    ) -> Result<(), ComputeError> {
        let (_, started) = self
            .modify_server(caller, id, Lock::Heeded, |server| {
                if server.task_state == Some(TaskState::Deleting) {
                    return Ok(false);
                }
                server.task_state = Some(TaskState::Deleting);
                Ok(true)
            })
            .await?;
        if started {
            self.start_teardown(id);
        }
        Ok(())
    }

    /// Accepts a power action the server's state allows.
    pub(crate) async fn power_server(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
        action: PowerAction,
    ) -> Result<(), ComputeError> {
        self.modify_server(caller, id, Lock::Heeded, move |server| {
            require_state(server, action.name(), action.allowed_from())?;
            server.task_state = Some(action.task());
            Ok(())
        })
        .await?;
        self.start_power(id, action);
        Ok(())
    }

    /// Locks a server against changes by non-administrators.
    pub(crate) async fn lock_server(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
        reason: Option<String>,
    ) -> Result<(), ComputeError> {
        let owner = caller.project_id().map(str::to_owned);
        self.modify_server(caller, id, Lock::Ignored, move |server| {
            server.locked_by = Some(if owner.as_deref() == Some(server.project_id.as_str()) {
                LockedBy::Owner
            } else {
                LockedBy::Admin
            });
            server.locked_reason = reason;
            Ok(())
        })
        .await
        .map(drop)
    }

    /// Unlocks a server; a lock an administrator set (on someone else's
    /// server) only an administrator lifts.
    pub(crate) async fn unlock_server(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
    ) -> Result<(), ComputeError> {
        let lifter = caller.clone();
        self.modify_server(caller, id, Lock::Ignored, move |server| {
            if server.locked_by == Some(LockedBy::Admin) {
                authorize(&lifter, Action::UnlockOverride)?;
            }
            server.locked_by = None;
            server.locked_reason = None;
            Ok(())
        })
        .await
        .map(drop)
    }

    /// The last `lines` lines of the server's console (all if `None`).
    pub(crate) async fn console_output(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
        lines: Option<usize>,
    ) -> Result<String, ComputeError> {
        authorize(caller, Action::ReadServerConsole)?;
        let server = self.visible_server(caller, id).await?;
        if server.vm_state == VmState::Building {
            return Err(conflict("get_console_output", &server));
        }
        match self.driver.console_output(id, lines).await {
            Ok(output) => Ok(match lines {
                Some(length) => console_tail(&output, length),
                None => output,
            }),
            Err(DriverError::NotFound(_)) => Err(ComputeError::not_found(
                "Guest does not have a console available.",
            )),
            Err(error) => Err(ComputeError::internal(
                format!("reading the console of {id}"),
                error,
            )),
        }
    }

    /// Plugs a new port (on `network`, or the given existing `port`) into
    /// a server, hot if it runs.
    pub(crate) async fn attach_interface(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
        attachment: Attachment,
    ) -> Result<PortSummary, ComputeError> {
        let server = self
            .idle_for_interfaces(caller, id, "attach_interface")
            .await?;
        let _turn = self.locks.lock(id).await;
        let port = match attachment {
            Attachment::Port(port_id) => self.networking.bind_port(caller, &port_id, id).await?,
            Attachment::Network {
                network_id,
                fixed_ip,
            } => {
                let network_id = match network_id {
                    Some(network_id) => network_id,
                    None => self.only_network(caller).await?,
                };
                let request = PortRequest {
                    network_id,
                    fixed_ip,
                    security_group_ids: server
                        .security_groups
                        .iter()
                        .map(|g| g.id.clone())
                        .collect(),
                    device_id: id.to_owned(),
                };
                self.networking.create_port(caller, request).await?
            }
        };
        let attached = match self.networking.sync_host().await {
            Ok(()) => self
                .driver
                .attach_nic(id, &nic(&port))
                .await
                .map_err(|e| e.to_string()),
            Err(error) => Err(shown(error)),
        };
        if let Err(error) = attached {
            if let Err(release) = self.networking.release_port(id, &port.id).await {
                tracing::error!(server = %id, port = %port.id, error = %release, "cannot release a port that failed to attach");
            }
            return Err(ComputeError::internal(
                format!("Failed to attach network adapter device to {id}"),
                error,
            ));
        }
        Ok(port)
    }

    /// Unplugs port `port_id` from a server and releases it.
    pub(crate) async fn detach_interface(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
        port_id: &str,
    ) -> Result<(), ComputeError> {
        self.idle_for_interfaces(caller, id, "detach_interface")
            .await?;
        let _turn = self.locks.lock(id).await;
        let ports = self.ports_of_server(id).await?;
        if !ports.iter().any(|p| p.id == port_id) {
            return Err(ComputeError::not_found(format!(
                "Port {port_id} is not attached to instance {id}"
            )));
        }
        self.driver.detach_nic(id, port_id).await.map_err(|e| {
            ComputeError::internal(format!("detaching port {port_id} from {id}"), e)
        })?;
        Ok(self.networking.release_port(id, port_id).await?)
    }

    /// A server whose interfaces may change now: visible, unlocked (to a
    /// non-administrator), and idle in a state Nova allows.
    pub(super) async fn idle_for_interfaces(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
        action: &'static str,
    ) -> Result<Server, ComputeError> {
        authorize(caller, Action::ModifyServer)?;
        let server = self.visible_server(caller, id).await?;
        require_unlocked(caller, &server)?;
        require_state(
            &server,
            action,
            &[VmState::Active, VmState::Paused, VmState::Stopped],
        )?;
        Ok(server)
    }

    /// The caller's only usable network, for an attachment that names none.
    async fn only_network(&self, caller: &Arc<AuthContext>) -> Result<String, ComputeError> {
        let networks = self.networking.usable_networks(caller).await?;
        match networks.as_slice() {
            [network] => Ok(network.id.clone()),
            [] => Err(ComputeError::invalid(
                "No network is available to attach the interface to.",
            )),
            _ => Err(ComputeError::conflict(
                "Multiple possible networks found, use a Network ID to be more specific.",
            )),
        }
    }

    /// The network service's side of a server action: adding or removing
    /// a security group, associating or disassociating a floating IP.
    pub(crate) async fn server_network_action(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
        action: NetworkAction,
    ) -> Result<(), ComputeError> {
        authorize(caller, Action::ModifyServer)?;
        let server = self.visible_server(caller, id).await?;
        if server.task_state == Some(TaskState::Deleting) {
            return Err(server_not_found(id));
        }
        let networking = self.networking();
        let done = match action {
            NetworkAction::AddSecurityGroup(group) => {
                networking.add_security_group(caller, id, &group).await
            }
            NetworkAction::RemoveSecurityGroup(group) => {
                networking.remove_security_group(caller, id, &group).await
            }
            NetworkAction::AddFloatingIp {
                address,
                fixed_address,
            } => {
                networking
                    .associate_floating_ip(caller, id, address, fixed_address)
                    .await
            }
            NetworkAction::RemoveFloatingIp(address) => {
                networking
                    .disassociate_floating_ip(caller, id, address)
                    .await
            }
        };
        Ok(done?)
    }
}

/// The last `length` pieces of `output` split at newlines, as Nova tails
/// a console: a log ending in a newline gives `length - 1` lines and the
/// newline (Tempest counts on it). The driver's tail of `length` lines
/// holds all of them.
fn console_tail(output: &str, length: usize) -> String {
    if length == 0 {
        return String::new();
    }
    let pieces: Vec<&str> = output.split('\n').collect();
    pieces[pieces.len().saturating_sub(length)..].join("\n")
}

/// 409 for a non-administrator acting on a locked server.
fn require_unlocked(caller: &AuthContext, server: &Server) -> Result<(), ComputeError> {
    if server.locked_by.is_some() && !caller.is_admin() {
        return Err(ComputeError::conflict(format!(
            "Instance {} is locked",
            server.id
        )));
    }
    Ok(())
}

/// What to plug into a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attachment {
    /// An existing port.
    Port(String),
    /// A new port on a network (the caller's only one if `None`).
    Network {
        network_id: Option<String>,
        fixed_ip: Option<IpAddr>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkAction {
    AddSecurityGroup(String),
    RemoveSecurityGroup(String),
    AddFloatingIp {
        address: IpAddr,
        fixed_address: Option<IpAddr>,
    },
    RemoveFloatingIp(IpAddr),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consoles_are_tailed_as_nova_tails_them() {
        let log = "one\ntwo\nthree\n";
        assert_eq!(console_tail(log, 3), "two\nthree\n");
        assert_eq!(console_tail(log, 1), "");
        assert_eq!(console_tail(log, 0), "");
        assert_eq!(console_tail(log, 10), log);
        assert_eq!(console_tail("one\ntwo", 1), "two");
    }
}
