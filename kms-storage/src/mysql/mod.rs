//! Key metadata and the audit log in MySQL/MariaDB, through sqlx.
//!
//! [`MySqlStore::connect`] applies the schema in `kms-storage/migrations/` (embedded
//! in the binary) under a named lock, recording what it applied in
//! `{prefix}t_kms_schema_migrations`. A table prefix lets several deployments (or
//! parallel tests) share one database.

mod approvals;
mod audit;
mod metadata;

pub use approvals::MySqlApprovalStore;
pub use audit::MySqlAuditLog;
pub use metadata::MySqlMetadataStore;

use kms_core::StorageError;
use sqlx::mysql::{MySqlPool, MySqlPoolOptions};
use sqlx::Row;

/// The schema, in order: (version, name, SQL with `{prefix}` placeholders).
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "key_metadata",
        include_str!("../../migrations/0001_key_metadata.sql"),
    ),
    (
        2,
        "key_operation_log",
        include_str!("../../migrations/0002_key_operation_log.sql"),
    ),
    (
        3,
        "key_revision_lease_cluster",
        include_str!("../../migrations/0003_key_revision_lease_cluster.sql"),
    ),
    (
        4,
        "audit_head_signature",
        include_str!("../../migrations/0004_audit_head_signature.sql"),
    ),
    (
        5,
        "approval_request",
        include_str!("../../migrations/0005_approval_request.sql"),
    ),
];

pub(crate) fn sql_err(e: sqlx::Error) -> StorageError {
    StorageError::Backend(format!("mysql: {e}"))
}

/// How to reach the database. `Debug` shows the URL with its password (and any query
/// string) replaced by `<redacted>`, so a logged configuration leaks no credential.
#[derive(Clone, PartialEq, Eq)]
pub struct MySqlConfig {
    /// `mysql://user:password@host:port/database`. Holds a credential: not logged by
    /// this crate.
    pub url: String,
    /// Prefix of every table name: `[A-Za-z0-9_]`, at most 32 characters.
    pub table_prefix: String,
    /// Size of the connection pool.
    pub max_connections: u32,
}

impl MySqlConfig {
    /// A configuration with no table prefix and a pool of 8.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            table_prefix: String::new(),
            max_connections: 8,
        }
    }
}

impl std::fmt::Debug for MySqlConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MySqlConfig")
            .field("url", &redacted_url(&self.url))
            .field("table_prefix", &self.table_prefix)
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

/// `scheme://user:<redacted>@host/db`: the user, host and database stay readable for
/// whoever debugs a connection; the password and the query string (where a driver may
/// take credentials too) do not. The userinfo ends at the last `@` before the query,
/// since a password may itself hold `/` or `@`.
fn redacted_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<redacted: not a URL>".to_string();
    };
    let (main, query) = match rest.split_once('?') {
        Some((m, _)) => (m, "?<redacted>"),
        None => (rest, ""),
    };
    match main.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:<redacted>@{host}{query}"),
            None => format!("{scheme}://{userinfo}@{host}{query}"),
        },
        None => format!("{scheme}://{main}{query}"),
    }
}

/// A connected MySQL backend with its schema in place.
#[derive(Clone, Debug)]
pub struct MySqlStore {
    pool: MySqlPool,
    prefix: String,
}

impl MySqlStore {
    /// Connect and apply any missing migration.
    pub async fn connect(config: &MySqlConfig) -> Result<Self, StorageError> {
        let prefix = &config.table_prefix;
        if prefix.len() > 32 || !prefix.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(StorageError::Backend(format!(
                "mysql: invalid table prefix {prefix:?}"
            )));
        }
        let pool = MySqlPoolOptions::new()
            .max_connections(config.max_connections.max(1))
            .connect(&config.url)
            .await
            // The URL may carry a password: name only the failure.
            .map_err(|e| StorageError::Backend(format!("mysql: cannot connect: {e}")))?;
        let store = Self {
            pool,
            prefix: prefix.clone(),
        };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StorageError> {
        let mut conn = self.pool.acquire().await.map_err(sql_err)?;
        let lock = format!("mpc-kms-migrate-{}", self.prefix);
        let got: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK(?, 60)")
            .bind(&lock)
            .fetch_one(&mut *conn)
            .await
            .map_err(sql_err)?;
        if got != Some(1) {
            return Err(StorageError::Backend(
                "mysql: timed out waiting for the migration lock".into(),
            ));
        }
        let result = self.apply_migrations(&mut conn).await;
        let released = sqlx::query("SELECT RELEASE_LOCK(?)")
            .bind(&lock)
            .execute(&mut *conn)
            .await
            .map_err(sql_err);
        result.and(released.map(|_| ()))
    }

    async fn apply_migrations(
        &self,
        conn: &mut sqlx::pool::PoolConnection<sqlx::MySql>,
    ) -> Result<(), StorageError> {
        let table = self.table("t_kms_schema_migrations");
        sqlx::query(&format!(
            "CREATE TABLE IF NOT EXISTS {table} (version BIGINT NOT NULL PRIMARY KEY, \
             name VARCHAR(128) NOT NULL, applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP) \
             ENGINE=InnoDB"
        ))
        .execute(&mut **conn)
        .await
        .map_err(sql_err)?;
        let applied: Vec<i64> = sqlx::query(&format!("SELECT version FROM {table}"))
            .fetch_all(&mut **conn)
            .await
            .map_err(sql_err)?
            .iter()
            .map(|r| r.try_get::<i64, _>(0))
            .collect::<Result<_, _>>()
            .map_err(sql_err)?;
        for (version, name, sql) in MIGRATIONS {
            if applied.contains(version) {
                continue;
            }
            let sql = sql.replace("{prefix}", &self.prefix);
            for stmt in statements(&sql) {
                sqlx::query(&stmt)
                    .execute(&mut **conn)
                    .await
                    .map_err(|e| StorageError::Backend(format!("mysql: migration {version} {name}: {e}")))?;
            }
            sqlx::query(&format!("INSERT INTO {table} (version, name) VALUES (?, ?)"))
                .bind(version)
                .bind(name)
                .execute(&mut **conn)
                .await
                .map_err(sql_err)?;
        }
        Ok(())
    }

    pub(crate) fn table(&self, name: &str) -> String {
        format!("`{}{name}`", self.prefix)
    }

    /// The key metadata store.
    pub fn metadata(&self) -> MySqlMetadataStore {
        MySqlMetadataStore::new(self.clone())
    }

    /// The store of requests waiting for approval (`t_kms_approval_request`).
    pub fn approvals(&self) -> MySqlApprovalStore {
        MySqlApprovalStore::new(self.clone())
    }

    /// The audit log (`t_key_operation_log`), written by `signer`, verified before it
    /// is returned: every link, the head row's signature, and the head row against the
    /// last record (see [`MySqlAuditLog::open`]).
    pub async fn audit(
        &self,
        signer: std::sync::Arc<kms_core::audit::AuditSigner>,
    ) -> Result<MySqlAuditLog, StorageError> {
        MySqlAuditLog::open(self.clone(), signer).await
    }

    /// The connection pool.
    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }
}

/// Split a migration into statements: drop `--` comment lines, split on `;`.
fn statements(sql: &str) -> Vec<String> {
    let body: String = sql
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    body.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
pub(crate) mod testdb {
    use super::*;

    /// A store on the test server under a fresh table prefix; [`TestDb::drop_tables`]
    /// cleans up.
    pub struct TestDb {
        pub store: MySqlStore,
    }

    pub fn url() -> String {
        std::env::var("KMS_TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_string())
    }

    impl TestDb {
        pub async fn new() -> TestDb {
            use rand_core::{OsRng, RngCore};
            let mut cfg = MySqlConfig::new(url());
            cfg.table_prefix = format!("kt{:08x}_", OsRng.next_u32());
            cfg.max_connections = 4;
            let store = MySqlStore::connect(&cfg).await.expect("connect to test MySQL");
            TestDb { store }
        }

        pub async fn exec(&self, sql: &str) {
            let sql = sql.replace("{p}", &self.store.prefix);
            sqlx::query(&sql)
                .execute(self.store.pool())
                .await
                .expect("test SQL");
        }

        pub async fn drop_tables(self) {
            for t in [
                "t_key_metadata",
                "t_key_operation_log",
                "t_key_operation_log_head",
                "t_kms_schema_migrations",
                "t_kms_cluster",
                "t_kms_approval_request",
            ] {
                self.exec(&format!("DROP TABLE IF EXISTS `{{p}}{t}`")).await;
            }
        }
    }

    #[test]
    fn migrations_split_into_statements() {
        let s = statements(MIGRATIONS[1].2);
        assert_eq!(s.len(), 3, "{s:?}");
        assert!(s.iter().all(|x| !x.contains("--")));
    }

    #[tokio::test]
    async fn connect_is_idempotent_and_rejects_bad_prefixes() {
        let db = TestDb::new().await;
        let mut cfg = MySqlConfig::new(url());
        cfg.table_prefix = db.store.prefix.clone();
        let again = MySqlStore::connect(&cfg).await.unwrap();
        let n: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM {}",
            again.table("t_kms_schema_migrations")
        ))
        .fetch_one(again.pool())
        .await
        .unwrap();
        assert_eq!(n, MIGRATIONS.len() as i64);
        let mut bad = MySqlConfig::new(url());
        bad.table_prefix = "x`; DROP TABLE y; --".into();
        assert!(MySqlStore::connect(&bad).await.is_err());
        db.drop_tables().await;
    }
}

#[cfg(test)]
mod config_tests {
    use super::*;

    #[test]
    fn review_storage_l6_mysql_config_debug_redacts() {
        let mut cfg = MySqlConfig::new("mysql://kms_app:s3cr3t-p%40ss@db.internal:3306/kms");
        cfg.table_prefix = "prod_".into();
        let shown = format!("{cfg:?} {cfg:#?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(!shown.contains("p%40ss"), "{shown}");
        // What an operator needs to debug a connection is still there.
        assert!(
            shown.contains("kms_app") && shown.contains("db.internal:3306/kms"),
            "{shown}"
        );
        assert!(shown.contains("prod_") && shown.contains("redacted"), "{shown}");
        // A URL without a password, or one that does not parse, shows no secret either.
        let plain = format!("{:?}", MySqlConfig::new("mysql://root@127.0.0.1:3306/test"));
        assert!(plain.contains("root@127.0.0.1:3306/test"), "{plain}");
        let odd = format!("{:?}", MySqlConfig::new("not a url :hunter2@"));
        assert!(!odd.contains("hunter2"), "{odd}");
    }
}
