//! L7 policies and their rules: what an HTTP listener does with a request
//! before its default pool (redirect it to a URL, a prefix or another
//! pool, or reject it). Policies are ordered per listener by a 1-based
//! `position` kept contiguous, a new or moved policy taking the place it
//! asks for; rules are validated with Octavia's checks and words.

use std::sync::Arc;

use oxistack_auth::AuthContext;

use super::objects::mark;
use super::validate::{self, Birth};
use super::{LbError, LoadBalancerService, Locate, lock_for_child};
use crate::model::{
    Kind, L7Policy, L7Rule, OFFLINE, PENDING_CREATE, PENDING_DELETE, PENDING_UPDATE, Record, Tree,
    renumber,
};
use crate::wire::documents::{self, Document};
use crate::wire::{PolicyCreate, PolicyUpdate, RuleCreate, RuleUpdate};

const ACTIONS: &[&str] = &[
    "REDIRECT_PREFIX",
    "REDIRECT_TO_POOL",
    "REDIRECT_TO_URL",
    "REJECT",
];
const RULE_TYPES: &[&str] = &[
    "COOKIE",
    "FILE_TYPE",
    "HEADER",
    "HOST_NAME",
    "PATH",
    "SSL_CONN_HAS_CERT",
    "SSL_DN_FIELD",
    "SSL_VERIFY_RESULT",
];
const COMPARE_TYPES: &[&str] = &["CONTAINS", "ENDS_WITH", "EQUAL_TO", "REGEX", "STARTS_WITH"];
const REDIRECT_CODES: &[i64] = &[301, 302, 303, 307, 308];

fn args(message: &str) -> LbError {
    LbError::Invalid(format!("Invalid L7 Policy arguments: {message}"))
}

fn rule_error(message: &str) -> LbError {
    LbError::Invalid(format!("Error parsing L7Rule: Invalid L7 Rule: {message}"))
}

/// The policy's action and targets made consistent, as Octavia's
/// `sanitize_l7policy`: what the action does not use is cleared, a
/// redirect's code defaults to 302.
fn sanitize(policy: &mut L7Policy, tree: &Tree) -> Result<(), LbError> {
    let action = policy.action.as_str();
    if policy.redirect_pool_id.is_some()
        && (policy.redirect_url.is_some() || policy.redirect_prefix.is_some())
    {
        return Err(args(
            "Cannot specify redirect_pool_id and redirect_url or redirect_prefix at the same time",
        ));
    }
    match action {
        "REJECT" => {
            policy.redirect_pool_id = None;
            policy.redirect_url = None;
            policy.redirect_prefix = None;
        }
        "REDIRECT_TO_URL" if policy.redirect_url.is_none() => {
            return Err(args("redirect_url must not be None"));
        }
        "REDIRECT_TO_URL" => {
            policy.redirect_pool_id = None;
            policy.redirect_prefix = None;
        }
        "REDIRECT_PREFIX" if policy.redirect_prefix.is_none() => {
            return Err(args("redirect_prefix must not be None"));
        }
        "REDIRECT_PREFIX" => {
            policy.redirect_pool_id = None;
            policy.redirect_url = None;
        }
        _ => {
            let Some(pool_id) = &policy.redirect_pool_id else {
                return Err(args("redirect_pool_id or redirect_pool must not be None"));
            };
            validate::uuid("redirect_pool_id", Some(pool_id))?;
            let listener = tree
                .listener(&policy.listener_id)
                .expect("checked by the caller");
            let pool = tree
                .pool(pool_id)
                .filter(|p| p.provisioning_status != PENDING_DELETE)
                .ok_or_else(|| LbError::not_found(Kind::Pool, pool_id))?;
            validate::pool_fits_listener(&listener.protocol, &pool.protocol)?;
            policy.redirect_url = None;
            policy.redirect_prefix = None;
        }
    }
    for url in [&policy.redirect_url, &policy.redirect_prefix]
        .into_iter()
        .flatten()
    {
        if !(url.starts_with("http://") || url.starts_with("https://"))
            || url.contains(char::is_whitespace)
        {
            return Err(args(&format!("{url} is not a valid URL")));
        }
    }
    if matches!(action, "REDIRECT_TO_URL" | "REDIRECT_PREFIX") {
        policy.redirect_http_code.get_or_insert(302);
    } else {
        policy.redirect_http_code = None;
    }
    Ok(())
}

fn redirect_code(value: Option<i64>) -> Result<Option<u16>, LbError> {
    match value {
        None => Ok(None),
        Some(code) if REDIRECT_CODES.contains(&code) => Ok(Some(code as u16)),
        Some(code) => Err(LbError::field(
            "redirect_http_code",
            code,
            "Value should be one of: 301, 302, 303, 307, 308",
        )),
    }
}

/// Checks a rule as Octavia's `l7rule_data` does.
fn check_rule(rule: &L7Rule) -> Result<(), LbError> {
    if rule.value.is_empty() {
        return Err(rule_error("L7 rule type requires a value"));
    }
    let compare = rule.compare_type.as_str();
    let allowed: &[&str] = match rule.kind.as_str() {
        "HEADER" | "COOKIE" => {
            if rule.key.as_deref().is_none_or(str::is_empty) {
                return Err(rule_error("L7 rule type requires a key"));
            }
            COMPARE_TYPES
        }
        "HOST_NAME" | "PATH" => COMPARE_TYPES,
        "FILE_TYPE" => &["EQUAL_TO", "REGEX"],
        kind => return Err(LbError::unsupported(format!("L7 rule type {kind}"))),
    };
    if !allowed.contains(&compare) {
        return Err(rule_error("invalid comparison type for rule type"));
    }
    if compare == "REGEX"
        && let Err(error) = regex::Regex::new(&rule.value)
    {
        return Err(LbError::Invalid(format!(
            "Error parsing L7Rule: Unable to parse regular expression: {error}"
        )));
    }
    if rule.value.contains(['\r', '\n'])
        || rule
            .key
            .as_deref()
            .is_some_and(|k| k.contains(['\r', '\n']))
    {
        return Err(rule_error("Invalid characters in comparison value"));
    }
    Ok(())
}

fn rule(request: &RuleCreate, policy_id: &str, birth: &Birth) -> Result<L7Rule, LbError> {
    let rule = L7Rule {
        id: uuid::Uuid::new_v4().to_string(),
        l7policy_id: policy_id.to_owned(),
        provisioning_status: PENDING_CREATE.into(),
        operating_status: OFFLINE.into(),
        admin_state_up: request.admin_state_up.unwrap_or(true),
        project_id: birth.project_id.clone(),
        created_at: birth.now.clone(),
        updated_at: None,
        kind: validate::one_of("type", request.kind.as_deref(), RULE_TYPES)?,
        compare_type: validate::one_of(
            "compare_type",
            request.compare_type.as_deref(),
            COMPARE_TYPES,
        )?,
        key: request.key.clone(),
        value: request
            .value
            .clone()
            .ok_or_else(|| LbError::missing("value"))?,
        invert: request.invert.unwrap_or(false),
        tags: validate::tags(request.tags.as_deref())?,
    };
    check_rule(&rule)?;
    Ok(rule)
}

/// Moves policy `id` to `position` among its listener's (the end when
/// beyond it), renumbering the others.
fn place(tree: &mut Tree, id: &str, position: i64) {
    let listener = tree
        .policies
        .iter()
        .find(|p| p.id == id)
        .expect("placed")
        .listener_id
        .clone();
    let mut order: Vec<String> = tree
        .policies_of(&listener)
        .into_iter()
        .map(|p| p.id.clone())
        .filter(|p| p != id)
        .collect();
    let at = usize::try_from(position - 1).unwrap_or(0).min(order.len());
    order.insert(at, id.to_owned());
    for policy in tree
        .policies
        .iter_mut()
        .filter(|p| p.listener_id == listener)
    {
        let index = order.iter().position(|o| *o == policy.id).expect("listed");
        policy.position = index as u32 + 1;
    }
    renumber(&mut tree.policies);
}

/// Adds a policy (and its rules) to a listener of the tree.
pub fn add_policy(
    tree: &mut Tree,
    request: &PolicyCreate,
    birth: &Birth,
) -> Result<String, LbError> {
    let listener_id = request
        .listener_id
        .clone()
        .ok_or_else(|| LbError::missing("listener_id"))?;
    let listener = tree
        .listener(&listener_id)
        .filter(|l| l.provisioning_status != PENDING_DELETE)
        .ok_or_else(|| LbError::not_found(Kind::Listener, &listener_id))?;
    if !matches!(listener.protocol.as_str(), "HTTP" | "TERMINATED_HTTPS") {
        return Err(LbError::Validation(format!(
            "L7 policies are not supported on {} protocol listeners.",
            listener.protocol
        )));
    }
    let position = validate::int(
        "position",
        request.position.unwrap_or(i64::from(i32::MAX)),
        1,
        i64::from(i32::MAX),
    )?;
    let mut policy = L7Policy {
        id: uuid::Uuid::new_v4().to_string(),
        listener_id,
        name: validate::text("name", request.name.as_deref())?,
        description: validate::text("description", request.description.as_deref())?,
        provisioning_status: PENDING_CREATE.into(),
        operating_status: OFFLINE.into(),
        admin_state_up: request.admin_state_up.unwrap_or(true),
        project_id: birth.project_id.clone(),
        created_at: birth.now.clone(),
        updated_at: None,
        action: validate::one_of("action", request.action.as_deref(), ACTIONS)?,
        redirect_pool_id: request.redirect_pool_id.clone(),
        redirect_url: request.redirect_url.clone(),
        redirect_prefix: request.redirect_prefix.clone(),
        redirect_http_code: redirect_code(request.redirect_http_code)?,
        position: u32::MAX,
        tags: validate::tags(request.tags.as_deref())?,
    };
    sanitize(&mut policy, tree)?;
    let id = policy.id.clone();
    let rules = request
        .rules
        .iter()
        .flatten()
        .map(|r| rule(r, &id, birth))
        .collect::<Result<Vec<_>, _>>()?;
    tree.policies.push(policy);
    tree.rules.extend(rules);
    place(tree, &id, position);
    Ok(id)
}

/// Marks a policy's listener (and the policy) as changing.
fn mark_listener_of(tree: &mut Tree, policy_id: &str, now: &str) {
    let listener = tree
        .policies
        .iter()
        .find(|p| p.id == policy_id)
        .map(|p| p.listener_id.clone());
    for l in tree
        .listeners
        .iter_mut()
        .filter(|l| Some(&l.id) == listener.as_ref())
    {
        mark(l, PENDING_UPDATE, now);
    }
    for p in tree.policies.iter_mut().filter(|p| p.id == policy_id) {
        mark(p, PENDING_UPDATE, now);
    }
}

/// The policy `policy_id`'s rule `id`, or Octavia's not found.
fn rule_in<'a>(tree: &'a Tree, policy_id: &str, id: &str) -> Result<&'a L7Rule, LbError> {
    tree.rules
        .iter()
        .find(|r| r.id == id && r.l7policy_id == policy_id)
        .ok_or_else(|| LbError::not_found(Kind::L7Rule, id))
}

impl LoadBalancerService {
    pub async fn create_policy(
        &self,
        caller: &Arc<AuthContext>,
        request: PolicyCreate,
    ) -> Result<Document, LbError> {
        let listener_id = request
            .listener_id
            .clone()
            .ok_or_else(|| LbError::missing("listener_id"))?;
        validate::uuid("listener_id", Some(&listener_id))?;
        self.change(
            caller,
            Locate::new(Kind::Listener, &listener_id),
            move |tree| {
                let birth = lock_for_child(tree)?;
                let id = add_policy(tree, &request, &birth)?;
                for l in tree.listeners.iter_mut().filter(|l| l.id == listener_id) {
                    mark(l, PENDING_UPDATE, &birth.now);
                }
                let policy = tree
                    .policies
                    .iter()
                    .find(|p| p.id == id)
                    .expect("just added");
                Ok(documents::policy(tree, policy))
            },
        )
        .await
    }

    pub async fn update_policy(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
        request: PolicyUpdate,
    ) -> Result<Document, LbError> {
        let id = id.to_owned();
        self.change(caller, Locate::new(Kind::L7Policy, &id), move |tree| {
            let now = lock_for_child(tree)?.now;
            let at = tree
                .policies
                .iter()
                .position(|p| p.id == id)
                .expect("located");
            let mut policy = tree.policies[at].clone();
            if let Some(name) = request.name {
                policy.name = validate::text("name", name.as_deref())?;
            }
            if let Some(description) = request.description {
                policy.description = validate::text("description", description.as_deref())?;
            }
            if let Some(up) = request.admin_state_up {
                policy.admin_state_up = up;
            }
            if let Some(action) = request.action {
                policy.action = validate::one_of("action", Some(&action), ACTIONS)?;
            }
            for (target, value) in [
                (&mut policy.redirect_pool_id, request.redirect_pool_id),
                (&mut policy.redirect_url, request.redirect_url),
                (&mut policy.redirect_prefix, request.redirect_prefix),
            ] {
                if let Some(value) = value {
                    *target = value;
                }
            }
            if let Some(code) = request.redirect_http_code {
                policy.redirect_http_code = redirect_code(code)?;
            }
            if let Some(tags) = request.tags {
                policy.tags = validate::tags(Some(&tags))?;
            }
            sanitize(&mut policy, tree)?;
            tree.policies[at] = policy;
            if let Some(position) = request.position {
                place(
                    tree,
                    &id,
                    validate::int("position", position, 1, i64::from(i32::MAX))?,
                );
            }
            mark_listener_of(tree, &id, &now);
            let policy = tree.policies.iter().find(|p| p.id == id).expect("located");
            Ok(documents::policy(tree, policy))
        })
        .await
    }

    pub async fn create_rule(
        &self,
        caller: &Arc<AuthContext>,
        policy_id: &str,
        request: RuleCreate,
    ) -> Result<Document, LbError> {
        let policy_id = policy_id.to_owned();
        self.change(
            caller,
            Locate::new(Kind::L7Policy, &policy_id),
            move |tree| {
                let birth = lock_for_child(tree)?;
                let rule = rule(&request, &policy_id, &birth)?;
                let document = documents::rule(&rule);
                tree.rules.push(rule);
                mark_listener_of(tree, &policy_id, &birth.now);
                Ok(document)
            },
        )
        .await
    }

    /// Changes a rule: the given attributes over the current ones, the
    /// result checked as a whole, as Octavia does.
    pub async fn update_rule(
        &self,
        caller: &Arc<AuthContext>,
        policy_id: &str,
        id: &str,
        request: RuleUpdate,
    ) -> Result<Document, LbError> {
        let (policy_id, id) = (policy_id.to_owned(), id.to_owned());
        self.change(
            caller,
            Locate::new(Kind::L7Policy, &policy_id),
            move |tree| {
                let mut rule = rule_in(tree, &policy_id, &id)?.clone();
                let now = lock_for_child(tree)?.now;
                if request.kind.is_some() {
                    rule.kind = validate::one_of("type", request.kind.as_deref(), RULE_TYPES)?;
                }
                if request.compare_type.is_some() {
                    rule.compare_type = validate::one_of(
                        "compare_type",
                        request.compare_type.as_deref(),
                        COMPARE_TYPES,
                    )?;
                }
                if let Some(key) = request.key {
                    rule.key = key;
                }
                if let Some(value) = request.value {
                    rule.value = value;
                }
                if let Some(invert) = request.invert {
                    rule.invert = invert.unwrap_or(false);
                }
                if let Some(up) = request.admin_state_up {
                    rule.admin_state_up = up;
                }
                if let Some(tags) = request.tags {
                    rule.tags = validate::tags(Some(&tags))?;
                }
                check_rule(&rule)?;
                mark(&mut rule, PENDING_UPDATE, &now);
                let document = documents::rule(&rule);
                let at = tree.rules.iter().position(|r| r.id == id).expect("found");
                tree.rules[at] = rule;
                mark_listener_of(tree, &policy_id, &now);
                Ok(document)
            },
        )
        .await
    }

    pub async fn show_rule(
        &self,
        caller: &Arc<AuthContext>,
        policy_id: &str,
        id: &str,
    ) -> Result<Document, LbError> {
        let (policy_id, id) = (policy_id.to_owned(), id.to_owned());
        self.read(
            caller,
            Locate::new(Kind::L7Policy, &policy_id),
            move |tree| rule_in(tree, &policy_id, &id).map(documents::rule),
        )
        .await
    }

    pub async fn delete_rule(
        &self,
        caller: &Arc<AuthContext>,
        policy_id: &str,
        id: &str,
    ) -> Result<(), LbError> {
        let (policy_id, id) = (policy_id.to_owned(), id.to_owned());
        self.change(
            caller,
            Locate::new(Kind::L7Policy, &policy_id),
            move |tree| {
                rule_in(tree, &policy_id, &id)?;
                let now = lock_for_child(tree)?.now;
                for r in tree.rules.iter_mut().filter(|r| r.id == id) {
                    r.set_provisioning_status(PENDING_DELETE);
                }
                mark_listener_of(tree, &policy_id, &now);
                Ok(())
            },
        )
        .await
    }
}
