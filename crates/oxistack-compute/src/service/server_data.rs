//! A server's metadata and tags: read by whoever may see the server,
//! changed by whoever may change it, in the states Nova allows, metadata
//! within the project's `metadata_items` quota.

use std::collections::BTreeMap;
use std::sync::Arc;

use oxistack_auth::{Action, AuthContext};

use super::error::{ComputeError, Result, authorize};
use super::{ComputeService, Lock, conflict, require_state};
use crate::model::{Server, VmState};
use crate::quota::{Limits, Resource};
use crate::validate::validate_tags;

/// The server states whose metadata may change, as Nova allows it.
const METADATA_STATES: &[VmState] = &[VmState::Active, VmState::Paused, VmState::Stopped];
/// The server states whose tags may change.
const TAG_STATES: &[VmState] = &[
    VmState::Building,
    VmState::Active,
    VmState::Paused,
    VmState::Stopped,
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetadataChange {
    /// Adds or changes the given items.
    Merge(BTreeMap<String, String>),
    /// Replaces every item.
    Replace(BTreeMap<String, String>),
    /// Removes one item; a missing one is not found.
    Remove(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagChange {
    /// Replaces every tag (duplicates given once).
    Replace(Vec<String>),
    Clear,
    /// Adds one tag if the server does not have it yet.
    Add(String),
    /// Removes one tag; a missing one is not found.
    Remove(String),
}

fn metadata_not_found() -> ComputeError {
    ComputeError::not_found("Metadata item was not found")
}

fn tag_not_found(id: &str, tag: &str) -> ComputeError {
    ComputeError::not_found(format!("Tag {tag} could not be found for instance {id}."))
}

impl ComputeService {
    async fn readable_server(&self, caller: &Arc<AuthContext>, id: &str) -> Result<Server> {
        authorize(caller, Action::ReadServers)?;
        self.visible_server(caller, id).await
    }

    pub async fn server_metadata(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
    ) -> Result<BTreeMap<String, String>> {
        Ok(self.readable_server(caller, id).await?.metadata)
    }

    pub async fn server_metadata_item(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
        key: &str,
    ) -> Result<String> {
        self.server_metadata(caller, id)
            .await?
            .remove(key)
            .ok_or_else(metadata_not_found)
    }

    /// Changes a server's metadata; the whole metadata afterwards.
    pub async fn change_server_metadata(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
        change: MetadataChange,
    ) -> Result<BTreeMap<String, String>> {
        authorize(caller, Action::ModifyServer)?;
        let project = self.visible_server(caller, id).await?.project_id;
        let limit = self
            .read(move |conn| Ok(Limits::of(conn, &project)?.get(Resource::MetadataItems)))
            .await?;
        let (server, ()) = self
            .modify_server(caller, id, Lock::Heeded, move |server| {
                require_state(server, "update_metadata", METADATA_STATES)?;
                let metadata = &mut server.metadata;
                match change {
                    MetadataChange::Merge(items) => metadata.extend(items),
                    MetadataChange::Replace(items) => *metadata = items,
                    MetadataChange::Remove(key) => {
                        metadata.remove(&key).ok_or_else(metadata_not_found)?;
                    }
                }
                if limit >= 0 && metadata.len() as i64 > limit {
                    return Err(ComputeError::forbidden(format!(
                        "Quota exceeded for metadata_items: Maximum number of metadata items exceeds {limit}"
                    )));
                }
                Ok(())
            })
            .await?;
        Ok(server.metadata)
    }

    pub async fn server_tags(&self, caller: &Arc<AuthContext>, id: &str) -> Result<Vec<String>> {
        Ok(self.readable_server(caller, id).await?.tags)
    }

    /// Whether a server has `tag`; not having it is not found.
    pub async fn server_tag(&self, caller: &Arc<AuthContext>, id: &str, tag: &str) -> Result<()> {
        if self.server_tags(caller, id).await?.iter().any(|t| t == tag) {
            Ok(())
        } else {
            Err(tag_not_found(id, tag))
        }
    }

    /// Changes a server's tags: the tags afterwards, and whether a tag
    /// was added.
    pub async fn change_server_tags(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
        change: TagChange,
    ) -> Result<(Vec<String>, bool)> {
        let server_id = id.to_owned();
        let (server, added) = self
            .modify_server(caller, id, Lock::Ignored, move |server| {
                if !TAG_STATES.contains(&server.vm_state) {
                    return Err(conflict("update_tags", server));
                }
                let tags = &mut server.tags;
                match change {
                    TagChange::Replace(wanted) => {
                        tags.clear();
                        for tag in wanted {
                            if !tags.contains(&tag) {
                                tags.push(tag);
                            }
                        }
                        Ok(false)
                    }
                    TagChange::Clear => {
                        tags.clear();
                        Ok(false)
                    }
                    TagChange::Add(tag) if tags.contains(&tag) => Ok(false),
                    TagChange::Add(tag) => {
                        tags.push(tag);
                        validate_tags("tag", tags)?;
                        Ok(true)
                    }
                    TagChange::Remove(tag) => {
                        let before = tags.len();
                        tags.retain(|t| *t != tag);
                        if tags.len() == before {
                            return Err(tag_not_found(&server_id, &tag));
                        }
                        Ok(false)
                    }
                }
            })
            .await?;
        Ok((server.tags, added))
    }
}
