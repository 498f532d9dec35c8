//! The compute service's tables, applied with
//! `db.migrate("compute", MIGRATIONS)`.
//!
//! Servers keep their small collections (metadata, tags, requested
//! networks, hints) as JSON text in their own row: a server list is one
//! query, with no per-server lookups. Timestamps are UTC RFC 3339 with
//! microseconds, so text order is time order.

use oxistack_db::Migration;

pub const MIGRATIONS: &[Migration] = &[
    "
    CREATE TABLE compute_flavors (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        memory_mb INTEGER NOT NULL,
        vcpus INTEGER NOT NULL,
        root_gb INTEGER NOT NULL,
        ephemeral_gb INTEGER NOT NULL,
        swap INTEGER NOT NULL,
        rxtx_factor REAL NOT NULL,
        is_public INTEGER NOT NULL,
        disabled INTEGER NOT NULL,
        description TEXT,
        created_at TEXT NOT NULL
    );
    CREATE TABLE compute_flavor_extra_specs (
        flavor_id TEXT NOT NULL REFERENCES compute_flavors (id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (flavor_id, key)
    );
    CREATE TABLE compute_flavor_projects (
        flavor_id TEXT NOT NULL REFERENCES compute_flavors (id) ON DELETE CASCADE,
        project_id TEXT NOT NULL,
        PRIMARY KEY (flavor_id, project_id)
    );
    CREATE INDEX compute_flavor_projects_by_project ON compute_flavor_projects (project_id);

    CREATE TABLE compute_keypairs (
        number INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id TEXT NOT NULL,
        name TEXT NOT NULL,
        type TEXT NOT NULL,
        public_key TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (user_id, name)
    );

    CREATE TABLE compute_server_groups (
        id TEXT PRIMARY KEY,
        project_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        name TEXT NOT NULL,
        policy TEXT NOT NULL,
        max_server_per_host INTEGER,
        created_at TEXT NOT NULL
    );
    CREATE INDEX compute_server_groups_by_project ON compute_server_groups (project_id, created_at);

    CREATE TABLE compute_servers (
        -- The instance number, for Nova's `instance-0000002a` names.
        number INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        project_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        name TEXT NOT NULL,
        description TEXT,
        hostname TEXT NOT NULL,
        image_id TEXT NOT NULL,
        image_properties TEXT NOT NULL,
        flavor_id TEXT NOT NULL,
        flavor_name TEXT NOT NULL,
        vcpus INTEGER NOT NULL,
        memory_mb INTEGER NOT NULL,
        root_gb INTEGER NOT NULL,
        ephemeral_gb INTEGER NOT NULL,
        swap INTEGER NOT NULL,
        flavor_extra_specs TEXT NOT NULL,
        key_name TEXT,
        key_data TEXT,
        user_data TEXT,
        config_drive INTEGER NOT NULL,
        metadata TEXT NOT NULL,
        tags TEXT NOT NULL,
        security_groups TEXT NOT NULL,
        requested_networks TEXT NOT NULL,
        scheduler_hints TEXT NOT NULL,
        server_group_id TEXT REFERENCES compute_server_groups (id) ON DELETE SET NULL,
        availability_zone TEXT,
        host TEXT,
        reservation_id TEXT NOT NULL,
        launch_index INTEGER NOT NULL,
        -- The API status, kept with the states it derives from so that
        -- status filters are plain comparisons.
        status TEXT NOT NULL,
        vm_state TEXT NOT NULL,
        task_state TEXT,
        power_state INTEGER NOT NULL,
        locked_by TEXT,
        locked_reason TEXT,
        fault_code INTEGER,
        fault_message TEXT,
        fault_created TEXT,
        access_ipv4 TEXT NOT NULL,
        access_ipv6 TEXT NOT NULL,
        disk_config TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        launched_at TEXT
    );
    CREATE INDEX compute_servers_by_project ON compute_servers (project_id, created_at, id);
    CREATE INDEX compute_servers_by_creation ON compute_servers (created_at, id);
    CREATE INDEX compute_servers_by_group ON compute_servers (server_group_id);
    CREATE INDEX compute_servers_by_reservation ON compute_servers (reservation_id);

    CREATE TABLE compute_quotas (
        project_id TEXT NOT NULL,
        resource TEXT NOT NULL,
        hard_limit INTEGER NOT NULL,
        PRIMARY KEY (project_id, resource)
    );

    -- The services of this one host, with the UUIDs microversion 2.53
    -- shows for them and for its hypervisor.
    CREATE TABLE compute_services (
        number INTEGER PRIMARY KEY,
        uuid TEXT NOT NULL UNIQUE,
        service_binary TEXT NOT NULL UNIQUE,
        zone TEXT NOT NULL,
        node_uuid TEXT,
        created_at TEXT NOT NULL
    );
",
    // Block device mappings: a server's volumes, as JSON in its row.
    "ALTER TABLE compute_servers ADD COLUMN block_devices TEXT NOT NULL DEFAULT '[]';",
];
