//! The service catalog as Keystone's read-only regions, services and
//! endpoints: every authenticated caller may read it. It follows the
//! configuration (see bootstrap), so it is not edited through the API.

use oxistack_auth::{Action, AuthContext};

use super::error::{IdentityError, Result, authorize};
use crate::IdentityService;
use crate::model::catalog::{self, Endpoint, Region, RegisteredService};

impl IdentityService {
    /// Every endpoint with its service, enabled or not; the token catalog
    /// is the enabled ones.
    pub async fn endpoints(&self, caller: &AuthContext) -> Result<Vec<Endpoint>> {
        authorize(caller, Action::ReadCatalog)?;
        self.read(catalog::endpoints).await
    }

    pub async fn endpoint(&self, caller: &AuthContext, id: &str) -> Result<Endpoint> {
        authorize(caller, Action::ReadCatalog)?;
        let wanted = id.to_owned();
        self.read(move |conn| catalog::endpoint(conn, &wanted))
            .await?
            .ok_or_else(|| IdentityError::not_found("endpoint", id))
    }

    pub async fn catalog_services(&self, caller: &AuthContext) -> Result<Vec<RegisteredService>> {
        authorize(caller, Action::ReadCatalog)?;
        self.read(catalog::services).await
    }

    pub async fn catalog_service(
        &self,
        caller: &AuthContext,
        id: &str,
    ) -> Result<RegisteredService> {
        authorize(caller, Action::ReadCatalog)?;
        let wanted = id.to_owned();
        self.read(move |conn| catalog::service(conn, &wanted))
            .await?
            .ok_or_else(|| IdentityError::not_found("service", id))
    }

    pub async fn regions(&self, caller: &AuthContext) -> Result<Vec<Region>> {
        authorize(caller, Action::ReadCatalog)?;
        self.read(catalog::regions).await
    }

    pub async fn region(&self, caller: &AuthContext, id: &str) -> Result<Region> {
        authorize(caller, Action::ReadCatalog)?;
        let wanted = id.to_owned();
        self.read(move |conn| catalog::region(conn, &wanted))
            .await?
            .ok_or_else(|| IdentityError::not_found("region", id))
    }
}
