//! A Keystone v3-compatible identity service.
//!
//! It issues and validates tokens ([`token`]), serves the service catalog,
//! and manages domains, projects, users, groups, roles with their
//! implications, role assignments and application credentials. Other
//! services see it only through [`oxistack_auth::TokenValidator`].
//!
//! The crate has the shape of every service crate: `api/` parses requests
//! and renders Keystone's documents and errors, [`service`] decides
//! (policy included) in typed calls on [`IdentityService`], and `model`
//! holds the SQL.

mod api;
mod bootstrap;
mod model;
mod password;
mod schema;
pub mod service;
mod token;
pub mod wire;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use oxistack_auth::{AuthContext, TokenValidator};
use oxistack_db::Db;
use oxistack_http::ApiError;

pub use api::router;
pub use bootstrap::{Bootstrap, BootstrapReport, CatalogService};
pub use model::catalog::{Endpoint, Region, RegisteredService};
pub use model::{
    ActorKind, AppCredential, Domain, Group, Project, ProjectFilter, Role, TargetKind, User,
};
pub use schema::MIGRATIONS;
pub use service::IdentityError;

/// Where the identity API is mounted on the cloud's listener, as DevStack does.
pub const MOUNT: &str = "/identity";

pub struct IdentityService {
    db: Db,
    tokens: Arc<token::Tokens>,
}

impl IdentityService {
    /// `token_lifetime` is how long an issued token stays valid.
    pub fn new(db: Db, token_lifetime: chrono::Duration) -> Arc<Self> {
        Arc::new(IdentityService {
            tokens: Arc::new(token::Tokens::new(db.clone(), token_lifetime)),
            db,
        })
    }

    /// Removes expired tokens from the database; the binary runs this now
    /// and then so the table does not grow forever.
    pub async fn purge_expired_tokens(&self) -> Result<usize, IdentityError> {
        self.tokens.purge_expired().await
    }
}

/// Other services learn who is calling here; a token that is not valid is
/// Keystone's 401 to them as well.
impl TokenValidator for IdentityService {
    fn validate<'a>(
        &'a self,
        token: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Arc<AuthContext>, ApiError>> + Send + 'a>> {
        Box::pin(async move { self.tokens.validate(token).await.map_err(ApiError::from) })
    }
}
