//! Octavia's request bodies, as typed requests, and (in [`documents`]) its
//! response documents. Numbers are read wide and strings as they come, so
//! that the service refuses out-of-range values and bad enums with
//! Octavia's own words rather than a parser's; numbers and booleans are
//! read as WSME reads them (`"80"`, `"true"`: python-octaviaclient sends
//! some as strings), through `oxistack_http::field`'s lenient helpers;
//! unknown attributes are refused, as WSME does.

pub mod documents;

use std::collections::BTreeMap;

use oxistack_http::field::{lenient, lenient_not_null, lenient_nullable, not_null, nullable};
use serde::Deserialize;

/// A text attribute that may be given as `null` (Octavia stores it unset).
type Text = Option<String>;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancerCreate {
    pub name: Text,
    pub description: Text,
    #[serde(default, deserialize_with = "lenient")]
    pub admin_state_up: Option<bool>,
    pub vip_address: Text,
    pub vip_port_id: Text,
    pub vip_subnet_id: Text,
    pub vip_network_id: Text,
    pub vip_qos_policy_id: Text,
    pub additional_vips: Option<Vec<serde_json::Value>>,
    pub project_id: Text,
    pub tenant_id: Text,
    pub listeners: Option<Vec<ListenerCreate>>,
    pub pools: Option<Vec<PoolCreate>>,
    pub provider: Text,
    pub tags: Option<Vec<String>>,
    pub flavor_id: Text,
    pub availability_zone: Text,
    pub vip_sg_ids: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancerUpdate {
    #[serde(default, deserialize_with = "nullable")]
    pub name: Option<Text>,
    #[serde(default, deserialize_with = "nullable")]
    pub description: Option<Text>,
    #[serde(default, deserialize_with = "nullable")]
    pub vip_qos_policy_id: Option<Text>,
    #[serde(default, deserialize_with = "nullable")]
    pub vip_sg_ids: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "lenient_not_null")]
    pub admin_state_up: Option<bool>,
    #[serde(default, deserialize_with = "not_null")]
    pub tags: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerCreate {
    pub name: Text,
    pub description: Text,
    #[serde(default, deserialize_with = "lenient")]
    pub admin_state_up: Option<bool>,
    pub protocol: Text,
    #[serde(default, deserialize_with = "lenient")]
    pub protocol_port: Option<i64>,
    #[serde(default, deserialize_with = "lenient")]
    pub connection_limit: Option<i64>,
    pub default_tls_container_ref: Text,
    pub sni_container_refs: Option<Vec<String>>,
    pub project_id: Text,
    pub tenant_id: Text,
    pub default_pool_id: Text,
    pub default_pool: Option<PoolCreate>,
    pub l7policies: Option<Vec<serde_json::Value>>,
    pub insert_headers: Option<BTreeMap<String, String>>,
    pub loadbalancer_id: Text,
    #[serde(default, deserialize_with = "lenient")]
    pub timeout_client_data: Option<i64>,
    #[serde(default, deserialize_with = "lenient")]
    pub timeout_member_connect: Option<i64>,
    #[serde(default, deserialize_with = "lenient")]
    pub timeout_member_data: Option<i64>,
    #[serde(default, deserialize_with = "lenient")]
    pub timeout_tcp_inspect: Option<i64>,
    pub tags: Option<Vec<String>>,
    pub client_ca_tls_container_ref: Text,
    pub client_authentication: Text,
    pub client_crl_container_ref: Text,
    pub allowed_cidrs: Option<Vec<String>>,
    pub tls_ciphers: Text,
    pub tls_versions: Option<Vec<String>>,
    pub alpn_protocols: Option<Vec<String>>,
    #[serde(default, deserialize_with = "lenient")]
    pub hsts_max_age: Option<i64>,
    #[serde(default, deserialize_with = "lenient")]
    pub hsts_include_subdomains: Option<bool>,
    #[serde(default, deserialize_with = "lenient")]
    pub hsts_preload: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerUpdate {
    #[serde(default, deserialize_with = "nullable")]
    pub name: Option<Text>,
    #[serde(default, deserialize_with = "nullable")]
    pub description: Option<Text>,
    #[serde(default, deserialize_with = "lenient_not_null")]
    pub admin_state_up: Option<bool>,
    #[serde(default, deserialize_with = "lenient_nullable")]
    pub connection_limit: Option<Option<i64>>,
    #[serde(default, deserialize_with = "nullable")]
    pub default_tls_container_ref: Option<Text>,
    #[serde(default, deserialize_with = "nullable")]
    pub sni_container_refs: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "nullable")]
    pub default_pool_id: Option<Text>,
    #[serde(default, deserialize_with = "nullable")]
    pub insert_headers: Option<Option<BTreeMap<String, String>>>,
    #[serde(default, deserialize_with = "lenient_nullable")]
    pub timeout_client_data: Option<Option<i64>>,
    #[serde(default, deserialize_with = "lenient_nullable")]
    pub timeout_member_connect: Option<Option<i64>>,
    #[serde(default, deserialize_with = "lenient_nullable")]
    pub timeout_member_data: Option<Option<i64>>,
    #[serde(default, deserialize_with = "lenient_nullable")]
    pub timeout_tcp_inspect: Option<Option<i64>>,
    #[serde(default, deserialize_with = "not_null")]
    pub tags: Option<Vec<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub allowed_cidrs: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "nullable")]
    pub client_ca_tls_container_ref: Option<Text>,
    #[serde(default, deserialize_with = "nullable")]
    pub client_authentication: Option<Text>,
    #[serde(default, deserialize_with = "nullable")]
    pub client_crl_container_ref: Option<Text>,
    #[serde(default, deserialize_with = "nullable")]
    pub tls_ciphers: Option<Text>,
    #[serde(default, deserialize_with = "nullable")]
    pub tls_versions: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "nullable")]
    pub alpn_protocols: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "lenient_nullable")]
    pub hsts_max_age: Option<Option<i64>>,
    #[serde(default, deserialize_with = "lenient_nullable")]
    pub hsts_include_subdomains: Option<Option<bool>>,
    #[serde(default, deserialize_with = "lenient_nullable")]
    pub hsts_preload: Option<Option<bool>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionPersistenceRequest {
    #[serde(rename = "type")]
    pub kind: Text,
    pub cookie_name: Text,
    #[serde(default, deserialize_with = "lenient")]
    pub persistence_timeout: Option<i64>,
    pub persistence_granularity: Text,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolCreate {
    pub name: Text,
    pub description: Text,
    #[serde(default, deserialize_with = "lenient")]
    pub admin_state_up: Option<bool>,
    pub listener_id: Text,
    pub loadbalancer_id: Text,
    pub protocol: Text,
    pub lb_algorithm: Text,
    pub session_persistence: Option<SessionPersistenceRequest>,
    pub project_id: Text,
    pub tenant_id: Text,
    pub healthmonitor: Option<MonitorCreate>,
    pub members: Option<Vec<MemberCreate>>,
    pub tags: Option<Vec<String>>,
    pub tls_container_ref: Text,
    pub ca_tls_container_ref: Text,
    pub crl_container_ref: Text,
    #[serde(default, deserialize_with = "lenient")]
    pub tls_enabled: Option<bool>,
    pub tls_ciphers: Text,
    pub tls_versions: Option<Vec<String>>,
    pub alpn_protocols: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolUpdate {
    #[serde(default, deserialize_with = "nullable")]
    pub name: Option<Text>,
    #[serde(default, deserialize_with = "nullable")]
    pub description: Option<Text>,
    #[serde(default, deserialize_with = "lenient_not_null")]
    pub admin_state_up: Option<bool>,
    #[serde(default, deserialize_with = "not_null")]
    pub lb_algorithm: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub session_persistence: Option<Option<SessionPersistenceRequest>>,
    #[serde(default, deserialize_with = "not_null")]
    pub tags: Option<Vec<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub tls_container_ref: Option<Text>,
    #[serde(default, deserialize_with = "nullable")]
    pub ca_tls_container_ref: Option<Text>,
    #[serde(default, deserialize_with = "nullable")]
    pub crl_container_ref: Option<Text>,
    #[serde(default, deserialize_with = "lenient_nullable")]
    pub tls_enabled: Option<Option<bool>>,
    #[serde(default, deserialize_with = "nullable")]
    pub tls_ciphers: Option<Text>,
    #[serde(default, deserialize_with = "nullable")]
    pub tls_versions: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "nullable")]
    pub alpn_protocols: Option<Option<Vec<String>>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberCreate {
    pub name: Text,
    #[serde(default, deserialize_with = "lenient")]
    pub admin_state_up: Option<bool>,
    pub address: Text,
    #[serde(default, deserialize_with = "lenient")]
    pub protocol_port: Option<i64>,
    #[serde(default, deserialize_with = "lenient")]
    pub weight: Option<i64>,
    #[serde(default, deserialize_with = "lenient")]
    pub backup: Option<bool>,
    pub subnet_id: Text,
    pub project_id: Text,
    pub tenant_id: Text,
    #[serde(default, deserialize_with = "lenient")]
    pub monitor_port: Option<i64>,
    pub monitor_address: Text,
    pub tags: Option<Vec<String>>,
    #[serde(default, deserialize_with = "lenient")]
    pub request_sriov: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberUpdate {
    #[serde(default, deserialize_with = "nullable")]
    pub name: Option<Text>,
    #[serde(default, deserialize_with = "lenient_not_null")]
    pub admin_state_up: Option<bool>,
    #[serde(default, deserialize_with = "lenient_nullable")]
    pub weight: Option<Option<i64>>,
    #[serde(default, deserialize_with = "lenient_nullable")]
    pub backup: Option<Option<bool>>,
    #[serde(default, deserialize_with = "lenient_nullable")]
    pub monitor_port: Option<Option<i64>>,
    #[serde(default, deserialize_with = "nullable")]
    pub monitor_address: Option<Text>,
    #[serde(default, deserialize_with = "not_null")]
    pub tags: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorCreate {
    pub name: Text,
    #[serde(rename = "type")]
    pub kind: Text,
    #[serde(default, deserialize_with = "lenient")]
    pub delay: Option<i64>,
    #[serde(default, deserialize_with = "lenient")]
    pub timeout: Option<i64>,
    #[serde(default, deserialize_with = "lenient")]
    pub max_retries: Option<i64>,
    #[serde(default, deserialize_with = "lenient")]
    pub max_retries_down: Option<i64>,
    pub http_method: Text,
    pub url_path: Text,
    pub expected_codes: Text,
    #[serde(default, deserialize_with = "lenient")]
    pub admin_state_up: Option<bool>,
    pub project_id: Text,
    pub tenant_id: Text,
    pub pool_id: Text,
    pub tags: Option<Vec<String>>,
    #[serde(default, deserialize_with = "lenient")]
    pub http_version: Option<f64>,
    pub domain_name: Text,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorUpdate {
    #[serde(default, deserialize_with = "nullable")]
    pub name: Option<Text>,
    #[serde(default, deserialize_with = "lenient_not_null")]
    pub delay: Option<i64>,
    #[serde(default, deserialize_with = "lenient_not_null")]
    pub timeout: Option<i64>,
    #[serde(default, deserialize_with = "lenient_not_null")]
    pub max_retries: Option<i64>,
    #[serde(default, deserialize_with = "lenient_nullable")]
    pub max_retries_down: Option<Option<i64>>,
    #[serde(default, deserialize_with = "nullable")]
    pub http_method: Option<Text>,
    #[serde(default, deserialize_with = "nullable")]
    pub url_path: Option<Text>,
    #[serde(default, deserialize_with = "nullable")]
    pub expected_codes: Option<Text>,
    #[serde(default, deserialize_with = "lenient_nullable")]
    pub http_version: Option<Option<f64>>,
    #[serde(default, deserialize_with = "nullable")]
    pub domain_name: Option<Text>,
    #[serde(default, deserialize_with = "lenient_not_null")]
    pub admin_state_up: Option<bool>,
    #[serde(default, deserialize_with = "not_null")]
    pub tags: Option<Vec<String>>,
}

/// `PUT /pools/{id}/members`: the whole set of members.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MembersReplace {
    pub members: Vec<MemberCreate>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyCreate {
    pub name: Text,
    pub description: Text,
    #[serde(default, deserialize_with = "lenient")]
    pub admin_state_up: Option<bool>,
    pub project_id: Text,
    pub tenant_id: Text,
    pub action: Text,
    pub redirect_pool_id: Text,
    pub redirect_url: Text,
    pub redirect_prefix: Text,
    #[serde(default, deserialize_with = "lenient")]
    pub redirect_http_code: Option<i64>,
    #[serde(default, deserialize_with = "lenient")]
    pub position: Option<i64>,
    pub listener_id: Text,
    pub rules: Option<Vec<RuleCreate>>,
    pub tags: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyUpdate {
    #[serde(default, deserialize_with = "nullable")]
    pub name: Option<Text>,
    #[serde(default, deserialize_with = "nullable")]
    pub description: Option<Text>,
    #[serde(default, deserialize_with = "lenient_not_null")]
    pub admin_state_up: Option<bool>,
    #[serde(default, deserialize_with = "not_null")]
    pub action: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub redirect_pool_id: Option<Text>,
    #[serde(default, deserialize_with = "nullable")]
    pub redirect_url: Option<Text>,
    #[serde(default, deserialize_with = "nullable")]
    pub redirect_prefix: Option<Text>,
    #[serde(default, deserialize_with = "lenient_nullable")]
    pub redirect_http_code: Option<Option<i64>>,
    #[serde(default, deserialize_with = "lenient_not_null")]
    pub position: Option<i64>,
    #[serde(default, deserialize_with = "not_null")]
    pub tags: Option<Vec<String>>,
}

/// A rule as created.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleCreate {
    #[serde(rename = "type")]
    pub kind: Text,
    pub compare_type: Text,
    pub key: Text,
    pub value: Text,
    #[serde(default, deserialize_with = "lenient")]
    pub invert: Option<bool>,
    #[serde(default, deserialize_with = "lenient")]
    pub admin_state_up: Option<bool>,
    pub project_id: Text,
    pub tenant_id: Text,
    pub tags: Option<Vec<String>>,
}

/// A rule's change (Octavia validates the updated rule as a whole): a
/// `null` key clears it, a `null` invert is `false`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleUpdate {
    #[serde(rename = "type")]
    pub kind: Text,
    pub compare_type: Text,
    #[serde(default, deserialize_with = "nullable")]
    pub key: Option<Text>,
    pub value: Text,
    #[serde(default, deserialize_with = "lenient_nullable")]
    pub invert: Option<Option<bool>>,
    #[serde(default, deserialize_with = "lenient")]
    pub admin_state_up: Option<bool>,
    pub tags: Option<Vec<String>>,
}

/// A flavor, availability zone or profile as sent: its attributes are
/// checked per catalog by the service.
#[derive(Debug, Clone, Deserialize)]
pub struct CatalogBody(pub serde_json::Map<String, serde_json::Value>);
