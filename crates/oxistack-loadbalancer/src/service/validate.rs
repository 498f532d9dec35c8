//! Turning requests into records, with Octavia's checks and defaults and
//! its words for each refusal. Pure functions: nothing here reads the
//! database, so the one-call populated create validates its whole tree
//! before anything is written.

use std::net::IpAddr;

use ipnet::IpNet;

use super::LbError;
use crate::model::{
    HealthMonitor, Listener, Member, OFFLINE, PENDING_CREATE, Pool, SessionPersistence,
};
use crate::wire::{
    ListenerCreate, MemberCreate, MonitorCreate, PoolCreate, SessionPersistenceRequest,
};

pub const LISTENER_PROTOCOLS: &[&str] = &[
    "HTTP",
    "HTTPS",
    "PROMETHEUS",
    "SCTP",
    "TCP",
    "TERMINATED_HTTPS",
    "UDP",
];
pub const POOL_PROTOCOLS: &[&str] = &["HTTP", "HTTPS", "PROXY", "PROXYV2", "SCTP", "TCP", "UDP"];
const ALGORITHMS: &[&str] = &[
    "LEAST_CONNECTIONS",
    "ROUND_ROBIN",
    "SOURCE_IP",
    "SOURCE_IP_PORT",
];
const PERSISTENCE: &[&str] = &["APP_COOKIE", "HTTP_COOKIE", "SOURCE_IP"];
const MONITOR_TYPES: &[&str] = &[
    "HTTP",
    "HTTPS",
    "PING",
    "SCTP",
    "TCP",
    "TLS-HELLO",
    "UDP-CONNECT",
];
const HTTP_METHODS: &[&str] = &[
    "CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE",
];
const HEADERS: &[&str] = &["X-Forwarded-For", "X-Forwarded-Port", "X-Forwarded-Proto"];
const TLS_HEADERS: &[&str] = &[
    "X-SSL-Client-Verify",
    "X-SSL-Client-Has-Cert",
    "X-SSL-Client-DN",
    "X-SSL-Client-CN",
    "X-SSL-Issuer",
    "X-SSL-Client-SHA1",
    "X-SSL-Client-Not-Before",
    "X-SSL-Client-Not-After",
];
const MAX_TIMEOUT: i64 = 24 * 60 * 60 * 1000;

/// A new object's identity and timestamps.
pub struct Birth {
    pub project_id: String,
    pub now: String,
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn uuid(field: &str, value: Option<&str>) -> Result<(), LbError> {
    match value {
        Some(v) if uuid::Uuid::parse_str(v).is_err() => {
            Err(LbError::field(field, v, "Value should be UUID format"))
        }
        _ => Ok(()),
    }
}

pub fn one_of(field: &str, value: Option<&str>, options: &[&str]) -> Result<String, LbError> {
    let value = value.ok_or_else(|| LbError::missing(field))?;
    if options.contains(&value) {
        Ok(value.to_owned())
    } else {
        Err(LbError::field(
            field,
            value,
            &format!("Value should be one of: {}", options.join(", ")),
        ))
    }
}

pub fn int(field: &str, value: i64, min: i64, max: i64) -> Result<i64, LbError> {
    if value < min {
        Err(LbError::field(
            field,
            value,
            &format!("Value should be greater or equal to {min}"),
        ))
    } else if value > max {
        Err(LbError::field(
            field,
            value,
            &format!("Value should be lower or equal to {max}"),
        ))
    } else {
        Ok(value)
    }
}

fn port(field: &str, value: Option<i64>) -> Result<u16, LbError> {
    let value = value.ok_or_else(|| LbError::missing(field))?;
    Ok(int(field, value, 1, 65535)? as u16)
}

/// A name or description: at most 255 characters, no control characters;
/// unset reads back as `""`, as Octavia renders it.
pub fn text(field: &str, value: Option<&str>) -> Result<String, LbError> {
    let value = value.unwrap_or_default();
    if value.chars().count() > 255 {
        return Err(LbError::field(
            field,
            value,
            "Value should have a maximum character requirement of 255",
        ));
    }
    Ok(value.to_owned())
}

pub fn tags(value: Option<&[String]>) -> Result<Vec<String>, LbError> {
    let tags = value.unwrap_or_default();
    for tag in tags {
        text("tags", Some(tag))?;
    }
    let mut unique: Vec<String> = Vec::new();
    for tag in tags {
        if !unique.contains(tag) {
            unique.push(tag.clone());
        }
    }
    Ok(unique)
}

pub fn address(field: &str, value: &str) -> Result<IpAddr, LbError> {
    value
        .parse()
        .map_err(|_| LbError::field(field, value, "Value should be IPv4 or IPv6 format"))
}

pub fn timeout(field: &str, value: Option<i64>, default: u64) -> Result<u64, LbError> {
    match value {
        Some(v) => Ok(int(field, v, 0, MAX_TIMEOUT)? as u64),
        None => Ok(default),
    }
}

/// Octavia's `VALID_LISTENER_POOL_PROTOCOL_MAP`.
pub fn pool_fits_listener(listener: &str, pool: &str) -> Result<(), LbError> {
    let valid: &[&str] = match listener {
        "TCP" => &["HTTP", "HTTPS", "PROXY", "PROXYV2", "TCP"],
        "HTTP" | "TERMINATED_HTTPS" => &["HTTP", "PROXY", "PROXYV2"],
        "HTTPS" => &["HTTPS", "PROXY", "PROXYV2", "TCP"],
        "UDP" => &["UDP"],
        "SCTP" => &["SCTP"],
        _ => &[],
    };
    if valid.contains(&pool) {
        return Ok(());
    }
    Err(LbError::Validation(format!(
        "The pool protocol '{pool}' is invalid while the listener protocol is '{listener}'."
    )))
}

pub fn allowed_cidrs(value: Option<&[String]>) -> Result<Option<Vec<String>>, LbError> {
    // Octavia reads an empty list back as null.
    let Some(cidrs) = value.filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    let mut out: Vec<String> = Vec::new();
    for cidr in cidrs {
        let net: IpNet = cidr
            .parse()
            .map_err(|_| LbError::field("allowed_cidrs", cidr, "Value should be CIDR format"))?;
        let text = net.trunc().to_string();
        if !out.contains(&text) {
            out.push(text);
        }
    }
    Ok(Some(out))
}

pub fn insert_headers(
    protocol: &str,
    headers: &std::collections::BTreeMap<String, String>,
) -> Result<(), LbError> {
    if headers.is_empty() {
        return Ok(());
    }
    if !matches!(protocol, "HTTP" | "TERMINATED_HTTPS") {
        return Err(LbError::option(
            "insert-headers",
            &format!("a {protocol} protocol listener."),
        ));
    }
    let unknown: Vec<&String> = headers
        .keys()
        .filter(|k| !HEADERS.contains(&k.as_str()) && !TLS_HEADERS.contains(&k.as_str()))
        .collect();
    if !unknown.is_empty() {
        return Err(LbError::option(format!("{unknown:?}"), "insert_headers"));
    }
    let tls: Vec<&String> = headers
        .keys()
        .filter(|k| TLS_HEADERS.contains(&k.as_str()))
        .collect();
    if !tls.is_empty() {
        return Err(LbError::option(
            format!("{tls:?}"),
            &format!("{protocol} protocol listener."),
        ));
    }
    for (key, value) in headers {
        if !matches!(value.to_ascii_lowercase().as_str(), "true" | "false") {
            return Err(LbError::option(value, key));
        }
    }
    Ok(())
}

/// Refuses what the data plane cannot serve, and TLS termination, which
/// needs certificates this cloud cannot fetch (no Barbican): Octavia's own
/// answers when a certificate cannot be retrieved.
fn serveable_listener(request: &ListenerCreate, protocol: &str) -> Result<(), LbError> {
    let mut refs: Vec<String> = request.sni_container_refs.clone().unwrap_or_default();
    refs.extend(request.default_tls_container_ref.clone());
    match protocol {
        "TERMINATED_HTTPS" if refs.is_empty() => Err(LbError::Validation(
            "An SNI or default certificate container reference must be provided for \
             TERMINATED_HTTPS protocol listeners."
                .into(),
        )),
        "TERMINATED_HTTPS" => Err(unretrievable(&refs)),
        "SCTP" | "PROMETHEUS" => Err(LbError::Invalid(format!(
            "The selected protocol is not allowed in this deployment: {protocol}"
        ))),
        _ if !refs.is_empty() => Err(LbError::Validation(format!(
            "Certificate container references are not allowed on {protocol} protocol listeners."
        ))),
        _ => Ok(()),
    }
}

/// Octavia's `check_hsts_options`: HSTS needs a maximum age, and only a
/// TLS-terminating listener sends it.
fn hsts(protocol: &str, max_age: Option<i64>, options: bool) -> Result<(), LbError> {
    if options && max_age.is_none() {
        return Err(LbError::Validation(
            "HSTS configuration options hsts_include_subdomains and hsts_preload only make \
             sense if hsts_max_age is set as well."
                .into(),
        ));
    }
    if max_age.is_some() && protocol != "TERMINATED_HTTPS" {
        return Err(hsts_protocol());
    }
    Ok(())
}

pub fn hsts_protocol() -> LbError {
    LbError::Validation(
        "The HSTS feature can only be used for listeners using the TERMINATED_HTTPS protocol."
            .into(),
    )
}

/// Octavia's `CertificateRetrievalException`: this cloud has no
/// certificate store (Barbican), so no reference can be fetched.
pub fn unretrievable(refs: &[String]) -> LbError {
    LbError::Invalid(format!(
        "Could not retrieve certificate: {}",
        python_list(refs)
    ))
}

/// How Python prints a list of strings, as Octavia's messages show them.
fn python_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("'{i}'")).collect();
    format!("[{}]", quoted.join(", "))
}

pub fn listener(request: &ListenerCreate, lb_id: &str, birth: &Birth) -> Result<Listener, LbError> {
    let protocol = one_of("protocol", request.protocol.as_deref(), LISTENER_PROTOCOLS)?;
    let protocol_port = port("protocol_port", request.protocol_port)?;
    serveable_listener(request, &protocol)?;
    hsts(
        &protocol,
        request.hsts_max_age,
        request.hsts_include_subdomains.unwrap_or(false) || request.hsts_preload.unwrap_or(false),
    )?;
    uuid("default_pool_id", request.default_pool_id.as_deref())?;
    let insert = request.insert_headers.clone().unwrap_or_default();
    insert_headers(&protocol, &insert)?;
    if request.l7policies.as_ref().is_some_and(|p| !p.is_empty()) {
        return Err(LbError::unsupported("L7 policies"));
    }
    let connection_limit = int(
        "connection_limit",
        request.connection_limit.unwrap_or(-1),
        -1,
        i64::MAX,
    )?;
    let client_authentication = one_of(
        "client_authentication",
        Some(request.client_authentication.as_deref().unwrap_or("NONE")),
        &["MANDATORY", "NONE", "OPTIONAL"],
    )?;
    let client_refs: Vec<String> = [
        &request.client_ca_tls_container_ref,
        &request.client_crl_container_ref,
    ]
    .into_iter()
    .flatten()
    .cloned()
    .collect();
    if !client_refs.is_empty() {
        return Err(unretrievable(&client_refs));
    }
    if client_authentication != "NONE" {
        return Err(LbError::Validation(format!(
            "Client authentication setting {client_authentication} requires a client CA container reference."
        )));
    }
    let udp = protocol == "UDP";
    Ok(Listener {
        id: new_id(),
        loadbalancer_id: lb_id.to_owned(),
        name: text("name", request.name.as_deref())?,
        description: text("description", request.description.as_deref())?,
        provisioning_status: PENDING_CREATE.into(),
        operating_status: OFFLINE.into(),
        admin_state_up: request.admin_state_up.unwrap_or(true),
        project_id: birth.project_id.clone(),
        created_at: birth.now.clone(),
        updated_at: None,
        protocol,
        protocol_port,
        connection_limit,
        default_tls_container_ref: None,
        sni_container_refs: Vec::new(),
        default_pool_id: request.default_pool_id.clone(),
        insert_headers: insert,
        timeout_client_data: timeout("timeout_client_data", request.timeout_client_data, 50000)?,
        timeout_member_connect: timeout(
            "timeout_member_connect",
            request.timeout_member_connect,
            5000,
        )?,
        timeout_member_data: timeout("timeout_member_data", request.timeout_member_data, 50000)?,
        timeout_tcp_inspect: timeout("timeout_tcp_inspect", request.timeout_tcp_inspect, 0)?,
        tags: tags(request.tags.as_deref())?,
        client_ca_tls_container_ref: None,
        client_authentication,
        client_crl_container_ref: None,
        allowed_cidrs: allowed_cidrs(request.allowed_cidrs.as_deref())?,
        tls_ciphers: None,
        tls_versions: None,
        alpn_protocols: None,
        hsts_max_age: request
            .hsts_max_age
            .map(|v| int("hsts_max_age", v, 0, i64::MAX).map(|v| v as u64))
            .transpose()?,
        hsts_include_subdomains: request.hsts_include_subdomains.unwrap_or(false) && !udp,
        hsts_preload: request.hsts_preload.unwrap_or(false) && !udp,
    })
}

/// How a pool's session persistence is given: with the pool, or as a
/// change of the pool's `current` one.
#[derive(Clone, Copy)]
pub enum Given<'a> {
    Create,
    Update {
        current: Option<&'a SessionPersistence>,
    },
}

/// A pool's session persistence as created or changed: a change may leave
/// out the type, which it keeps from the pool's current persistence, as
/// Octavia's PUT does.
pub fn session_persistence(
    request: Option<&SessionPersistenceRequest>,
    protocol: &str,
    given: Given,
) -> Result<Option<SessionPersistence>, LbError> {
    let Some(request) = request else {
        return Ok(None);
    };
    if protocol != "UDP"
        && (request.persistence_timeout.is_some_and(|t| t != 0)
            || request
                .persistence_granularity
                .as_deref()
                .is_some_and(|g| !g.is_empty()))
    {
        // Octavia's words differ between its POST and its PUT.
        let which = match given {
            Given::Create => "UDP and SCTP",
            Given::Update { .. } => "UDP",
        };
        return Err(LbError::Validation(format!(
            "persistence_timeout and persistence_granularity is only for {which} protocol pools."
        )));
    }
    let current = match given {
        Given::Create => None,
        Given::Update { current } => current,
    };
    let kind = request.kind.as_deref().or(current.map(|s| s.kind.as_str()));
    let kind = one_of("type", kind, PERSISTENCE)?;
    match (&request.cookie_name, kind.as_str()) {
        (Some(_), "APP_COOKIE") if protocol == "UDP" => {
            return Err(LbError::Validation(
                "Cookie names are not supported for UDP/SCTP pools.".into(),
            ));
        }
        (Some(_), "APP_COOKIE") => {}
        (Some(_), _) => {
            return Err(LbError::Validation(
                "Field \"cookie_name\" can only be specified with session persistence of type \"APP_COOKIE\"."
                    .into(),
            ));
        }
        (None, "APP_COOKIE") => {
            return Err(LbError::Validation(
                "Field \"cookie_name\" must be specified when using the \"APP_COOKIE\" session persistence type."
                    .into(),
            ));
        }
        (None, _) => {}
    }
    if let Some(name) = &request.cookie_name
        && (name.is_empty()
            || name
                .bytes()
                .any(|b| b <= 0x20 || b"\"(),/:;<=>?@[\\]{}\x7f".contains(&b) || b >= 0x80))
    {
        return Err(LbError::Validation(
            "Supplied \"cookie_name\" is invalid.".into(),
        ));
    }
    if kind == "HTTP_COOKIE" && protocol != "HTTP" {
        return Err(LbError::unsupported(format!(
            "session persistence {kind} on a {protocol} pool"
        )));
    }
    Ok(Some(SessionPersistence {
        kind,
        cookie_name: request.cookie_name.clone(),
        persistence_timeout: request.persistence_timeout,
        persistence_granularity: request.persistence_granularity.clone(),
    }))
}

pub fn pool(request: &PoolCreate, lb_id: &str, birth: &Birth) -> Result<Pool, LbError> {
    let protocol = one_of("protocol", request.protocol.as_deref(), POOL_PROTOCOLS)?;
    let lb_algorithm = one_of("lb_algorithm", request.lb_algorithm.as_deref(), ALGORITHMS)?;
    if matches!(protocol.as_str(), "PROXY" | "PROXYV2" | "SCTP") {
        return Err(LbError::unsupported(format!("pool protocol {protocol}")));
    }
    if lb_algorithm == "SOURCE_IP_PORT" {
        return Err(LbError::unsupported(format!("lb_algorithm {lb_algorithm}")));
    }
    let tls_refs = [
        &request.tls_container_ref,
        &request.ca_tls_container_ref,
        &request.crl_container_ref,
    ];
    if request.tls_enabled == Some(true) || tls_refs.iter().any(|r| r.is_some()) {
        let refs: Vec<String> = tls_refs.into_iter().flatten().cloned().collect();
        return Err(unretrievable(&refs));
    }
    Ok(Pool {
        id: new_id(),
        loadbalancer_id: lb_id.to_owned(),
        name: text("name", request.name.as_deref())?,
        description: text("description", request.description.as_deref())?,
        provisioning_status: PENDING_CREATE.into(),
        operating_status: OFFLINE.into(),
        admin_state_up: request.admin_state_up.unwrap_or(true),
        project_id: birth.project_id.clone(),
        created_at: birth.now.clone(),
        updated_at: None,
        session_persistence: session_persistence(
            request.session_persistence.as_ref(),
            &protocol,
            Given::Create,
        )?,
        protocol,
        lb_algorithm,
        tags: tags(request.tags.as_deref())?,
        tls_container_ref: None,
        ca_tls_container_ref: None,
        crl_container_ref: None,
        tls_enabled: false,
        tls_ciphers: None,
        tls_versions: None,
        alpn_protocols: None,
    })
}

pub fn algorithm(value: &str) -> Result<String, LbError> {
    let algorithm = one_of("lb_algorithm", Some(value), ALGORITHMS)?;
    if algorithm == "SOURCE_IP_PORT" {
        return Err(LbError::unsupported(format!("lb_algorithm {algorithm}")));
    }
    Ok(algorithm)
}

pub fn weight(value: i64) -> Result<u16, LbError> {
    Ok(int("weight", value, 0, 256)? as u16)
}

pub fn member(request: &MemberCreate, pool_id: &str, birth: &Birth) -> Result<Member, LbError> {
    let raw = request
        .address
        .as_deref()
        .ok_or_else(|| LbError::missing("address"))?;
    let address = address("address", raw)?;
    let protocol_port = port("protocol_port", request.protocol_port)?;
    uuid("subnet_id", request.subnet_id.as_deref())?;
    let monitor_address = request
        .monitor_address
        .as_deref()
        .map(|a| address_text("monitor_address", a))
        .transpose()?;
    Ok(Member {
        id: new_id(),
        pool_id: pool_id.to_owned(),
        name: text("name", request.name.as_deref())?,
        provisioning_status: PENDING_CREATE.into(),
        operating_status: if request.admin_state_up == Some(false) {
            OFFLINE.into()
        } else {
            crate::model::NO_MONITOR.into()
        },
        admin_state_up: request.admin_state_up.unwrap_or(true),
        project_id: birth.project_id.clone(),
        created_at: birth.now.clone(),
        updated_at: None,
        address: address.to_string(),
        protocol_port,
        weight: weight(request.weight.unwrap_or(1))?,
        backup: request.backup.unwrap_or(false),
        subnet_id: request.subnet_id.clone(),
        monitor_address,
        monitor_port: request
            .monitor_port
            .map(|p| port("monitor_port", Some(p)))
            .transpose()?,
        tags: tags(request.tags.as_deref())?,
    })
}

pub fn address_text(field: &str, value: &str) -> Result<String, LbError> {
    address(field, value).map(|a| a.to_string())
}

pub fn expected_codes(value: &str) -> Result<String, LbError> {
    let three = |s: &str| s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit());
    let list = value.split(',').all(|c| three(c.trim()));
    let range = value
        .split_once('-')
        .is_some_and(|(a, b)| three(a) && three(b));
    if list || range {
        Ok(value.to_owned())
    } else {
        Err(LbError::field(
            "expected_codes",
            value,
            "Value should match the pattern ^(\\d{3}(\\s*,\\s*\\d{3})*)$|^(\\d{3}-\\d{3})$",
        ))
    }
}

pub fn http_method(value: &str) -> Result<String, LbError> {
    one_of("http_method", Some(value), HTTP_METHODS)
}

pub fn url_path(value: &str) -> Result<String, LbError> {
    if value.starts_with('/') && !value.chars().any(char::is_whitespace) {
        Ok(value.to_owned())
    } else {
        Err(LbError::field(
            "url_path",
            value,
            "Value must be a valid URL path",
        ))
    }
}

pub fn retries(field: &str, value: i64) -> Result<u32, LbError> {
    Ok(int(field, value, 1, 10)? as u32)
}

pub fn seconds(field: &str, value: i64) -> Result<u32, LbError> {
    Ok(int(field, value, 0, i64::from(u32::MAX))? as u32)
}

/// Octavia's `DOMAIN_NAME_REGEX` (at most 253 characters but a trailing
/// dot; labels of 1 to 63 letters, digits, `-` and `_`, not starting or
/// ending with `-`, `_` only first), within WSME's 1 to 255 characters.
pub fn domain_name(value: &str) -> Result<String, LbError> {
    let name = value.strip_suffix('.').unwrap_or(value);
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && !label.starts_with('-')
            && !label.ends_with('-')
            && !label[1..].contains('_')
    };
    if (1..=253).contains(&name.len()) && name.split('.').all(label_ok) {
        Ok(value.to_owned())
    } else {
        Err(LbError::field(
            "domain_name",
            value,
            &format!(
                "Value should match the pattern {}",
                r"^(?=.{1,253}\.?$)(?:(?!-|[^.]+_)[A-Za-z0-9-_]{1,63}(?<!-)(?:\.|$))+$"
            ),
        ))
    }
}

/// How Python prints a float, as Octavia's messages show them (`1.0`).
pub fn python_float(value: f64) -> String {
    if value.fract() == 0.0 && value.is_finite() {
        format!("{value:.1}")
    } else {
        value.to_string()
    }
}

pub fn http_version(version: f64) -> Result<f64, LbError> {
    if version == 1.0 || version == 1.1 {
        Ok(version)
    } else {
        Err(LbError::field(
            "http_version",
            python_float(version),
            "Value should be one of: 1.0, 1.1",
        ))
    }
}

/// Octavia's checks of a monitor's `domain_name` and `http_version`
/// together (the monitor's, after a change): a domain needs HTTP/1.1.
pub fn domain_and_version(domain: Option<&str>, version: Option<f64>) -> Result<(), LbError> {
    if let Some(version) = version {
        http_version(version)?;
    }
    if let Some(domain) = domain {
        domain_name(domain)?;
    }
    match (domain, version) {
        (Some(_), None) => Err(LbError::Validation(
            "'http_version' must be specified when 'domain_name' is provided.".into(),
        )),
        (Some(_), Some(version)) if version < 1.1 => Err(LbError::option(
            format!("http_version {}", python_float(version)),
            "health monitors HTTP 1.1 domain name health check",
        )),
        _ => Ok(()),
    }
}

pub fn monitor(
    request: &MonitorCreate,
    pool: &Pool,
    birth: &Birth,
) -> Result<HealthMonitor, LbError> {
    let kind = one_of("type", request.kind.as_deref(), MONITOR_TYPES)?;
    let required = |field: &str, v: Option<i64>| v.ok_or_else(|| LbError::missing(field));
    let delay = seconds("delay", required("delay", request.delay)?)?;
    let timeout = seconds("timeout", required("timeout", request.timeout)?)?;
    let max_retries = retries("max_retries", required("max_retries", request.max_retries)?)?;
    let max_retries_down = retries("max_retries_down", request.max_retries_down.unwrap_or(3))?;
    let http = matches!(kind.as_str(), "HTTP" | "HTTPS");
    if !http {
        for (field, value) in [
            ("http_method", &request.http_method),
            ("url_path", &request.url_path),
            ("expected_codes", &request.expected_codes),
        ] {
            if value.is_some() {
                return Err(LbError::option(
                    field,
                    &format!("health monitors of type {kind}"),
                ));
            }
        }
    }
    let udp_kinds = ["UDP-CONNECT", "HTTP", "TCP", "SCTP"];
    if pool.protocol == "UDP" && !udp_kinds.contains(&kind.as_str()) {
        return Err(LbError::Validation(format!(
            "The associated pool protocol is {}, so only a {} health monitor is supported.",
            pool.protocol,
            udp_kinds.join("/")
        )));
    }
    if kind == "UDP-CONNECT" && pool.protocol != "UDP" {
        return Err(LbError::Validation(format!(
            "The {kind} type is only supported for pools of type UDP/SCTP."
        )));
    }
    if matches!(kind.as_str(), "SCTP") {
        return Err(LbError::unsupported(format!("health monitor type {kind}")));
    }
    domain_and_version(request.domain_name.as_deref(), request.http_version)?;
    let http_field =
        |value: &Option<String>, default: &str, check: fn(&str) -> Result<String, LbError>| {
            if http {
                check(value.as_deref().unwrap_or(default)).map(Some)
            } else {
                Ok(None)
            }
        };
    Ok(HealthMonitor {
        id: new_id(),
        pool_id: pool.id.clone(),
        name: text("name", request.name.as_deref())?,
        provisioning_status: PENDING_CREATE.into(),
        operating_status: OFFLINE.into(),
        admin_state_up: request.admin_state_up.unwrap_or(true),
        project_id: birth.project_id.clone(),
        created_at: birth.now.clone(),
        updated_at: None,
        http_method: http_field(&request.http_method, "GET", http_method)?,
        url_path: http_field(&request.url_path, "/", url_path)?,
        expected_codes: http_field(&request.expected_codes, "200", expected_codes)?,
        kind,
        delay,
        timeout,
        max_retries,
        max_retries_down,
        http_version: request.http_version,
        domain_name: request.domain_name.clone(),
        tags: tags(request.tags.as_deref())?,
    })
}
