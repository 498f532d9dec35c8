//! A pool's members: one at a time, or the whole set replaced at once
//! (`PUT /pools/{id}/members`), which matches existing members by address
//! and port as Octavia does: those matched are updated, the others
//! created, and (unless `additive_only`) those left out deleted.

use std::sync::Arc;

use oxistack_auth::AuthContext;
use oxistack_contracts::ContractError;

use super::objects::mark_pool_path;
use super::validate::{self, Birth};
use super::{LbError, LoadBalancerService, Locate, lock_for_child};
use crate::model::{Kind, Member, PENDING_DELETE, PENDING_UPDATE, Record, Tree};
use crate::wire::documents::{self, Document};
use crate::wire::{MemberCreate, MemberUpdate};

fn duplicate(member: &Member) -> LbError {
    LbError::Conflict(format!(
        "Another member on this pool is already using ip {} on protocol_port {}",
        member.address, member.protocol_port
    ))
}

/// Adds a member to `pool_id`, refusing a second one at the same address
/// and port.
pub fn add_member(
    tree: &mut Tree,
    pool_id: &str,
    request: &MemberCreate,
    birth: &Birth,
) -> Result<String, LbError> {
    let member = validate::member(request, pool_id, birth)?;
    if tree.members_of(pool_id).any(|m| {
        m.provisioning_status != PENDING_DELETE
            && m.address == member.address
            && m.protocol_port == member.protocol_port
    }) {
        return Err(duplicate(&member));
    }
    let id = member.id.clone();
    tree.members.push(member);
    Ok(id)
}

/// The member `id` of pool `pool_id`, or Octavia's not found.
fn member_in<'a>(tree: &'a Tree, pool_id: &str, id: &str) -> Result<&'a Member, LbError> {
    tree.members
        .iter()
        .find(|m| m.id == id && m.pool_id == pool_id)
        .ok_or_else(|| LbError::not_found(Kind::Member, id))
}

fn apply_update(member: &mut Member, request: MemberUpdate) -> Result<(), LbError> {
    if let Some(name) = request.name {
        member.name = validate::text("name", name.as_deref())?;
    }
    if let Some(up) = request.admin_state_up {
        member.admin_state_up = up;
    }
    // A `null` weight or backup is reset to Octavia's default.
    if let Some(weight) = request.weight {
        member.weight = validate::weight(weight.unwrap_or(1))?;
    }
    if let Some(backup) = request.backup {
        member.backup = backup.unwrap_or(false);
    }
    if let Some(port) = request.monitor_port {
        member.monitor_port = port
            .map(|p| validate::int("monitor_port", p, 1, 65535).map(|p| p as u16))
            .transpose()?;
    }
    if let Some(address) = request.monitor_address {
        member.monitor_address = address
            .as_deref()
            .map(|a| validate::address_text("monitor_address", a))
            .transpose()?;
    }
    if let Some(tags) = request.tags {
        member.tags = validate::tags(Some(&tags))?;
    }
    Ok(())
}

impl LoadBalancerService {
    /// Refuses SR-IOV members; checks that the subnets members name exist and the caller sees
    /// them: Octavia's `NotFound`, `Subnet <id> not found.`, otherwise.
    pub(crate) async fn check_member_subnets<'a>(
        &self,
        caller: &AuthContext,
        members: impl Iterator<Item = &'a MemberCreate>,
    ) -> Result<(), LbError> {
        let mut seen: Vec<&str> = Vec::new();
        let members: Vec<&MemberCreate> = members.collect();
        for member in &members {
            sriov(member)?;
        }
        for subnet in members.iter().filter_map(|m| m.subnet_id.as_deref()) {
            if seen.contains(&subnet) {
                continue;
            }
            validate::uuid("subnet_id", Some(subnet))?;
            match self.networking.subnet_network(caller, subnet).await {
                Ok(_) => seen.push(subnet),
                Err(ContractError::NotFound(_)) => {
                    return Err(LbError::Missing(format!("Subnet {subnet} not found.")));
                }
                Err(other) => return Err(other.into()),
            }
        }
        Ok(())
    }

    pub async fn create_member(
        &self,
        caller: &Arc<AuthContext>,
        pool_id: &str,
        request: MemberCreate,
    ) -> Result<Document, LbError> {
        self.check_member_subnets(caller, std::iter::once(&request))
            .await?;
        let pool_id = pool_id.to_owned();
        self.change(caller, Locate::new(Kind::Pool, &pool_id), move |tree| {
            let birth = lock_for_child(tree)?;
            let now = birth.now.clone();
            let id = add_member(tree, &pool_id, &request, &birth)?;
            mark_pool_path(tree, &pool_id, &now);
            Ok(documents::member(member_in(tree, &pool_id, &id)?))
        })
        .await
    }

    pub async fn update_member(
        &self,
        caller: &Arc<AuthContext>,
        pool_id: &str,
        id: &str,
        request: MemberUpdate,
    ) -> Result<Document, LbError> {
        let (pool_id, id) = (pool_id.to_owned(), id.to_owned());
        self.change(caller, Locate::new(Kind::Pool, &pool_id), move |tree| {
            member_in(tree, &pool_id, &id)?;
            let now = lock_for_child(tree)?.now;
            let at = tree.members.iter().position(|m| m.id == id).expect("found");
            let mut member = tree.members[at].clone();
            apply_update(&mut member, request)?;
            member.set_provisioning_status(PENDING_UPDATE);
            member.touch(&now);
            tree.members[at] = member;
            mark_pool_path(tree, &pool_id, &now);
            Ok(documents::member(&tree.members[at]))
        })
        .await
    }

    /// Replaces pool `pool_id`'s members with `members` (202 in Octavia:
    /// nothing is returned).
    pub async fn replace_members(
        &self,
        caller: &Arc<AuthContext>,
        pool_id: &str,
        members: Vec<MemberCreate>,
        additive_only: bool,
    ) -> Result<(), LbError> {
        self.check_member_subnets(caller, members.iter()).await?;
        let pool_id = pool_id.to_owned();
        self.change(caller, Locate::new(Kind::Pool, &pool_id), move |tree| {
            let unchanged = tree.clone();
            let birth = lock_for_child(tree)?;
            let now = birth.now.clone();
            let wanted: Vec<Member> = members
                .iter()
                .map(|m| validate::member(m, &pool_id, &birth))
                .collect::<Result<_, _>>()?;
            let live = |m: &Member| m.pool_id == pool_id && m.provisioning_status != PENDING_DELETE;
            let exists = |member: &Member| {
                tree.members.iter().any(|m| {
                    live(m)
                        && m.address == member.address
                        && m.protocol_port == member.protocol_port
                })
            };
            let repeated = |i: usize, member: &Member| {
                wanted[..i].iter().any(|m| {
                    (&m.address, m.protocol_port) == (&member.address, member.protocol_port)
                })
            };
            // Octavia refuses an existing member updated twice first, then
            // (as its database does) a new one created twice.
            for (i, member) in wanted.iter().enumerate() {
                if repeated(i, member) && exists(member) {
                    return Err(LbError::Validation(
                        "Member must be updated only once in the same request.".into(),
                    ));
                }
            }
            for (i, member) in wanted.iter().enumerate() {
                if repeated(i, member) {
                    return Err(duplicate(member));
                }
            }
            let deletes = !additive_only && tree.members.iter().any(&live);
            if wanted.is_empty() && !deletes {
                // Octavia's no-op: nothing changes, nothing is marked.
                *tree = unchanged;
                return Ok(());
            }
            let mut kept = Vec::new();
            for (member, request) in wanted.into_iter().zip(members) {
                let existing = tree.members.iter_mut().find(|m| {
                    live(m)
                        && m.address == member.address
                        && m.protocol_port == member.protocol_port
                });
                match existing {
                    Some(existing) => {
                        apply_update(existing, batch_update(request))?;
                        existing.set_provisioning_status(PENDING_UPDATE);
                        existing.touch(&now);
                        kept.push(existing.id.clone());
                    }
                    None => {
                        kept.push(member.id.clone());
                        tree.members.push(member);
                    }
                }
            }
            if !additive_only {
                for m in tree
                    .members
                    .iter_mut()
                    .filter(|m| live(m) && !kept.contains(&m.id))
                {
                    m.set_provisioning_status(PENDING_DELETE);
                }
            }
            mark_pool_path(tree, &pool_id, &now);
            Ok(())
        })
        .await
    }

    pub async fn show_member(
        &self,
        caller: &Arc<AuthContext>,
        pool_id: &str,
        id: &str,
    ) -> Result<Document, LbError> {
        let (pool_id, id) = (pool_id.to_owned(), id.to_owned());
        self.read(caller, Locate::new(Kind::Pool, &pool_id), move |tree| {
            member_in(tree, &pool_id, &id).map(documents::member)
        })
        .await
    }

    pub async fn delete_member(
        &self,
        caller: &Arc<AuthContext>,
        pool_id: &str,
        id: &str,
    ) -> Result<(), LbError> {
        // The member must be in the pool named, not just anywhere.
        self.show_member(caller, pool_id, id).await?;
        self.delete_object(caller, Kind::Member, id).await
    }
}

/// SR-IOV ports for members: Octavia's amphorae may, the proxy cannot.
fn sriov(request: &MemberCreate) -> Result<(), LbError> {
    if request.request_sriov == Some(true) {
        return Err(LbError::unsupported("request_sriov"));
    }
    Ok(())
}

/// A batch entry for a member that exists: what it may change.
fn batch_update(request: MemberCreate) -> MemberUpdate {
    MemberUpdate {
        // Only what is sent: a name left out is kept.
        name: request.name.map(Some),
        admin_state_up: Some(request.admin_state_up.unwrap_or(true)),
        weight: Some(request.weight),
        backup: Some(request.backup),
        monitor_port: Some(request.monitor_port),
        monitor_address: Some(request.monitor_address),
        tags: request.tags,
    }
}
