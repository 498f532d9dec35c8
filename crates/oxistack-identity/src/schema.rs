//! The identity service's tables. Append new migrations; never edit one
//! that has shipped.

pub const MIGRATIONS: &[oxistack_db::Migration] = &[
    r#"
CREATE TABLE domains (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    enabled INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE projects (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    domain_id TEXT NOT NULL REFERENCES domains(id),
    description TEXT NOT NULL DEFAULT '',
    enabled INTEGER NOT NULL DEFAULT 1,
    tags TEXT NOT NULL DEFAULT '[]',
    UNIQUE (domain_id, name)
);
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    domain_id TEXT NOT NULL REFERENCES domains(id),
    enabled INTEGER NOT NULL DEFAULT 1,
    password_hash TEXT,
    default_project_id TEXT,
    description TEXT,
    email TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (domain_id, name)
);
CREATE TABLE groups (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    domain_id TEXT NOT NULL REFERENCES domains(id),
    description TEXT NOT NULL DEFAULT '',
    UNIQUE (domain_id, name)
);
CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE TABLE roles (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT ''
);
CREATE TABLE implied_roles (
    prior_role_id TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    implied_role_id TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    PRIMARY KEY (prior_role_id, implied_role_id)
);
-- Who has which role where. Actors are users or groups; targets are
-- projects, domains or the whole system (target_id 'all').
CREATE TABLE assignments (
    actor_kind TEXT NOT NULL CHECK (actor_kind IN ('user', 'group')),
    actor_id TEXT NOT NULL,
    target_kind TEXT NOT NULL CHECK (target_kind IN ('project', 'domain', 'system')),
    target_id TEXT NOT NULL,
    role_id TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    PRIMARY KEY (actor_kind, actor_id, target_kind, target_id, role_id)
);
CREATE INDEX assignments_by_target ON assignments (target_kind, target_id);
-- Tokens are random; only their SHA-256 is stored, so a copy of the
-- database does not hand out live credentials.
CREATE TABLE tokens (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    scope_kind TEXT NOT NULL CHECK (scope_kind IN ('project', 'domain', 'system', 'unscoped')),
    scope_id TEXT,
    methods TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    audit_id TEXT NOT NULL,
    app_credential_id TEXT
);
CREATE INDEX tokens_by_user ON tokens (user_id);
CREATE INDEX tokens_by_expiry ON tokens (expires_at);
CREATE TABLE application_credentials (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    secret_hash TEXT NOT NULL,
    description TEXT,
    expires_at TEXT,
    unrestricted INTEGER NOT NULL DEFAULT 0,
    role_ids TEXT NOT NULL,
    UNIQUE (user_id, name)
);
CREATE TABLE regions (
    id TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT ''
);
CREATE TABLE services (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    enabled INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE endpoints (
    id TEXT PRIMARY KEY,
    service_id TEXT NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    interface TEXT NOT NULL CHECK (interface IN ('public', 'internal', 'admin')),
    region_id TEXT NOT NULL REFERENCES regions(id),
    url TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    UNIQUE (service_id, interface, region_id)
);
"#,
    r#"
-- The attributes Keystone keeps for a user beyond its own (clients put
-- e.g. `project_id` there), as a JSON object.
ALTER TABLE users ADD COLUMN extra TEXT NOT NULL DEFAULT '{}';
"#,
];
