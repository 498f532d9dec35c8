//! Octavia's documents: a record as stored, its parent id dropped, and
//! what relations give it added (`listeners: [{"id": ...}]`, `tenant_id`,
//! ...). The list attribute tables for `oxistack-list` are here too, as
//! they describe these documents.

use oxistack_list::{AttrType, Attribute, Collection};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::model::{HealthMonitor, L7Policy, L7Rule, Listener, Member, Pool, Tree};

pub type Document = Map<String, Value>;

fn ids<'a>(ids: impl Iterator<Item = &'a str>) -> Value {
    Value::Array(ids.map(|id| json!({ "id": id })).collect())
}

/// The record as a map without its parent id, with `tenant_id`.
fn base<T: Serialize>(record: &T) -> Document {
    let Value::Object(mut doc) = serde_json::to_value(record).expect("records serialize") else {
        unreachable!("records are objects")
    };
    doc.remove("loadbalancer_id");
    doc.remove("pool_id");
    doc.remove("l7policy_id");
    if let Some(project) = doc.get("project_id").cloned() {
        doc.insert("tenant_id".into(), project);
    }
    doc
}

pub fn load_balancer(tree: &Tree) -> Document {
    let mut doc = base(&tree.lb);
    doc.insert(
        "listeners".into(),
        ids(tree.listeners.iter().map(|l| l.id.as_str())),
    );
    doc.insert(
        "pools".into(),
        ids(tree.pools.iter().map(|p| p.id.as_str())),
    );
    doc.insert("additional_vips".into(), json!([]));
    doc
}

/// The document a create answers with: Octavia's "full response", each
/// listener and pool whole (policies with their rules, pools with their
/// members and monitor), without the back references the nested
/// documents would repeat (`loadbalancers`, `healthmonitor_id`, `pools`).
pub fn load_balancer_full(tree: &Tree) -> Document {
    let mut doc = load_balancer(tree);
    let listeners = tree.listeners.iter().map(|l| {
        let mut doc = listener(tree, l);
        doc.remove("loadbalancers");
        let policies = tree.policies_of(&l.id).into_iter().map(|p| {
            let mut doc = policy(tree, p);
            let rules = tree.rules_of(&p.id).map(|r| Value::Object(rule(r)));
            doc.insert("rules".into(), rules.collect());
            Value::Object(doc)
        });
        doc.insert("l7policies".into(), policies.collect());
        Value::Object(doc)
    });
    let pools = tree.pools.iter().map(|p| {
        let mut doc = pool(tree, p);
        doc.remove("loadbalancers");
        doc.remove("healthmonitor_id");
        let members = tree.members_of(&p.id).map(|m| Value::Object(member(m)));
        doc.insert("members".into(), members.collect());
        if let Some(hm) = tree.monitor_of(&p.id) {
            let mut hm = monitor(hm);
            hm.remove("pools");
            doc.insert("healthmonitor".into(), Value::Object(hm));
        }
        Value::Object(doc)
    });
    doc.insert("listeners".into(), listeners.collect());
    doc.insert("pools".into(), pools.collect());
    doc
}

pub fn listener(tree: &Tree, listener: &Listener) -> Document {
    let mut doc = base(listener);
    doc.insert(
        "loadbalancers".into(),
        ids([tree.lb.id.as_str()].into_iter()),
    );
    doc.insert(
        "l7policies".into(),
        ids(tree
            .policies_of(&listener.id)
            .into_iter()
            .map(|p| p.id.as_str())),
    );
    doc
}

pub fn policy(tree: &Tree, policy: &L7Policy) -> Document {
    let mut doc = base(policy);
    doc.insert(
        "rules".into(),
        ids(tree.rules_of(&policy.id).map(|r| r.id.as_str())),
    );
    doc
}

pub fn rule(rule: &L7Rule) -> Document {
    base(rule)
}

pub fn pool(tree: &Tree, pool: &Pool) -> Document {
    let mut doc = base(pool);
    doc.insert(
        "loadbalancers".into(),
        ids([tree.lb.id.as_str()].into_iter()),
    );
    doc.insert(
        "listeners".into(),
        ids(tree.listeners_of(&pool.id).map(|l| l.id.as_str())),
    );
    doc.insert(
        "members".into(),
        ids(tree.members_of(&pool.id).map(|m| m.id.as_str())),
    );
    doc.insert(
        "healthmonitor_id".into(),
        json!(tree.monitor_of(&pool.id).map(|m| &m.id)),
    );
    doc
}

pub fn member(member: &Member) -> Document {
    base(member)
}

pub fn monitor(monitor: &HealthMonitor) -> Document {
    let mut doc = base(monitor);
    doc.insert("pools".into(), ids([monitor.pool_id.as_str()].into_iter()));
    doc
}

/// `GET /loadbalancers/{id}/status`: the tree's statuses, as Octavia
/// nests them (listeners, their pools, the pools' members and monitor).
pub fn status_tree(tree: &Tree) -> Value {
    let pool = |id: &str| {
        let Some(pool) = tree.pool(id) else {
            return Value::Null;
        };
        let mut doc = json!({
            "id": pool.id,
            "name": pool.name,
            "provisioning_status": pool.provisioning_status,
            "operating_status": pool.operating_status,
            "members": tree.members_of(&pool.id).map(|m| json!({
                "id": m.id,
                "name": m.name,
                "address": m.address,
                "protocol_port": m.protocol_port,
                "provisioning_status": m.provisioning_status,
                "operating_status": m.operating_status,
            })).collect::<Vec<_>>(),
        });
        if let Some(hm) = tree.monitor_of(&pool.id) {
            doc["health_monitor"] = json!({
                "id": hm.id,
                "name": hm.name,
                "type": hm.kind,
                "provisioning_status": hm.provisioning_status,
                "operating_status": hm.operating_status,
            });
        }
        doc
    };
    let listeners: Vec<Value> = tree
        .listeners
        .iter()
        .map(|l| {
            json!({
                "id": l.id,
                "name": l.name,
                "provisioning_status": l.provisioning_status,
                "operating_status": l.operating_status,
                "l7policies": tree.policies_of(&l.id).iter().map(|p| json!({
                    "id": p.id,
                    "name": p.name,
                    "action": p.action,
                    "provisioning_status": p.provisioning_status,
                    "operating_status": p.operating_status,
                    "rules": tree.rules_of(&p.id).map(|r| json!({
                        "id": r.id,
                        "type": r.kind,
                        "provisioning_status": r.provisioning_status,
                        "operating_status": r.operating_status,
                    })).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
                "pools": l.default_pool_id.iter().map(|id| pool(id)).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({"statuses": {"loadbalancer": {
        "id": tree.lb.id,
        "name": tree.lb.name,
        "provisioning_status": tree.lb.provisioning_status,
        "operating_status": tree.lb.operating_status,
        "listeners": listeners,
    }}})
}

const fn text(name: &'static str) -> Attribute {
    Attribute::new(name, AttrType::Text)
}
const fn int(name: &'static str) -> Attribute {
    Attribute::new(name, AttrType::Int)
}
const fn boolean(name: &'static str) -> Attribute {
    Attribute::new(name, AttrType::Bool)
}
const fn object(name: &'static str) -> Attribute {
    Attribute::new(name, AttrType::Object)
}
const fn id_list(name: &'static str) -> Attribute {
    Attribute::new(name, AttrType::Objects { keys: &["id"] })
}

/// What every object has.
macro_rules! common {
    ($($extra:expr),* $(,)?) => {
        &[
            text("id"),
            text("name"),
            text("provisioning_status"),
            text("operating_status"),
            boolean("admin_state_up"),
            text("project_id"),
            text("tenant_id"),
            text("created_at"),
            text("updated_at"),
            object("tags"),
            $($extra),*
        ]
    };
}

pub static LOAD_BALANCERS: Collection = Collection {
    singular: "loadbalancer",
    plural: "loadbalancers",
    attributes: common![
        text("description"),
        text("vip_address"),
        text("vip_port_id"),
        text("vip_subnet_id"),
        text("vip_network_id"),
        text("vip_qos_policy_id"),
        text("provider"),
        text("flavor_id"),
        text("availability_zone"),
        id_list("listeners"),
        id_list("pools"),
        object("additional_vips"),
    ],
    taggable: true,
};

pub static LISTENERS: Collection = Collection {
    singular: "listener",
    plural: "listeners",
    attributes: common![
        text("description"),
        text("protocol"),
        int("protocol_port"),
        int("connection_limit"),
        text("default_tls_container_ref"),
        object("sni_container_refs"),
        text("default_pool_id"),
        object("insert_headers"),
        int("timeout_client_data"),
        int("timeout_member_connect"),
        int("timeout_member_data"),
        int("timeout_tcp_inspect"),
        text("client_ca_tls_container_ref"),
        text("client_authentication"),
        text("client_crl_container_ref"),
        object("allowed_cidrs"),
        text("tls_ciphers"),
        object("tls_versions"),
        object("alpn_protocols"),
        int("hsts_max_age"),
        boolean("hsts_include_subdomains"),
        boolean("hsts_preload"),
        id_list("loadbalancers"),
        id_list("l7policies"),
    ],
    taggable: true,
};

pub static POOLS: Collection = Collection {
    singular: "pool",
    plural: "pools",
    attributes: common![
        text("description"),
        text("protocol"),
        text("lb_algorithm"),
        object("session_persistence"),
        text("healthmonitor_id"),
        text("tls_container_ref"),
        text("ca_tls_container_ref"),
        text("crl_container_ref"),
        boolean("tls_enabled"),
        text("tls_ciphers"),
        object("tls_versions"),
        object("alpn_protocols"),
        id_list("loadbalancers"),
        id_list("listeners"),
        id_list("members"),
    ],
    taggable: true,
};

pub static MEMBERS: Collection = Collection {
    singular: "member",
    plural: "members",
    attributes: common![
        text("address"),
        int("protocol_port"),
        int("weight"),
        boolean("backup"),
        text("subnet_id"),
        text("monitor_address"),
        int("monitor_port"),
    ],
    taggable: true,
};

pub static HEALTH_MONITORS: Collection = Collection {
    singular: "healthmonitor",
    plural: "healthmonitors",
    attributes: common![
        text("type"),
        int("delay"),
        int("timeout"),
        int("max_retries"),
        int("max_retries_down"),
        text("http_method"),
        text("url_path"),
        text("expected_codes"),
        object("http_version"),
        text("domain_name"),
        id_list("pools"),
    ],
    taggable: true,
};

pub static L7_POLICIES: Collection = Collection {
    singular: "l7policy",
    plural: "l7policies",
    attributes: common![
        text("description"),
        text("listener_id"),
        text("action"),
        text("redirect_pool_id"),
        text("redirect_url"),
        text("redirect_prefix"),
        int("redirect_http_code"),
        int("position"),
        id_list("rules"),
    ],
    taggable: true,
};

/// Rules have no name; their table lists what they have.
pub static L7_RULES: Collection = Collection {
    singular: "rule",
    plural: "rules",
    attributes: &[
        text("id"),
        text("provisioning_status"),
        text("operating_status"),
        boolean("admin_state_up"),
        text("project_id"),
        text("tenant_id"),
        text("created_at"),
        text("updated_at"),
        object("tags"),
        text("type"),
        text("compare_type"),
        text("key"),
        text("value"),
        boolean("invert"),
    ],
    taggable: true,
};

pub static FLAVOR_PROFILES: Collection = Collection {
    singular: "flavorprofile",
    plural: "flavorprofiles",
    attributes: &[
        text("id"),
        text("name"),
        text("provider_name"),
        text("flavor_data"),
    ],
    taggable: false,
};

pub static FLAVORS: Collection = Collection {
    singular: "flavor",
    plural: "flavors",
    attributes: &[
        text("id"),
        text("name"),
        text("description"),
        boolean("enabled"),
        text("flavor_profile_id"),
    ],
    taggable: false,
};

pub static ZONE_PROFILES: Collection = Collection {
    singular: "availability_zone_profile",
    plural: "availability_zone_profiles",
    attributes: &[
        text("id"),
        text("name"),
        text("provider_name"),
        text("availability_zone_data"),
    ],
    taggable: false,
};

pub static ZONES: Collection = Collection {
    singular: "availability_zone",
    plural: "availability_zones",
    attributes: &[
        text("name"),
        text("description"),
        boolean("enabled"),
        text("availability_zone_profile_id"),
    ],
    taggable: false,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_attribute_tables_are_consistent() {
        for table in [
            &LOAD_BALANCERS,
            &LISTENERS,
            &POOLS,
            &MEMBERS,
            &HEALTH_MONITORS,
            &L7_POLICIES,
            &L7_RULES,
            &FLAVOR_PROFILES,
            &FLAVORS,
            &ZONE_PROFILES,
            &ZONES,
        ] {
            table.check().unwrap();
        }
    }
}
