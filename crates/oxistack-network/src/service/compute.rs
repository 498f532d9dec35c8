//! What the compute service needs, one method per method of the
//! `oxistack_contracts::Networking` contract, with the same semantics;
//! src/contracts.rs implements the contract with them.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use oxistack_auth::{Action, AuthContext};
use oxistack_contracts::{
    DEVICE_OWNER_COMPUTE, NetworkSummary, PortRequest, PortSummary, RemoteGroup,
    SecurityGroupDetail, SecurityGroupRuleDetail,
};
use oxistack_db::rusqlite::Connection;

use super::access::scope;
use super::{NetworkService, floating_ips, port_records, ports, security_groups};
use crate::errors::{NetworkError, authorize, bad_request, conflict, invalid_input, missing};
use crate::kind::Kind;
use crate::model::{Direction, Network, Port};
use crate::store::ports::SummaryKey;
use crate::store::{self, Prefilter, Scope};
use crate::wire::{FixedIpRequest, PortCreate};

impl NetworkService {
    /// Non-external networks the caller's project may attach servers to:
    /// its own and shared ones.
    pub async fn usable_networks(
        &self,
        caller: &AuthContext,
    ) -> Result<Vec<NetworkSummary>, NetworkError> {
        authorize(caller, Action::ReadNetworking)?;
        let project = caller.project_id().unwrap_or_default().to_owned();
        self.network_summaries(Some(project), Prefilter::new(), |n| !n.external)
            .await
    }

    /// Of the networks `ids`, those the caller may attach a server to by
    /// naming them: a project's own and shared non-external networks, and
    /// for an administrator any network, as Neutron lets an administrator
    /// make ports anywhere. Unknown or invisible ids are left out.
    pub async fn attachable_networks(
        &self,
        caller: &AuthContext,
        ids: &[String],
    ) -> Result<Vec<NetworkSummary>, NetworkError> {
        authorize(caller, Action::ReadNetworking)?;
        let prefilter = Prefilter::new().with("id", ids.to_vec());
        if caller.is_admin() {
            self.network_summaries(None, prefilter, |_| true).await
        } else {
            let project = caller.project_id().unwrap_or_default().to_owned();
            self.network_summaries(Some(project), prefilter, |n| !n.external)
                .await
        }
    }

    /// The networks `project` sees (all with `None`) that match
    /// `prefilter` and `keep`, as compute knows them.
    async fn network_summaries(
        &self,
        project: Option<String>,
        prefilter: Prefilter,
        keep: fn(&Network) -> bool,
    ) -> Result<Vec<NetworkSummary>, NetworkError> {
        self.db
            .read(move |conn| {
                let scope = match &project {
                    Some(project) => Scope::Project(project),
                    None => Scope::All,
                };
                Ok(store::networks::list(conn, scope, &prefilter)?
                    .into_iter()
                    .filter(keep)
                    .map(|n| NetworkSummary {
                        id: n.std.id,
                        name: n.name,
                    })
                    .collect())
            })
            .await
    }

    /// Resolves security group names or ids, as the caller sees them, to ids.
    pub async fn resolve_security_groups(
        &self,
        caller: &AuthContext,
        names_or_ids: &[String],
    ) -> Result<Vec<String>, NetworkError> {
        authorize(caller, Action::ReadNetworking)?;
        let project = project_of(caller)?;
        let names_or_ids = names_or_ids.to_vec();
        self.change(move |conn| {
            names_or_ids
                .iter()
                .map(|name_or_id| security_groups::resolve(conn, &project, name_or_id))
                .collect()
        })
        .await
    }

    /// Creates a port for a server, owned by the caller's project, with
    /// device_owner `compute:nova`, bound to this host.
    pub async fn create_port(
        &self,
        caller: &AuthContext,
        request: PortRequest,
    ) -> Result<PortSummary, NetworkError> {
        authorize(caller, Action::CreateNetworking)?;
        let fixed_ip = request.fixed_ip.map(ipv4).transpose()?;
        let caller = Arc::new(caller.clone());
        let host = self.host.clone();
        self.change(move |conn| {
            let create = PortCreate {
                network_id: request.network_id,
                fixed_ips: fixed_ip.map(|ip| {
                    vec![FixedIpRequest {
                        subnet_id: None,
                        ip_address: Some(ip),
                    }]
                }),
                security_groups: (!request.security_group_ids.is_empty())
                    .then_some(request.security_group_ids),
                device_id: Some(request.device_id),
                device_owner: Some(DEVICE_OWNER_COMPUTE.to_owned()),
                ..PortCreate::default()
            };
            let port = ports::create(
                conn,
                &caller,
                create,
                ports::Origin::Compute { host: &host },
            )?;
            summary(conn, &port.std.id)
        })
        .await
    }

    /// Binds a port the caller can see and that is not in use to a server.
    pub async fn bind_port(
        &self,
        caller: &AuthContext,
        port_id: &str,
        device_id: &str,
    ) -> Result<PortSummary, NetworkError> {
        authorize(caller, Action::UpdateNetworking)?;
        let (caller, port_id, device_id) = (
            Arc::new(caller.clone()),
            port_id.to_owned(),
            device_id.to_owned(),
        );
        let host = self.host.clone();
        self.change(move |conn| {
            let mut port = ports::load(conn, &caller, &port_id)?;
            if !port.device_id.is_empty() {
                return Err(conflict(
                    "PortInUse",
                    format!(
                        "Unable to complete operation for network {}. The port {port_id} is in use by {}.",
                        port.network_id, port.device_id
                    ),
                ));
            }
            port.device_id = device_id;
            port.device_owner = DEVICE_OWNER_COMPUTE.to_owned();
            port.binding.host_id = host;
            port.std.touch();
            store::ports::save(conn, &port)?;
            summary(conn, &port_id)
        })
        .await
    }

    /// Detaches one port from a server: deleted if compute created it,
    /// unbound otherwise. Its floating IPs are disassociated.
    pub async fn release_port(&self, device_id: &str, port_id: &str) -> Result<(), NetworkError> {
        let (device_id, port_id) = (device_id.to_owned(), port_id.to_owned());
        self.change(move |conn| {
            let port = server_ports(conn, Scope::All, &device_id)?
                .into_iter()
                .find(|port| port.std.id == port_id)
                .ok_or_else(|| Kind::Port.not_found(&port_id))?;
            port_records::detach(conn, port)
        })
        .await
    }

    /// Detaches every port of a server, as [`NetworkService::release_port`].
    pub async fn release_ports(&self, device_id: &str) -> Result<(), NetworkError> {
        let device_id = device_id.to_owned();
        self.change(move |conn| {
            server_ports(conn, Scope::All, &device_id)?
                .into_iter()
                .try_for_each(|port| port_records::detach(conn, port))
        })
        .await
    }

    /// The ports of many servers at once, by server id, in one query.
    pub async fn ports_of(
        &self,
        device_ids: &[String],
    ) -> Result<HashMap<String, Vec<PortSummary>>, NetworkError> {
        let device_ids = device_ids.to_vec();
        self.db
            .read(move |conn| {
                let mut by_device: HashMap<String, Vec<PortSummary>> = HashMap::new();
                for (device_id, summary) in
                    store::ports::summaries(conn, SummaryKey::DeviceId, &device_ids)?
                {
                    by_device.entry(device_id).or_default().push(summary);
                }
                Ok(by_device)
            })
            .await
    }

    /// The security groups of a server's ports, each once in the order the
    /// ports name them, with their rules and the groups those rules admit.
    pub async fn server_security_groups(
        &self,
        device_id: &str,
    ) -> Result<Vec<SecurityGroupDetail>, NetworkError> {
        let device_id = device_id.to_owned();
        self.db
            .read(move |conn| {
                let mut ids: Vec<String> = Vec::new();
                for port in server_ports(conn, Scope::All, &device_id)? {
                    for group in port.security_groups {
                        if !ids.contains(&group) {
                            ids.push(group);
                        }
                    }
                }
                let by_id = |ids: Vec<String>| {
                    store::security_groups::list(
                        conn,
                        Scope::All,
                        &Prefilter::new().with("id", ids),
                    )
                };
                let groups = by_id(ids.clone())?;
                let remote_ids: Vec<String> = groups
                    .iter()
                    .flat_map(|g| &g.rules)
                    .filter_map(|r| r.remote_group_id.clone())
                    .collect();
                let remotes: HashMap<String, RemoteGroup> = by_id(remote_ids)?
                    .into_iter()
                    .map(|g| {
                        let remote = RemoteGroup {
                            name: g.name,
                            project_id: g.std.project_id,
                        };
                        (g.std.id, remote)
                    })
                    .collect();
                let mut details: Vec<SecurityGroupDetail> = groups
                    .into_iter()
                    .map(|group| SecurityGroupDetail {
                        rules: group
                            .rules
                            .into_iter()
                            .map(|rule| SecurityGroupRuleDetail {
                                ingress: rule.direction == Direction::Ingress,
                                protocol: rule.protocol,
                                port_range_min: rule.port_range_min,
                                port_range_max: rule.port_range_max,
                                remote_ip_prefix: rule.remote_ip_prefix.map(|p| p.to_string()),
                                remote_group: rule
                                    .remote_group_id
                                    .and_then(|id| remotes.get(&id).cloned()),
                                id: rule.std.id,
                            })
                            .collect(),
                        id: group.std.id,
                        name: group.name,
                        description: group.std.description,
                        project_id: group.std.project_id,
                    })
                    .collect();
                details.sort_by_key(|g| ids.iter().position(|id| *id == g.id));
                Ok(details)
            })
            .await
    }

    /// Adds a security group (name or id) to every port of a server.
    pub async fn add_security_group(
        &self,
        caller: &AuthContext,
        device_id: &str,
        group: &str,
    ) -> Result<(), NetworkError> {
        self.change_server_groups(caller, device_id, group, true)
            .await
    }

    /// Removes a security group (name or id) from every port of a server;
    /// 404 if no port has it.
    pub async fn remove_security_group(
        &self,
        caller: &AuthContext,
        device_id: &str,
        group: &str,
    ) -> Result<(), NetworkError> {
        self.change_server_groups(caller, device_id, group, false)
            .await
    }

    async fn change_server_groups(
        &self,
        caller: &AuthContext,
        device_id: &str,
        group: &str,
        add: bool,
    ) -> Result<(), NetworkError> {
        authorize(caller, Action::UpdateNetworking)?;
        let project = project_of(caller)?;
        let (caller, device_id, group) = (
            Arc::new(caller.clone()),
            device_id.to_owned(),
            group.to_owned(),
        );
        self.change(move |conn| {
            let ports = server_ports(conn, scope(&caller), &device_id)?;
            // The group is looked up as the server's project sees it (the
            // caller's, unless the administrator acts on another's server).
            let owner = ports.first().map_or(project, |port| port.std.project_id.clone());
            let group_id = security_groups::resolve(conn, &owner, &group)?;
            let mut changed = false;
            for mut port in ports {
                let has = port.security_groups.contains(&group_id);
                if add && !has {
                    if !port.port_security_enabled {
                        return Err(bad_request(
                            "PortSecurityAndIPRequiredForSecurityGroups",
                            format!("Port {} has port security disabled: it cannot have security groups.", port.std.id),
                        ));
                    }
                    port.security_groups.push(group_id.clone());
                } else if !add && has {
                    port.security_groups.retain(|g| g != &group_id);
                } else {
                    continue;
                }
                port.std.touch();
                store::ports::save(conn, &port)?;
                changed = true;
            }
            if !add && !changed {
                return Err(missing(
                    "SecurityGroupNotFound",
                    format!(
                        "Security group {group} is not associated with the instance {device_id}."
                    ),
                ));
            }
            Ok(())
        })
        .await
    }

    /// Associates the caller's floating IP `address` with a server's port
    /// (the one holding `fixed_address`, else the first).
    pub async fn associate_floating_ip(
        &self,
        caller: &AuthContext,
        device_id: &str,
        address: IpAddr,
        fixed_address: Option<IpAddr>,
    ) -> Result<(), NetworkError> {
        authorize(caller, Action::UpdateNetworking)?;
        let fixed_address = fixed_address.map(ipv4).transpose()?;
        let (caller, device_id) = (Arc::new(caller.clone()), device_id.to_owned());
        self.change(move |conn| {
            let mut floating_ip = floating_ip_at(conn, &caller, address)?;
            let ports = server_ports(conn, scope(&caller), &device_id)?;
            let port = match fixed_address {
                Some(fixed) => ports
                    .iter()
                    .find(|p| p.fixed_ips.iter().any(|ip| ip.ip_address == fixed)),
                None => ports.first(),
            }
            .ok_or_else(|| {
                invalid_input(
                    "fixed_address",
                    match fixed_address {
                        Some(fixed) => {
                            format!("server {device_id} has no port with fixed address {fixed}")
                        }
                        None => format!("server {device_id} has no port"),
                    },
                )
            })?;
            let association = floating_ips::association(
                conn,
                &caller,
                &floating_ip,
                &port.std.id,
                fixed_address,
            )?;
            floating_ip.association = Some(association);
            floating_ip.std.touch();
            store::floating_ips::save(conn, &floating_ip)
        })
        .await
    }

    /// Disassociates floating IP `address` from a server (409 if it is not
    /// on one of the server's ports).
    pub async fn disassociate_floating_ip(
        &self,
        caller: &AuthContext,
        device_id: &str,
        address: IpAddr,
    ) -> Result<(), NetworkError> {
        authorize(caller, Action::UpdateNetworking)?;
        let (caller, device_id) = (Arc::new(caller.clone()), device_id.to_owned());
        self.change(move |conn| {
            let mut floating_ip = floating_ip_at(conn, &caller, address)?;
            let ports = server_ports(conn, Scope::All, &device_id)?;
            let on_server = floating_ip
                .association
                .as_ref()
                .is_some_and(|a| ports.iter().any(|p| p.std.id == a.port_id));
            if !on_server {
                return Err(conflict(
                    "FloatingIPNotAssociated",
                    format!("Floating IP {address} is not associated with instance {device_id}."),
                ));
            }
            floating_ip.association = None;
            floating_ip.std.touch();
            store::floating_ips::save(conn, &floating_ip)
        })
        .await
    }
}

fn project_of(caller: &AuthContext) -> Result<String, NetworkError> {
    caller
        .project_id()
        .map(str::to_owned)
        .ok_or_else(|| invalid_input("project", "a project-scoped token is needed"))
}

fn ipv4(ip: IpAddr) -> Result<Ipv4Addr, NetworkError> {
    match ip {
        IpAddr::V4(ip) => Ok(ip),
        IpAddr::V6(ip) => Err(invalid_input("fixed_ip", format!("{ip}: subnets are IPv4"))),
    }
}

fn summary(conn: &Connection, port_id: &str) -> Result<PortSummary, NetworkError> {
    store::ports::summaries(conn, SummaryKey::PortId, &[port_id.to_owned()])?
        .pop()
        .map(|(_, summary)| summary)
        .ok_or_else(|| Kind::Port.not_found(port_id))
}

/// A server's ports within `scope`.
fn server_ports(
    conn: &Connection,
    scope: Scope<'_>,
    device_id: &str,
) -> Result<Vec<Port>, NetworkError> {
    let mut ports = store::ports::list(
        conn,
        scope,
        &Prefilter::new().with("device_id", vec![device_id.to_owned()]),
    )?;
    ports.retain(|port| port.device_owner.starts_with("compute:"));
    Ok(ports)
}

fn floating_ip_at(
    conn: &Connection,
    caller: &AuthContext,
    address: IpAddr,
) -> Result<crate::model::FloatingIp, NetworkError> {
    store::floating_ips::list(
        conn,
        scope(caller),
        &Prefilter::new().with("floating_ip_address", vec![address.to_string()]),
    )?
    .pop()
    .ok_or_else(|| Kind::FloatingIp.not_found(&address.to_string()))
}
