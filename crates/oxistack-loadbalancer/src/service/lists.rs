//! Lists through `oxistack-list`: every visible tree is read and rendered,
//! and the list machinery filters, sorts, pages and trims the documents.
//! An admin or global observer sees every project's objects, others their
//! own project's; `project_id` filters like any attribute.

use std::sync::Arc;

use oxistack_auth::{Action, AuthContext};
use oxistack_list::{Collection, Item, ListError, ListQuery, Page};

use super::{LbError, LoadBalancerService, authorize, sees};
use crate::model::{Kind, Tree};
use crate::store;
use crate::wire::documents::{self, Document};

/// What is listed: a top-level collection, or the members of one pool.
#[derive(Debug, Clone)]
pub enum ListKind {
    Top(Kind),
    MembersOf(String),
    RulesOf(String),
}

impl ListKind {
    /// The parameter naming the parent an object must belong to, which
    /// Octavia filters on though its documents do not show it:
    /// `listeners?loadbalancer_id=`, `pools?loadbalancer_id=`,
    /// `healthmonitors?pool_id=`.
    pub fn parent_filter(&self) -> Option<&'static str> {
        match self {
            ListKind::Top(Kind::Listener | Kind::Pool) => Some("loadbalancer_id"),
            ListKind::Top(Kind::HealthMonitor) => Some("pool_id"),
            _ => None,
        }
    }

    pub fn collection(&self) -> &'static Collection {
        match self {
            ListKind::Top(Kind::LoadBalancer) => &documents::LOAD_BALANCERS,
            ListKind::Top(Kind::Listener) => &documents::LISTENERS,
            ListKind::Top(Kind::Pool) => &documents::POOLS,
            ListKind::Top(Kind::HealthMonitor) => &documents::HEALTH_MONITORS,
            ListKind::Top(Kind::L7Policy) => &documents::L7_POLICIES,
            ListKind::Top(Kind::L7Rule) | ListKind::RulesOf(_) => &documents::L7_RULES,
            ListKind::Top(Kind::Member) | ListKind::MembersOf(_) => &documents::MEMBERS,
        }
    }
}

/// The documents of `kind` in `tree`, with their creation order.
fn documents_of(tree: &Tree, kind: &ListKind, parents: &[String]) -> Vec<Item<Document>> {
    let parent = |id: &str| parents.is_empty() || parents.iter().any(|p| p == id);
    let item =
        |id: &str, doc: Document| Item::new(tree.seq.get(id).copied().unwrap_or_default(), doc);
    match kind {
        ListKind::Top(Kind::LoadBalancer) => {
            vec![item(&tree.lb.id, documents::load_balancer(tree))]
        }
        ListKind::Top(Kind::Listener | Kind::Pool) if !parent(&tree.lb.id) => Vec::new(),
        ListKind::Top(Kind::Listener) => tree
            .listeners
            .iter()
            .map(|l| item(&l.id, documents::listener(tree, l)))
            .collect(),
        ListKind::Top(Kind::Pool) => tree
            .pools
            .iter()
            .map(|p| item(&p.id, documents::pool(tree, p)))
            .collect(),
        ListKind::Top(Kind::HealthMonitor) => tree
            .monitors
            .iter()
            .filter(|m| parent(&m.pool_id))
            .map(|m| item(&m.id, documents::monitor(m)))
            .collect(),
        ListKind::Top(Kind::L7Policy) => tree
            .policies
            .iter()
            .map(|p| item(&p.id, documents::policy(tree, p)))
            .collect(),
        ListKind::Top(Kind::Member | Kind::L7Rule) => Vec::new(),
        ListKind::RulesOf(policy_id) => tree
            .rules_of(policy_id)
            .map(|r| item(&r.id, documents::rule(r)))
            .collect(),
        ListKind::MembersOf(pool_id) => tree
            .members_of(pool_id)
            .map(|m| item(&m.id, documents::member(m)))
            .collect(),
    }
}

/// Cuts the page `query` asks for from `items`, its marker one of them.
pub(super) fn page(
    query: &ListQuery,
    items: Vec<Item<Document>>,
    singular: &'static str,
) -> Result<Page<Document>, LbError> {
    let marker = match &query.marker {
        Some(id) => Some(
            items
                .iter()
                .find(|i| i.id() == id)
                .cloned()
                .ok_or_else(|| ListError::UnknownMarker {
                    marker: id.clone(),
                    resource: singular,
                })?,
        ),
        None => None,
    };
    Ok(query.page(items, marker.as_ref()))
}

impl LoadBalancerService {
    /// A page of the objects the caller can see, as `query` asks, of the
    /// `parents` named (see [`ListKind::parent_filter`]; all if none).
    pub async fn list(
        &self,
        caller: &Arc<AuthContext>,
        kind: ListKind,
        query: ListQuery,
        parents: Vec<String>,
    ) -> Result<Page<Document>, LbError> {
        authorize(caller, Action::ReadLoadBalancers)?;
        let caller = caller.clone();
        self.db
            .read(move |conn| {
                let everyone =
                    oxistack_auth::policy::allows(&caller, Action::ReadAllLoadBalancers.rule())
                        || caller.is_admin();
                let trees = store::trees(conn, if everyone { None } else { caller.project_id() })?;
                let trees: Vec<Tree> = trees
                    .into_iter()
                    .filter(|t| sees(&caller, &t.lb.project_id))
                    .collect();
                match &kind {
                    ListKind::MembersOf(pool_id)
                        if !trees.iter().any(|t| t.pool(pool_id).is_some()) =>
                    {
                        return Err(LbError::not_found(Kind::Pool, pool_id));
                    }
                    ListKind::RulesOf(policy_id)
                        if !trees
                            .iter()
                            .any(|t| t.policies.iter().any(|p| p.id == *policy_id)) =>
                    {
                        return Err(LbError::not_found(Kind::L7Policy, policy_id));
                    }
                    _ => {}
                }
                let items: Vec<Item<Document>> = trees
                    .iter()
                    .flat_map(|t| documents_of(t, &kind, &parents))
                    .collect();
                page(&query, items, kind.collection().singular)
            })
            .await
    }
}
