//! Authentication: checking credentials (password, token, application
//! credential), resolving the scope asked for, and issuing, validating and
//! revoking tokens; and what a token may be scoped to.

use std::sync::Arc;

use oxistack_auth::{Action, AuthContext};
use oxistack_db::rusqlite::Connection;

use super::error::{IdentityError, Result, authorize};
use crate::IdentityService;
use crate::model::catalog::{self, Endpoint};
use crate::model::{
    self, DEFAULT_DOMAIN_ID, Domain, Project, SYSTEM_TARGET, TargetKind, app_credentials, roles,
};
use crate::password;
use crate::token::{ScopeRequest, TokenGrant};
use crate::wire::{AppCredentialMethod, Auth, NameOrId, PasswordMethod, ScopeBody, TokenMethod};

/// A token just issued: the secret itself, what it grants, and the
/// catalog if it was asked for.
pub struct IssuedToken {
    pub token: String,
    pub context: AuthContext,
    pub catalog: Option<Vec<Endpoint>>,
}

/// What a live token grants, and the catalog if it was asked for.
pub struct ValidatedToken {
    pub context: Arc<AuthContext>,
    pub catalog: Option<Vec<Endpoint>>,
}

fn token_not_found() -> IdentityError {
    IdentityError::NotFound("Could not find token.".into())
}

fn required_by(field: &str) -> IdentityError {
    IdentityError::invalid(format!(
        "Invalid input for field 'auth.identity.{field}': required by method '{field}'."
    ))
}

/// Callers other than admins may only ask about their own tokens (any of
/// them, as Keystone's `token_subject` rule allows).
fn may_ask_about(caller: &AuthContext, subject: &AuthContext) -> Result<()> {
    if subject.user.id == caller.user.id {
        Ok(())
    } else {
        authorize(caller, Action::ValidateAnyToken)
    }
}

impl IdentityService {
    /// `POST /v3/auth/tokens`: checks the credentials, resolves the scope
    /// and issues the token.
    pub async fn issue_token(&self, auth: Auth, with_catalog: bool) -> Result<IssuedToken> {
        let grant = self.authenticate(&auth).await?;
        let tokens = self.tokens.clone();
        let scope = auth.scope;
        self.db
            .write(move |tx| {
                let mut grant = grant;
                if let Some(scope) = &scope {
                    if grant.app_credential_id.is_some() {
                        return Err(IdentityError::Unauthorized(
                            "Application credentials cannot request a scope.".into(),
                        ));
                    }
                    grant.scope = resolve_scope(tx, scope)?;
                }
                let (token, context) = tokens.issue(tx, grant)?;
                let catalog = with_catalog.then(|| catalog::endpoints(tx)).transpose()?;
                Ok(IssuedToken {
                    token,
                    context,
                    catalog,
                })
            })
            .await
    }

    /// The context of a live `subject` token the caller may ask about.
    async fn subject(&self, caller: &AuthContext, subject: &str) -> Result<Arc<AuthContext>> {
        let context = self
            .tokens
            .validate(subject)
            .await
            .map_err(|_| token_not_found())?;
        may_ask_about(caller, &context)?;
        Ok(context)
    }

    /// `GET /v3/auth/tokens`: what the `subject` token grants.
    pub async fn validate_token(
        &self,
        caller: &AuthContext,
        subject: &str,
        with_catalog: bool,
    ) -> Result<ValidatedToken> {
        let context = self.subject(caller, subject).await?;
        let catalog = match with_catalog {
            true => Some(self.read(catalog::endpoints).await?),
            false => None,
        };
        Ok(ValidatedToken { context, catalog })
    }

    /// `DELETE /v3/auth/tokens`
    pub async fn revoke_token(&self, caller: &AuthContext, subject: &str) -> Result<()> {
        self.subject(caller, subject).await?;
        let (tokens, subject) = (self.tokens.clone(), subject.to_owned());
        let existed = self.db.write(move |tx| tokens.revoke(tx, &subject)).await?;
        if existed {
            Ok(())
        } else {
            Err(token_not_found())
        }
    }

    /// The projects the caller may scope to.
    pub async fn scopable_projects(&self, caller: &AuthContext) -> Result<Vec<Project>> {
        let user_id = caller.user.id.clone();
        self.read(move |conn| model::projects_of_user(conn, &user_id))
            .await
    }

    /// The domains the caller holds a role on.
    pub async fn scopable_domains(&self, caller: &AuthContext) -> Result<Vec<Domain>> {
        let user_id = caller.user.id.clone();
        self.read(move |conn| {
            let mut held = Vec::new();
            for domain in model::domains(conn, None, None)? {
                if !roles::effective_roles(conn, &user_id, TargetKind::Domain, &domain.id)?
                    .is_empty()
                {
                    held.push(domain);
                }
            }
            Ok(held)
        })
        .await
    }

    /// Whether the caller may scope to the system.
    pub async fn may_scope_to_system(&self, caller: &AuthContext) -> Result<bool> {
        let user_id = caller.user.id.clone();
        self.read(move |conn| {
            Ok(
                !roles::effective_roles(conn, &user_id, TargetKind::System, SYSTEM_TARGET)?
                    .is_empty(),
            )
        })
        .await
    }

    /// Checks the credentials of an authentication request and answers what
    /// token they earn, before any scope the request asks for.
    async fn authenticate(&self, auth: &Auth) -> Result<TokenGrant> {
        let identity = &auth.identity;
        let method = identity.methods.first().ok_or_else(|| {
            IdentityError::invalid(
                "Invalid input for field 'auth.identity.methods': no method given.",
            )
        })?;
        match method.as_str() {
            "password" => {
                let method = identity
                    .password
                    .as_ref()
                    .ok_or_else(|| required_by("password"))?;
                self.authenticate_password(method).await
            }
            "token" => {
                let method = identity
                    .token
                    .as_ref()
                    .ok_or_else(|| required_by("token"))?;
                self.authenticate_token(method).await
            }
            "application_credential" => {
                let method = identity
                    .application_credential
                    .as_ref()
                    .ok_or_else(|| required_by("application_credential"))?;
                self.authenticate_app_credential(method).await
            }
            other => Err(IdentityError::Unauthorized(format!(
                "Attempted to authenticate with an unsupported method: {other}."
            ))),
        }
    }

    async fn authenticate_password(&self, method: &PasswordMethod) -> Result<TokenGrant> {
        let user = &method.user;
        let (id, name, domain) = (user.id.clone(), user.name.clone(), user.domain.clone());
        if id.is_none() && (name.is_none() || domain.is_none()) {
            return Err(IdentityError::invalid(
                "Invalid input for field 'auth.identity.password.user': give an id, or a name and a domain.",
            ));
        }
        let found = self
            .read(move |conn| match id {
                Some(id) => model::user(conn, &id),
                None => user_by_name(conn, name.as_deref(), domain.as_ref()),
            })
            .await?;
        let stored = found.as_ref().and_then(|u| u.password_hash.clone());
        if !password::verify(user.password.clone(), stored).await {
            return Err(IdentityError::Unauthenticated);
        }
        let user = found.ok_or(IdentityError::Unauthenticated)?;
        let scope = match &user.default_project_id {
            Some(project) => self.default_scope(&user.id, project).await?,
            None => ScopeRequest::Unscoped,
        };
        Ok(TokenGrant {
            user_id: user.id,
            scope,
            methods: vec!["password".into()],
            app_credential_id: None,
            not_after: None,
            parent_audit_id: None,
        })
    }

    async fn authenticate_token(&self, method: &TokenMethod) -> Result<TokenGrant> {
        let context = self.tokens.validate(&method.id).await?;
        if context.application_credential.is_some() {
            return Err(IdentityError::forbidden(
                "A token issued for an application credential cannot be rescoped.",
            ));
        }
        let mut methods = context.methods.clone();
        if !methods.iter().any(|m| m == "token") {
            methods.push("token".into());
        }
        Ok(TokenGrant {
            user_id: context.user.id.clone(),
            scope: ScopeRequest::Unscoped,
            methods,
            app_credential_id: None,
            not_after: Some(context.expires_at),
            parent_audit_id: Some(context.audit_id.clone()),
        })
    }

    async fn authenticate_app_credential(
        &self,
        method: &AppCredentialMethod,
    ) -> Result<TokenGrant> {
        let (id, name, user) = (method.id.clone(), method.name.clone(), method.user.clone());
        if id.is_none() && (name.is_none() || user.is_none()) {
            return Err(IdentityError::invalid(
                "Invalid input for field 'auth.identity.application_credential': give an id, or a name and a user.",
            ));
        }
        let found = self
            .read(move |conn| {
                if let Some(id) = id {
                    return app_credentials::load(conn, &id);
                }
                let user = user.unwrap_or_default();
                let user = match user.id {
                    Some(id) => model::user(conn, &id)?,
                    None => user_by_name(conn, user.name.as_deref(), user.domain.as_ref())?,
                };
                match user {
                    Some(user) => app_credentials::load_by_name(
                        conn,
                        &user.id,
                        name.as_deref().unwrap_or_default(),
                    ),
                    None => Ok(None),
                }
            })
            .await?;
        let stored = found.as_ref().map(|c| c.secret_hash.clone());
        if !password::verify(method.secret.clone(), stored).await {
            return Err(IdentityError::Unauthenticated);
        }
        let credential = found.ok_or(IdentityError::Unauthenticated)?;
        if credential
            .expires_at
            .is_some_and(|t| t <= chrono::Utc::now())
        {
            return Err(IdentityError::Unauthenticated);
        }
        Ok(TokenGrant {
            user_id: credential.user_id,
            scope: ScopeRequest::Project(credential.project_id),
            methods: vec!["application_credential".into()],
            app_credential_id: Some(credential.id),
            not_after: credential.expires_at,
            parent_audit_id: None,
        })
    }

    /// A user's default project is used when the request names no scope,
    /// but only if the user still has a role there; otherwise the token is
    /// unscoped.
    async fn default_scope(&self, user_id: &str, project_id: &str) -> Result<ScopeRequest> {
        let (user_id, project_id) = (user_id.to_owned(), project_id.to_owned());
        self.read(move |conn| {
            let roles = roles::effective_roles(conn, &user_id, TargetKind::Project, &project_id)?;
            Ok(if roles.is_empty() {
                ScopeRequest::Unscoped
            } else {
                ScopeRequest::Project(project_id)
            })
        })
        .await
    }
}

/// A user named in its domain; `None` if either does not exist.
fn user_by_name(
    conn: &Connection,
    name: Option<&str>,
    domain: Option<&NameOrId>,
) -> Result<Option<model::User>> {
    match resolve_domain(conn, domain)? {
        Some(domain) => model::user_by_name(conn, &domain, name.unwrap_or_default()),
        None => Ok(None),
    }
}

/// A domain named by id or name (the default domain if none is named);
/// `None` if it does not exist.
fn resolve_domain(conn: &Connection, domain: Option<&NameOrId>) -> Result<Option<String>> {
    let Some(domain) = domain else {
        return Ok(Some(DEFAULT_DOMAIN_ID.to_owned()));
    };
    Ok(match (&domain.id, &domain.name) {
        (Some(id), _) => model::domain(conn, id)?.map(|d| d.id),
        (None, Some(name)) => model::domain_by_name(conn, name)?.map(|d| d.id),
        (None, None) => None,
    })
}

/// Turns the requested scope into ids. A scope that does not exist is as
/// unauthenticated as one without roles, so scopes cannot be probed.
fn resolve_scope(conn: &Connection, scope: &ScopeBody) -> Result<ScopeRequest> {
    let target = match scope {
        ScopeBody::Keyword(word) if word == "unscoped" => return Ok(ScopeRequest::Unscoped),
        ScopeBody::Keyword(word) => {
            return Err(IdentityError::invalid(format!(
                "Invalid input for field 'auth.scope': '{word}' is not a scope."
            )));
        }
        ScopeBody::Target(target) => target,
    };
    match (&target.project, &target.domain, &target.system) {
        (Some(project), None, None) => {
            let found = match (&project.id, &project.name) {
                (Some(id), _) => model::project(conn, id)?,
                (None, Some(name)) => {
                    let domain = project.domain.as_ref().ok_or_else(|| {
                        IdentityError::invalid(
                            "Invalid input for field 'auth.scope.project': a project name needs a domain.",
                        )
                    })?;
                    match resolve_domain(conn, Some(domain))? {
                        Some(domain) => model::project_by_name(conn, &domain, name)?,
                        None => None,
                    }
                }
                (None, None) => {
                    return Err(IdentityError::invalid(
                        "Invalid input for field 'auth.scope.project': give an id or a name.",
                    ));
                }
            };
            found
                .map(|p| ScopeRequest::Project(p.id))
                .ok_or(IdentityError::Unauthenticated)
        }
        (None, Some(domain), None) => resolve_domain(conn, Some(domain))?
            .map(ScopeRequest::Domain)
            .ok_or(IdentityError::Unauthenticated),
        (None, None, Some(system)) if system.all => Ok(ScopeRequest::System),
        _ => Err(IdentityError::invalid(
            "Invalid input for field 'auth.scope': give exactly one of project, domain or system.",
        )),
    }
}
