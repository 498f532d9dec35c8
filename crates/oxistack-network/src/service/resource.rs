//! Neutron's resources are uniform: each kind is made from a typed
//! request, listed, shown, often changed by another typed request, and
//! deleted. [`Resource`] (and [`Updatable`]) say how for one kind, so that
//! the service's typed calls and the API's handlers are written once for
//! all of them; the kind-specific decisions stay in the kind's module.

use oxistack_auth::AuthContext;
use oxistack_db::rusqlite::Connection;
use oxistack_list::Document as ListDocument;
use serde::de::DeserializeOwned;
use serde::{Serialize, Serializer};

use super::{Document, floating_ips, networks, ports, routers, security_groups, subnets};
use crate::errors::NetworkError;
use crate::kind::Kind;
use crate::model::{FloatingIp, Network, Port, Router, Rule, SecurityGroup, Standard, Subnet};
use crate::store::{self, Prefilter, Scope};
use crate::wire::{self, *};

/// One kind of resource: its model, the request that creates it, and how
/// it is stored and shown.
pub trait Resource: Sized + Send + 'static {
    const KIND: Kind;
    type Create: DeserializeOwned + Send + 'static;

    /// Creates one as `caller` asks, returning its id. Refuses (changing
    /// nothing the transaction keeps) what the caller may not do.
    fn create(
        conn: &Connection,
        caller: &AuthContext,
        request: Self::Create,
    ) -> Result<String, NetworkError>;

    fn delete(conn: &Connection, caller: &AuthContext, id: &str) -> Result<(), NetworkError>;

    /// Those within `scope` that pass `prefilter`, in creation order.
    fn list(
        conn: &Connection,
        scope: Scope<'_>,
        prefilter: &Prefilter,
    ) -> Result<Vec<Self>, NetworkError>;

    fn standard(&self) -> &Standard;

    /// How Neutron shows it; `admin` adds what only administrators see.
    fn view(&self, admin: bool) -> impl Serialize + '_;

    /// Its Neutron document, as a map to look into.
    fn document(&self, admin: bool) -> Document {
        wire::document(self.view(admin))
    }

    /// The resource `id` within `scope`, or the kind's 404.
    fn find(conn: &Connection, scope: Scope<'_>, id: &str) -> Result<Self, NetworkError> {
        Self::list(conn, scope, &Prefilter::id(id))?
            .pop()
            .ok_or_else(|| Self::KIND.not_found(id))
    }
}

/// A kind whose resources a request changes in place (all but security
/// group rules, which are replaced).
pub trait Updatable: Resource {
    type Update: DeserializeOwned + Send + 'static;

    fn update(
        conn: &Connection,
        caller: &AuthContext,
        id: &str,
        request: Self::Update,
    ) -> Result<(), NetworkError>;
}

impl Resource for Network {
    const KIND: Kind = Kind::Network;
    type Create = NetworkCreate;

    fn create(
        conn: &Connection,
        caller: &AuthContext,
        request: NetworkCreate,
    ) -> Result<String, NetworkError> {
        networks::create(conn, caller, request).map(|n| n.std.id)
    }
    fn delete(conn: &Connection, caller: &AuthContext, id: &str) -> Result<(), NetworkError> {
        networks::delete(conn, caller, id)
    }
    fn list(
        conn: &Connection,
        scope: Scope<'_>,
        prefilter: &Prefilter,
    ) -> Result<Vec<Self>, NetworkError> {
        store::networks::list(conn, scope, prefilter)
    }
    fn standard(&self) -> &Standard {
        &self.std
    }
    fn view(&self, admin: bool) -> impl Serialize + '_ {
        wire::network(self, admin)
    }
}

impl Updatable for Network {
    type Update = NetworkUpdate;

    fn update(
        conn: &Connection,
        caller: &AuthContext,
        id: &str,
        request: NetworkUpdate,
    ) -> Result<(), NetworkError> {
        networks::update(conn, caller, id, request)
    }
}

impl Resource for Subnet {
    const KIND: Kind = Kind::Subnet;
    type Create = SubnetCreate;

    fn create(
        conn: &Connection,
        caller: &AuthContext,
        request: SubnetCreate,
    ) -> Result<String, NetworkError> {
        subnets::create(conn, caller, request).map(|s| s.std.id)
    }
    fn delete(conn: &Connection, caller: &AuthContext, id: &str) -> Result<(), NetworkError> {
        subnets::delete(conn, caller, id)
    }
    fn list(
        conn: &Connection,
        scope: Scope<'_>,
        prefilter: &Prefilter,
    ) -> Result<Vec<Self>, NetworkError> {
        store::subnets::list(conn, scope, prefilter)
    }
    fn standard(&self) -> &Standard {
        &self.std
    }
    fn view(&self, _admin: bool) -> impl Serialize + '_ {
        wire::subnet(self)
    }
}

impl Updatable for Subnet {
    type Update = SubnetUpdate;

    fn update(
        conn: &Connection,
        caller: &AuthContext,
        id: &str,
        request: SubnetUpdate,
    ) -> Result<(), NetworkError> {
        subnets::update(conn, caller, id, request)
    }
}

impl Resource for Port {
    const KIND: Kind = Kind::Port;
    type Create = PortCreate;

    fn create(
        conn: &Connection,
        caller: &AuthContext,
        request: PortCreate,
    ) -> Result<String, NetworkError> {
        ports::create(conn, caller, request, ports::Origin::Api).map(|p| p.std.id)
    }
    fn delete(conn: &Connection, caller: &AuthContext, id: &str) -> Result<(), NetworkError> {
        ports::delete(conn, caller, id)
    }
    fn list(
        conn: &Connection,
        scope: Scope<'_>,
        prefilter: &Prefilter,
    ) -> Result<Vec<Self>, NetworkError> {
        store::ports::list(conn, scope, prefilter)
    }
    fn standard(&self) -> &Standard {
        &self.std
    }
    fn view(&self, admin: bool) -> impl Serialize + '_ {
        wire::port(self, admin)
    }
}

impl Updatable for Port {
    type Update = PortUpdate;

    fn update(
        conn: &Connection,
        caller: &AuthContext,
        id: &str,
        request: PortUpdate,
    ) -> Result<(), NetworkError> {
        ports::update(conn, caller, id, request)
    }
}

impl Resource for Router {
    const KIND: Kind = Kind::Router;
    type Create = RouterCreate;

    fn create(
        conn: &Connection,
        caller: &AuthContext,
        request: RouterCreate,
    ) -> Result<String, NetworkError> {
        routers::create(conn, caller, request).map(|r| r.std.id)
    }
    fn delete(conn: &Connection, caller: &AuthContext, id: &str) -> Result<(), NetworkError> {
        routers::delete(conn, caller, id)
    }
    fn list(
        conn: &Connection,
        scope: Scope<'_>,
        prefilter: &Prefilter,
    ) -> Result<Vec<Self>, NetworkError> {
        store::routers::list(conn, scope, prefilter)
    }
    fn standard(&self) -> &Standard {
        &self.std
    }
    fn view(&self, _admin: bool) -> impl Serialize + '_ {
        wire::router(self)
    }
}

impl Updatable for Router {
    type Update = RouterUpdate;

    fn update(
        conn: &Connection,
        caller: &AuthContext,
        id: &str,
        request: RouterUpdate,
    ) -> Result<(), NetworkError> {
        routers::update(conn, caller, id, request)
    }
}

impl Resource for FloatingIp {
    const KIND: Kind = Kind::FloatingIp;
    type Create = FloatingIpCreate;

    fn create(
        conn: &Connection,
        caller: &AuthContext,
        request: FloatingIpCreate,
    ) -> Result<String, NetworkError> {
        floating_ips::create(conn, caller, request).map(|f| f.std.id)
    }
    fn delete(conn: &Connection, caller: &AuthContext, id: &str) -> Result<(), NetworkError> {
        floating_ips::delete(conn, caller, id)
    }
    fn list(
        conn: &Connection,
        scope: Scope<'_>,
        prefilter: &Prefilter,
    ) -> Result<Vec<Self>, NetworkError> {
        store::floating_ips::list(conn, scope, prefilter)
    }
    fn standard(&self) -> &Standard {
        &self.std
    }
    fn view(&self, _admin: bool) -> impl Serialize + '_ {
        wire::floating_ip(self)
    }
}

impl Updatable for FloatingIp {
    type Update = FloatingIpUpdate;

    fn update(
        conn: &Connection,
        caller: &AuthContext,
        id: &str,
        request: FloatingIpUpdate,
    ) -> Result<(), NetworkError> {
        floating_ips::update(conn, caller, id, request)
    }
}

impl Resource for SecurityGroup {
    const KIND: Kind = Kind::SecurityGroup;
    type Create = SecurityGroupCreate;

    fn create(
        conn: &Connection,
        caller: &AuthContext,
        request: SecurityGroupCreate,
    ) -> Result<String, NetworkError> {
        security_groups::create(conn, caller, request).map(|g| g.std.id)
    }
    fn delete(conn: &Connection, caller: &AuthContext, id: &str) -> Result<(), NetworkError> {
        security_groups::delete(conn, caller, id)
    }
    fn list(
        conn: &Connection,
        scope: Scope<'_>,
        prefilter: &Prefilter,
    ) -> Result<Vec<Self>, NetworkError> {
        store::security_groups::list(conn, scope, prefilter)
    }
    fn standard(&self) -> &Standard {
        &self.std
    }
    fn view(&self, _admin: bool) -> impl Serialize + '_ {
        wire::security_group(self)
    }
}

impl Updatable for SecurityGroup {
    type Update = SecurityGroupUpdate;

    fn update(
        conn: &Connection,
        caller: &AuthContext,
        id: &str,
        request: SecurityGroupUpdate,
    ) -> Result<(), NetworkError> {
        security_groups::update(conn, caller, id, request)
    }
}

impl Resource for Rule {
    const KIND: Kind = Kind::SecurityGroupRule;
    type Create = RuleCreate;

    fn create(
        conn: &Connection,
        caller: &AuthContext,
        request: RuleCreate,
    ) -> Result<String, NetworkError> {
        security_groups::create_rule(conn, caller, request).map(|r| r.std.id)
    }
    fn delete(conn: &Connection, caller: &AuthContext, id: &str) -> Result<(), NetworkError> {
        security_groups::delete_rule(conn, caller, id)
    }
    fn list(
        conn: &Connection,
        scope: Scope<'_>,
        prefilter: &Prefilter,
    ) -> Result<Vec<Self>, NetworkError> {
        store::security_groups::list_rules(conn, scope, prefilter)
    }
    fn standard(&self) -> &Standard {
        &self.std
    }
    fn view(&self, _admin: bool) -> impl Serialize + '_ {
        wire::rule(self)
    }
}

/// A resource as a caller sees it (administrators see more): what lists
/// hold, and what the API serializes.
pub struct Shown<R> {
    pub resource: R,
    pub admin: bool,
}

impl<R: Resource> Serialize for Shown<R> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.resource.view(self.admin).serialize(serializer)
    }
}

impl<R: Resource> ListDocument for Shown<R> {
    fn id(&self) -> &str {
        &self.resource.standard().id
    }

    fn render(&self) -> Document {
        self.resource.document(self.admin)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Every attribute a list can filter on is in the documents, and every
    /// attribute of the documents is known to lists.
    fn has_exactly_the_declared_attributes<R: Resource>(conn: &Connection) {
        let all = R::list(conn, Scope::All, &Prefilter::new()).unwrap();
        let kind = R::KIND;
        let first = all.first().unwrap_or_else(|| panic!("no {kind:?}"));
        let document = first.document(true);
        let keys: BTreeSet<&str> = document.keys().map(String::as_str).collect();
        let declared: BTreeSet<&str> = kind
            .collection()
            .attributes
            .iter()
            .map(|a| a.name)
            .collect();
        assert_eq!(keys, declared, "{kind:?}");
        assert_eq!(
            R::find(conn, Scope::All, &first.standard().id)
                .unwrap()
                .document(true),
            document
        );
    }

    #[test]
    fn documents_have_exactly_the_declared_attributes() {
        let dir = tempfile::tempdir().unwrap();
        let db = oxistack_db::Db::open(&dir.path().join("t.db")).unwrap();
        db.migrate("network", store::MIGRATIONS).unwrap();
        db.write_blocking(|conn| {
            crate::service::tests::populate(conn);
            has_exactly_the_declared_attributes::<Network>(conn);
            has_exactly_the_declared_attributes::<Subnet>(conn);
            has_exactly_the_declared_attributes::<Port>(conn);
            has_exactly_the_declared_attributes::<Router>(conn);
            has_exactly_the_declared_attributes::<FloatingIp>(conn);
            has_exactly_the_declared_attributes::<SecurityGroup>(conn);
            has_exactly_the_declared_attributes::<Rule>(conn);
            let missing = Network::find(conn, Scope::All, "nope").unwrap_err();
            assert!(matches!(
                missing,
                NetworkError::NotFound {
                    kind: Kind::Network,
                    ..
                }
            ));
            Ok::<_, NetworkError>(())
        })
        .unwrap();
    }
}
