//! The networks DevStack creates on its first run: the external `public`
//! network floating IPs come from, a `shared` network, and the demo
//! project's `private` network behind `router1`.

use std::net::Ipv4Addr;

use oxistack_auth::AuthContext;
use oxistack_db::rusqlite::Connection;

use super::{NetworkService, networks, routers, subnets};
use crate::errors::NetworkError;
use crate::store;
use crate::wire::{
    GatewayRequest, InterfaceRequest, NetworkCreate, PoolRequest, RouterCreate, SubnetCreate,
};

/// Where the default networks go: the projects, and the external network's
/// addresses (DevStack's `FLOATING_RANGE`, pool and gateway).
#[derive(Debug, Clone)]
pub struct NetworkDefaults {
    pub admin_project_id: String,
    pub demo_project_id: String,
    /// The external subnet, a CIDR such as `172.24.4.0/24`.
    pub floating_range: String,
    pub pool_start: Ipv4Addr,
    pub pool_end: Ipv4Addr,
    pub gateway: Ipv4Addr,
}

/// The physical network the external network is carried on.
const PUBLIC_PHYSICAL_NETWORK: &str = "public";

impl NetworkService {
    /// Creates DevStack's default networks on the first start, in one
    /// transaction. Later starts change nothing, even if an operator has
    /// since deleted some of them.
    pub fn bootstrap(&self, defaults: &NetworkDefaults) -> Result<(), NetworkError> {
        let created = self.db.write_blocking(|conn| {
            if store::bootstrapped(conn)? {
                return Ok(false);
            }
            create_defaults(conn, defaults)?;
            store::mark_bootstrapped(conn)?;
            Ok::<_, NetworkError>(true)
        })?;
        if created {
            tracing::info!(floating_range = %defaults.floating_range, "created the default networks");
            self.reconciler.request();
        }
        Ok(())
    }
}

pub(crate) fn create_defaults(
    conn: &Connection,
    defaults: &NetworkDefaults,
) -> Result<(), NetworkError> {
    // As the cloud administrator, so the default networks go through
    // exactly the checks a client's would.
    let admin = AuthContext::cloud_administrator(&defaults.admin_project_id);
    let demo = Some(defaults.demo_project_id.clone());

    let public = networks::create(
        conn,
        &admin,
        NetworkCreate {
            name: Some("public".into()),
            external: Some(true),
            network_type: Some("flat".into()),
            physical_network: Some(PUBLIC_PHYSICAL_NETWORK.into()),
            ..NetworkCreate::default()
        },
    )?;
    subnets::create(
        conn,
        &admin,
        SubnetCreate {
            network_id: public.std.id.clone(),
            name: Some("public-subnet".into()),
            cidr: Some(defaults.floating_range.clone()),
            gateway_ip: Some(Some(defaults.gateway)),
            allocation_pools: Some(vec![PoolRequest {
                start: defaults.pool_start,
                end: defaults.pool_end,
            }]),
            enable_dhcp: Some(false),
            ..SubnetCreate::default()
        },
    )?;

    let shared = networks::create(
        conn,
        &admin,
        NetworkCreate {
            name: Some("shared".into()),
            shared: Some(true),
            ..NetworkCreate::default()
        },
    )?;
    subnets::create(
        conn,
        &admin,
        SubnetCreate {
            network_id: shared.std.id,
            name: Some("shared-subnet".into()),
            cidr: Some("192.168.233.0/24".into()),
            ..SubnetCreate::default()
        },
    )?;

    let private = networks::create(
        conn,
        &admin,
        NetworkCreate {
            name: Some("private".into()),
            project_id: demo.clone(),
            ..NetworkCreate::default()
        },
    )?;
    let private_subnet = subnets::create(
        conn,
        &admin,
        SubnetCreate {
            network_id: private.std.id,
            name: Some("private-subnet".into()),
            cidr: Some("10.0.0.0/26".into()),
            gateway_ip: Some(Some(Ipv4Addr::new(10, 0, 0, 1))),
            project_id: demo.clone(),
            ..SubnetCreate::default()
        },
    )?;
    let router = routers::create(
        conn,
        &admin,
        RouterCreate {
            name: Some("router1".into()),
            external_gateway_info: Some(Some(GatewayRequest {
                network_id: Some(public.std.id),
                enable_snat: Some(true),
                external_fixed_ips: None,
            })),
            project_id: demo,
            ..RouterCreate::default()
        },
    )?;
    routers::add_interface(
        conn,
        &admin,
        &router.std.id,
        InterfaceRequest {
            subnet_id: Some(private_subnet.std.id),
            port_id: None,
        },
    )?;
    Ok(())
}
