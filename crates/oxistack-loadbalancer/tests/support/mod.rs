//! The harness the API tests share: the load-balancer router over a fresh
//! database, with a fake token validator, a small fake networking (one
//! network with two subnets, recording what it is asked) and the fake data
//! plane; and helpers to call the router and settle pending work.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{Method, StatusCode};
use futures_util::future::BoxFuture;
use oxistack_auth::AuthContext;
use oxistack_contracts::{
    ContractError, ListenerOpening, LoadBalancerNetworking, VipPort, VipRequest,
};
use oxistack_db::Db;
use oxistack_lbplane::FakeLoadBalancerPlane;
use oxistack_loadbalancer::{LoadBalancerService, MIGRATIONS, router};
use oxistack_tasks::Supervisor;
use oxistack_testkit::{Call, FakeTokens, project_caller};
use serde_json::{Value, json};

pub const NETWORK: &str = "0b3e4bcb-3d5a-4c3b-9c4e-6b1a3c9d0001";
pub const SUBNET: &str = "0b3e4bcb-3d5a-4c3b-9c4e-6b1a3c9d0002";
pub const MEMBER_SUBNET: &str = "0b3e4bcb-3d5a-4c3b-9c4e-6b1a3c9d0003";
pub const UNKNOWN: &str = "0b3e4bcb-3d5a-4c3b-9c4e-6b1a3c9d00ff";

/// Networking as the load-balancer service sees it: a VIP comes from
/// `10.0.0.0/24` (network `NETWORK`, subnet `SUBNET`); `MEMBER_SUBNET`
/// exists too. Records openings, member subnets and releases.
#[derive(Default)]
pub struct FakeNetworking {
    next: Mutex<u8>,
    pub openings: Mutex<HashMap<String, Vec<ListenerOpening>>>,
    pub member_subnets: Mutex<HashMap<String, Vec<String>>>,
    pub released: Mutex<Vec<String>>,
    pub syncs: Mutex<usize>,
    /// When set, `set_openings` fails as a broken provider would.
    pub failing: Mutex<bool>,
}

impl FakeNetworking {
    pub fn openings_of(&self, lb: &str) -> Vec<ListenerOpening> {
        self.openings
            .lock()
            .unwrap()
            .get(lb)
            .cloned()
            .unwrap_or_default()
    }
}

fn known(subnet: &str) -> bool {
    subnet == SUBNET || subnet == MEMBER_SUBNET
}

impl LoadBalancerNetworking for FakeNetworking {
    fn create_vip<'a>(
        &'a self,
        _caller: &'a AuthContext,
        request: VipRequest,
    ) -> BoxFuture<'a, Result<VipPort, ContractError>> {
        Box::pin(async move {
            if let Some(subnet) = request.subnet_id.as_deref().filter(|s| !known(s)) {
                return Err(ContractError::NotFound(format!(
                    "Subnet {subnet} not found."
                )));
            }
            if let Some(network) = request.network_id.as_deref().filter(|n| *n != NETWORK) {
                return Err(ContractError::NotFound(format!(
                    "Network {network} not found."
                )));
            }
            let mut next = self.next.lock().unwrap();
            *next += 1;
            let address: IpAddr = request
                .address
                .unwrap_or_else(|| format!("10.0.0.{}", 10 + *next).parse().unwrap());
            Ok(VipPort {
                port_id: request
                    .port_id
                    .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
                network_id: NETWORK.into(),
                subnet_id: request.subnet_id.unwrap_or_else(|| SUBNET.into()),
                address,
                created: true,
            })
        })
    }

    fn set_openings<'a>(
        &'a self,
        load_balancer_id: &'a str,
        openings: Vec<ListenerOpening>,
    ) -> BoxFuture<'a, Result<(), ContractError>> {
        Box::pin(async move {
            if *self.failing.lock().unwrap() {
                return Err(ContractError::internal(
                    "setting openings",
                    "the fake is failing",
                ));
            }
            self.openings
                .lock()
                .unwrap()
                .insert(load_balancer_id.to_owned(), openings);
            Ok(())
        })
    }

    fn set_member_subnets<'a>(
        &'a self,
        load_balancer_id: &'a str,
        subnet_ids: Vec<String>,
    ) -> BoxFuture<'a, Result<(), ContractError>> {
        Box::pin(async move {
            self.member_subnets
                .lock()
                .unwrap()
                .insert(load_balancer_id.to_owned(), subnet_ids);
            Ok(())
        })
    }

    fn release<'a>(
        &'a self,
        load_balancer_id: &'a str,
    ) -> BoxFuture<'a, Result<(), ContractError>> {
        Box::pin(async move {
            self.released
                .lock()
                .unwrap()
                .push(load_balancer_id.to_owned());
            self.openings.lock().unwrap().remove(load_balancer_id);
            Ok(())
        })
    }

    fn sync_host(&self) -> BoxFuture<'_, Result<(), ContractError>> {
        Box::pin(async move {
            *self.syncs.lock().unwrap() += 1;
            Ok(())
        })
    }

    fn subnet_network<'a>(
        &'a self,
        _caller: &'a AuthContext,
        subnet_id: &'a str,
    ) -> BoxFuture<'a, Result<String, ContractError>> {
        Box::pin(async move {
            if known(subnet_id) {
                Ok(NETWORK.to_owned())
            } else {
                Err(ContractError::NotFound(format!(
                    "Subnet {subnet_id} not found."
                )))
            }
        })
    }
}

pub struct Cloud {
    pub router: Router,
    pub service: Arc<LoadBalancerService>,
    pub networking: Arc<FakeNetworking>,
    pub plane: Arc<FakeLoadBalancerPlane>,
    pub _dir: tempfile::TempDir,
}

pub fn cloud() -> Cloud {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("cloud.db")).unwrap();
    db.migrate("loadbalancer", MIGRATIONS).unwrap();
    let networking = Arc::new(FakeNetworking::default());
    let plane = Arc::new(FakeLoadBalancerPlane::new());
    let service =
        LoadBalancerService::new(db, networking.clone(), plane.clone(), &Supervisor::new());
    let tokens = HashMap::from([
        (
            "admin",
            project_caller("admin", "admin-project", &["admin", "member", "reader"]),
        ),
        (
            "alice",
            project_caller("alice", "project-a", &["member", "reader"]),
        ),
        (
            "bob",
            project_caller("bob", "project-b", &["member", "reader"]),
        ),
        ("reader", project_caller("carol", "project-a", &["reader"])),
        (
            "lbmember",
            project_caller("dave", "project-a", &["load-balancer_member"]),
        ),
        (
            "observer",
            project_caller("erin", "project-c", &["load-balancer_global_observer"]),
        ),
    ]);
    Cloud {
        router: router(service.clone(), Arc::new(FakeTokens(tokens))),
        service,
        networking,
        plane,
        _dir: dir,
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

impl Cloud {
    pub async fn call(
        &self,
        method: Method,
        token: &str,
        path: &str,
        body: Option<Value>,
    ) -> Reply {
        let reply = Call::new(method, path)
            .token(Some(token))
            .json(body)
            .send(&self.router)
            .await;
        Reply {
            status: reply.status,
            body: reply.json_or_null(),
        }
    }

    pub async fn get(&self, token: &str, path: &str) -> Reply {
        self.call(Method::GET, token, path, None).await
    }

    /// Runs a reconciliation pass now, as `oxistack reconcile` does.
    pub async fn settle(&self) {
        self.service.reconcile_now().await.expect("a pass");
    }

    /// Creates a load balancer on `SUBNET` as `token` and settles it.
    pub async fn load_balancer(&self, token: &str, name: &str) -> Value {
        let body = json!({"loadbalancer": {"name": name, "vip_subnet_id": SUBNET}});
        self.create_load_balancer(token, body).await
    }

    /// Creates a load balancer from `body` as `token` and settles it; its
    /// document as created.
    pub async fn create_load_balancer(&self, token: &str, body: Value) -> Value {
        let reply = self
            .call(Method::POST, token, "/v2/lbaas/loadbalancers", Some(body))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        self.settle().await;
        reply.body["loadbalancer"].clone()
    }

    /// Creates a child object (`listeners`, `pools`, ...) and settles it.
    pub async fn child(&self, token: &str, path: &str, key: &str, body: Value) -> Value {
        let reply = self
            .call(Method::POST, token, path, Some(json!({ key: body })))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        self.settle().await;
        reply.body[key].clone()
    }
}

/// Asserts an Octavia fault: the status and the exact message.
pub fn assert_fault(reply: &Reply, status: u16, message: &str) {
    assert_eq!(reply.status.as_u16(), status, "{}", reply.body);
    assert_eq!(
        reply.body,
        json!({"faultcode": "Client", "faultstring": message, "debuginfo": null})
    );
}
