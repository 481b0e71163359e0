//! [`StoreTx`]: one write transaction on any database, each command in a
//! savepoint of its own, every write logged in the change log.

use std::collections::HashMap;

use weir_core::l7::{L7Policy, L7Rule};

use super::change_log::log_statements;

use super::*;

/// An optional millisecond setting as a column value (the core bounds
/// every one far below `i64::MAX`).
pub(super) fn millis_arg(ms: Option<u64>) -> Option<i64> {
    ms.map(|ms| i64::try_from(ms).unwrap_or(i64::MAX))
}

/// A listener's allow list as its column: comma-separated networks.
pub(super) fn cidrs_arg(cidrs: &[impl std::fmt::Display]) -> String {
    cidrs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// The load balancer and pool a change-log row belongs to.
#[derive(Clone, Copy)]
pub(super) struct Scope<'a> {
    pub(super) lb: Option<&'a str>,
    pub(super) pool: Option<&'a str>,
}

impl<'a> Scope<'a> {
    pub(super) const NONE: Scope<'static> = Scope {
        lb: None,
        pool: None,
    };

    pub(super) fn lb(id: &'a LoadBalancerId) -> Self {
        Scope {
            lb: Some(id.as_str()),
            pool: None,
        }
    }

    pub(super) fn backend(b: &'a Backend) -> Self {
        Scope {
            lb: Some(b.lb_id.as_str()),
            pool: Some(b.pool_id.as_str()),
        }
    }

    fn pool(p: &'a Pool) -> Self {
        Scope {
            lb: Some(p.lb_id.as_str()),
            pool: Some(p.id.as_str()),
        }
    }
}

/// The current command's savepoint. It is opened lazily, right before the
/// command's first statement, reads included: on PostgreSQL any failing
/// statement (a read the server refuses, a lock or statement timeout)
/// aborts the whole transaction until it rolls back to a savepoint, so a
/// read outside one would fail every other command of the group. A
/// command that fails while planning, before any statement, costs none.
///
/// Every command's savepoint has the same name ([`SAVEPOINT`]), so the
/// statement that opens it is the same text each time, prepared once and
/// batched with the command's first statements. `ROLLBACK TO` reaches
/// the most recent savepoint of that name, which is the command's own
/// only if its `SAVEPOINT` ran: the batch says how many of its
/// statements completed, and a command whose savepoint never opened
/// ([`Savepoint::Lost`]) fails the whole group rather than roll back
/// into the command before it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Savepoint {
    /// No command is running, or it has not asked for one.
    None,
    /// Asked for; opened at the first statement.
    Pending,
    /// Its `SAVEPOINT` is held back with the command's writes
    /// ([`WriteTx::defer`]), at `held_from` in the held statements.
    Held,
    /// Opened.
    Open,
    /// Sent, but its batch failed before it completed.
    Lost,
}

/// The one savepoint name; see [`Savepoint`].
const SAVEPOINT: &str = "SAVEPOINT command";

/// One write transaction on any database.
///
/// Two things spare a group of registrations most of its round trips
/// (on PostgreSQL each is a wake-up of two processes under the writer
/// lock, which bounds the registry's write rate):
///
/// - **Held writes.** A registration's rows, change log and project head
///   ([`WriteTx::defer`]) wait to go out with the next statement the
///   transaction sends anyway (the next command's reads, or the revision
///   read before COMMIT): nothing reads their answers. Every path that
///   sends a statement sends the held ones first, so the database sees
///   statements in the order they were made. A held statement that fails
///   when it goes out belongs to a command already answered "done": the
///   transaction is then poisoned and the whole group fails (nothing of
///   it is written), which is also what happens today when COMMIT fails.
///   Planned writes fail only when the database is in trouble: the
///   writer lock keeps what a plan read true until COMMIT.
/// - **Reads ahead.** The writer reads every queued registration's rows
///   at the start of the group in one batch
///   ([`crate::StoreTx::prefetch_registrations`]). A command gets its
///   answer only while it is still true: any statement the group sends
///   other than a registration's own reads forgets them all, and a
///   registration's held writes mark their pool, whose readers then read
///   again (the pool's backends, count and row are what a registration
///   changes; its listener, load balancer, VPC, instances, VIPs, subnets
///   and quotas it does not).
pub(crate) struct WriteTx<D> {
    conn: D,
    savepoint: Savepoint,
    /// Statements held back to go out with the next batch.
    held: Vec<Statement<'static>>,
    /// Where the current command's own held statements start (its
    /// `SAVEPOINT`), when [`Savepoint::Held`].
    held_from: usize,
    /// Why the transaction can no longer commit: a held statement of an
    /// earlier command failed.
    poisoned: Option<String>,
    /// Registration reads done ahead, by query.
    pub(super) read_ahead: HashMap<String, crate::RegistrationReads>,
    /// Backends held registrations added since the reads ahead, by pool,
    /// for commands that are done ...
    written: HashMap<PoolId, Vec<Backend>>,
    /// ... and for the command running now (dropped if it rolls back).
    staged: Vec<Backend>,
}

impl<D: TxDriver> WriteTx<D> {
    pub(crate) fn new(conn: D) -> Self {
        Self {
            conn,
            savepoint: Savepoint::None,
            held: Vec::new(),
            held_from: 0,
            poisoned: None,
            read_ahead: HashMap::new(),
            written: HashMap::new(),
            staged: Vec::new(),
        }
    }

    /// Appends one change-log row per entity touched. `scope` names the
    /// load balancer and pool the change belongs to, so a follower can tell
    /// what to reload without reading the (possibly deleted) entity.
    pub(super) async fn log(
        &mut self,
        project: &ProjectId,
        entity: &str,
        ids: &[&str],
        op: &str,
        scope: Scope<'_>,
    ) -> StoreResult<()> {
        let mut statements = Vec::new();
        log_statements(&mut statements, project, entity, ids, op, scope);
        self.batch(statements).await?;
        Ok(())
    }

    /// Logs a change to the operator's flavor catalogue. It belongs to no
    /// project and no load balancer (the empty project id, which no id
    /// can be), so followers reload nothing for it.
    pub(super) async fn log_catalogue(
        &mut self,
        entity: &str,
        id: &str,
        op: &str,
    ) -> StoreResult<()> {
        self.log(&ProjectId::new(""), entity, &[id], op, Scope::NONE)
            .await
    }

    /// The connection for any statement: sends the held statements and
    /// opens the command's savepoint first if either is waiting.
    pub(super) async fn w(&mut self) -> StoreResult<&mut D> {
        self.read_ahead.clear();
        if self.savepoint == Savepoint::Pending || !self.held.is_empty() {
            self.send(Vec::new()).await?;
        } else if let Some(why) = &self.poisoned {
            return Err(StoreError::Database(why.clone()));
        }
        Ok(&mut self.conn)
    }

    /// Runs `statements` in one round trip where the database allows
    /// ([`Driver::batch`]), after the held statements and the pending
    /// savepoint, if any. Forgets the reads ahead.
    pub(super) async fn batch(
        &mut self,
        statements: Vec<Statement<'_>>,
    ) -> StoreResult<Vec<Vec<D::Row>>> {
        self.read_ahead.clear();
        self.send(statements).await
    }

    /// Holds `statements` (writes whose answers nobody reads) to go out
    /// with the next batch; `added` are the backends they insert.
    pub(super) fn defer(&mut self, statements: Vec<Statement<'_>>, added: &[Backend]) {
        if self.savepoint == Savepoint::Pending {
            self.held_from = self.held.len();
            self.held.push(Statement::new(SAVEPOINT, Vec::new()));
            self.savepoint = Savepoint::Held;
        }
        self.held
            .extend(statements.into_iter().map(Statement::into_owned));
        self.staged.extend_from_slice(added);
    }

    /// A registration's answer read ahead, brought up to date with the
    /// backends the group's earlier registrations added to its pool: the
    /// only writes since the read (any other statement forgot it), and
    /// all a registration reads that they change are the pool's count
    /// and its backends on the query's addresses or instances.
    pub(super) fn take_read_ahead(
        &mut self,
        q: &crate::RegistrationQuery<'_>,
    ) -> Option<crate::RegistrationReads> {
        if self.read_ahead.is_empty() {
            return None;
        }
        let mut reads = self.read_ahead.remove(&format!("{q:?}"))?;
        let Some(pool) = reads.pool.as_ref().map(|p| p.id.clone()) else {
            return Some(reads);
        };
        if self.staged.iter().any(|b| b.pool_id == pool) {
            // Not seen in practice (one registration per command): read again.
            return None;
        }
        for b in self.written.get(&pool).into_iter().flatten() {
            reads.backend_count += 1;
            let on_address = q.addresses.contains(&b.address);
            let on_instance = b
                .instance_id
                .as_ref()
                .is_some_and(|i| q.instance_ids.iter().any(|q| q == i.as_str()));
            if (on_address || on_instance) && !reads.overlapping.iter().any(|o| o.id == b.id) {
                reads.overlapping.push(b.clone());
            }
        }
        Some(reads)
    }

    /// [`WriteTx::batch`] without forgetting the reads ahead: the held
    /// statements, the pending savepoint, then `statements`, in one
    /// round trip; the answers are `statements`' own.
    pub(super) async fn send(
        &mut self,
        statements: Vec<Statement<'_>>,
    ) -> StoreResult<Vec<Vec<D::Row>>> {
        if let Some(why) = &self.poisoned {
            return Err(StoreError::Database(why.clone()));
        }
        let held = std::mem::take(&mut self.held);
        let opening = self.savepoint == Savepoint::Pending;
        // Where this command's `SAVEPOINT` is in the batch, if it goes
        // now; whatever comes before it is earlier commands'.
        let own_from = match self.savepoint {
            Savepoint::Held => Some(self.held_from),
            Savepoint::Pending => Some(held.len()),
            _ => None,
        };
        let ahead = held.len() + usize::from(opening);
        let mut all: Vec<Statement<'_>> = Vec::with_capacity(ahead + statements.len());
        all.extend(held);
        if opening {
            all.push(Statement::new(SAVEPOINT, Vec::new()));
        }
        all.extend(statements);
        let mut done = 0;
        let result = self.conn.batch(all, &mut done).await;
        if let Some(at) = own_from {
            // Open once its statement completed, even if a later one of
            // the batch failed: the rollback then finds it.
            self.savepoint = if done > at {
                Savepoint::Open
            } else {
                Savepoint::Lost
            };
        }
        let mut out = match result {
            Ok(out) => out,
            Err(e) => {
                if done < own_from.unwrap_or(0) {
                    self.poisoned = Some(format!(
                        "a write held for an earlier command of the group failed: {e}"
                    ));
                }
                return Err(e);
            }
        };
        out.drain(..ahead.min(out.len()));
        Ok(out)
    }

    /// Deletes a pool with its backends (the change log is the caller's).
    pub(super) async fn delete_pool_rows(&mut self, pool: &str) -> StoreResult<()> {
        self.exec("DELETE FROM backends WHERE pool_id = $1", args![pool])
            .await?;
        self.exec("DELETE FROM pools WHERE id = $1", args![pool])
            .await?;
        Ok(())
    }

    pub(super) async fn exec(&mut self, sql: &str, bound: Vec<Arg<'_>>) -> StoreResult<u64> {
        self.w().await?.execute(sql, bound).await
    }

    pub(super) async fn insert_pool(&mut self, p: &Pool) -> StoreResult<()> {
        let hc = hc_columns(p.health_check.as_ref());
        self.exec(
            "INSERT INTO pools (id, project_id, lb_id, listener_id, name, hc_type, hc_interval_ms, hc_timeout_ms, \
             hc_rise, hc_fall, hc_port, hc_path, hc_codes, drain_timeout_ms, slow_start_ms, created_at, \
             scheduler, protocol, enabled, description, monitor_name, updated_at, monitor_enabled, persistence, \
             tags, monitor_tags, hc_method, hc_version, hc_host, upstream_tls, hc_send, hc_expect, fail_open) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
             $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33)",
            args![
                p.id.as_str(),
                p.project_id.as_str(),
                p.lb_id.as_str(),
                p.listener_id.as_ref().map(ListenerId::as_str),
                &p.name,
                hc.kind,
                hc.interval_ms,
                hc.timeout_ms,
                hc.rise,
                hc.fall,
                hc.port,
                hc.path,
                hc.codes,
                i64::try_from(p.drain_timeout_ms).unwrap_or(i64::MAX),
                i64::try_from(p.slow_start_ms).unwrap_or(i64::MAX),
                p.created_at.millis(),
                p.scheduler.map(Scheduler::as_str),
                p.protocol.map(PoolProtocol::as_str),
                p.enabled,
                &p.description,
                &p.monitor_name,
                p.updated_at.millis(),
                p.monitor_enabled,
                p.persistence.as_ref().map(Persistence::to_stored),
                tags_to_text(&p.tags),
                tags_to_text(&p.monitor_tags),
                hc.method,
                hc.version,
                hc.host,
                super::keymgr::upstream_tls_to_text(p.upstream_tls.as_ref()),
                hc.send,
                hc.expect,
                p.fail_open,
            ],
        )
        .await?;
        Ok(())
    }
}

#[async_trait]
impl<D: TxDriver> Lend for WriteTx<D> {
    type D = D;
    async fn driver(&mut self) -> StoreResult<&mut D> {
        self.w().await
    }
}

#[async_trait]
impl<D: TxDriver> StoreTx for WriteTx<D> {
    async fn insert_project(
        &mut self,
        project: &Project,
        token_hash: &str,
        access_key_secret: &str,
    ) -> StoreResult<()> {
        self.exec(
            "INSERT INTO projects (id, name, token_hash, access_key_id, access_key_secret, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            args![
                project.id.as_str(),
                &project.name,
                token_hash,
                &project.access_key_id,
                access_key_secret,
                project.created_at.millis(),
            ],
        )
        .await?;
        self.log(
            &project.id,
            "project",
            &[project.id.as_str()],
            "create",
            Scope::NONE,
        )
        .await
    }

    async fn insert_credential(
        &mut self,
        credential: &Credential,
        token_hash: &str,
        access_key_secret: &str,
    ) -> StoreResult<()> {
        self.exec(
            "INSERT INTO credentials \
             (access_key_id, project_id, role, name, token_hash, access_key_secret, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            args![
                &credential.access_key_id,
                credential.project_id.as_str(),
                credential.role.as_str(),
                &credential.name,
                token_hash,
                access_key_secret,
                credential.created_at.millis(),
            ],
        )
        .await?;
        self.log(
            &credential.project_id,
            "credential",
            &[credential.access_key_id.as_str()],
            "create",
            Scope::NONE,
        )
        .await
    }

    async fn insert_certificate(
        &mut self,
        c: &Certificate,
        chain_pem: &str,
        sealed_key: &str,
    ) -> StoreResult<()> {
        self.exec(
            "INSERT INTO certificates (id, project_id, name, subject, names, fingerprint_sha256, \
             not_before, not_after, key_type, chain_length, chain_pem, sealed_key, created_at, \
             kind) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            args![
                c.id.as_str(),
                c.project_id.as_str(),
                &c.name,
                &c.subject,
                tags_to_text(&c.names),
                &c.fingerprint_sha256,
                c.not_before.millis(),
                c.not_after.millis(),
                &c.key_type,
                i64::from(c.chain_length),
                chain_pem,
                sealed_key,
                c.created_at.millis(),
                c.kind.as_str(),
            ],
        )
        .await?;
        self.log(
            &c.project_id,
            "certificate",
            &[c.id.as_str()],
            "create",
            Scope::NONE,
        )
        .await
    }

    async fn delete_certificate(&mut self, c: &Certificate) -> StoreResult<()> {
        self.exec(
            "DELETE FROM certificates WHERE id = $1",
            args![c.id.as_str()],
        )
        .await?;
        self.log(
            &c.project_id,
            "certificate",
            &[c.id.as_str()],
            "delete",
            Scope::NONE,
        )
        .await
    }

    async fn insert_secret(
        &mut self,
        secret: &weir_core::keymgr::Secret,
        sealed_payload: Option<&str>,
    ) -> StoreResult<()> {
        self.km_insert_secret(secret, sealed_payload).await
    }

    async fn insert_acl(&mut self, acl: &weir_core::acl::Acl) -> StoreResult<()> {
        self.acl_insert(acl).await
    }

    async fn update_acl(&mut self, acl: &weir_core::acl::Acl) -> StoreResult<()> {
        self.acl_update(acl).await
    }

    async fn delete_acl(&mut self, acl: &weir_core::acl::Acl) -> StoreResult<()> {
        self.acl_delete(acl).await
    }

    async fn set_secret_payload(
        &mut self,
        secret: &weir_core::keymgr::Secret,
        sealed_payload: &str,
    ) -> StoreResult<()> {
        self.km_set_payload(secret, sealed_payload).await
    }

    async fn delete_secret(&mut self, secret: &weir_core::keymgr::Secret) -> StoreResult<()> {
        self.km_delete_secret(secret).await
    }

    async fn insert_container(
        &mut self,
        container: &weir_core::keymgr::Container,
    ) -> StoreResult<()> {
        self.km_insert_container(container).await
    }

    async fn delete_container(
        &mut self,
        container: &weir_core::keymgr::Container,
    ) -> StoreResult<()> {
        self.km_delete_container(container).await
    }

    async fn delete_credential(&mut self, credential: &Credential) -> StoreResult<()> {
        self.exec(
            "DELETE FROM credentials WHERE access_key_id = $1",
            args![&credential.access_key_id],
        )
        .await?;
        self.log(
            &credential.project_id,
            "credential",
            &[credential.access_key_id.as_str()],
            "delete",
            Scope::NONE,
        )
        .await
    }

    async fn insert_vpc(&mut self, vpc: &Vpc) -> StoreResult<()> {
        self.insert_vpc_row(vpc).await
    }

    async fn insert_subnet(&mut self, subnet: &Subnet) -> StoreResult<()> {
        self.insert_subnet_row(subnet).await
    }

    async fn delete_subnet(&mut self, subnet: &Subnet) -> StoreResult<()> {
        self.subnet_delete(subnet).await
    }

    async fn delete_vpc(&mut self, vpc: &Vpc) -> StoreResult<()> {
        self.vpc_delete(vpc).await
    }

    async fn insert_instance(&mut self, i: &Instance) -> StoreResult<()> {
        self.insert_instance_row(i).await
    }

    async fn update_instance(&mut self, i: &Instance) -> StoreResult<()> {
        self.update_instance_row(i).await
    }

    async fn insert_load_balancer(&mut self, lb: &LoadBalancer, pool: &Pool) -> StoreResult<()> {
        self.insert_load_balancer_row(lb, pool).await
    }

    async fn set_load_balancer_status(
        &mut self,
        lb: &LoadBalancer,
        status: LbStatus,
    ) -> StoreResult<()> {
        self.set_load_balancer_status_row(lb, status).await
    }

    async fn put_project_quotas(
        &mut self,
        project: &ProjectId,
        quotas: &weir_core::quota::Quotas,
    ) -> StoreResult<()> {
        self.quotas_put(project, quotas).await
    }

    async fn insert_flavor_profile(&mut self, p: &FlavorProfile) -> StoreResult<()> {
        self.insert_flavor_profile_row(p).await
    }

    async fn update_flavor_profile(&mut self, p: &FlavorProfile) -> StoreResult<()> {
        self.update_flavor_profile_row(p).await
    }

    async fn delete_flavor_profile(&mut self, p: &FlavorProfile) -> StoreResult<()> {
        self.delete_flavor_profile_row(p).await
    }

    async fn insert_flavor(&mut self, f: &Flavor) -> StoreResult<()> {
        self.insert_flavor_row(f).await
    }

    async fn update_flavor(&mut self, f: &Flavor) -> StoreResult<()> {
        self.update_flavor_row(f).await
    }

    async fn delete_flavor(&mut self, f: &Flavor) -> StoreResult<()> {
        self.delete_flavor_row(f).await
    }

    async fn update_load_balancer(&mut self, lb: &LoadBalancer) -> StoreResult<()> {
        self.update_load_balancer_row(lb).await
    }

    async fn delete_load_balancer(&mut self, lb: &LoadBalancer) -> StoreResult<()> {
        self.delete_load_balancer_row(lb).await
    }

    async fn insert_server_group(&mut self, pool: &Pool) -> StoreResult<()> {
        self.insert_pool(pool).await?;
        self.log(
            &pool.project_id,
            "pool",
            &[pool.id.as_str()],
            "create",
            Scope::pool(pool),
        )
        .await
    }

    async fn delete_server_group(&mut self, pool: &Pool) -> StoreResult<()> {
        let id = pool.id.as_str();
        self.delete_pool_rows(id).await?;
        self.log(&pool.project_id, "pool", &[id], "delete", Scope::pool(pool))
            .await
    }

    async fn update_listener(&mut self, l: &Listener) -> StoreResult<()> {
        self.update_listener_row(l).await
    }

    async fn delete_listener(&mut self, l: &Listener) -> StoreResult<()> {
        self.delete_listener_row(l).await
    }

    async fn insert_listener(&mut self, l: &Listener, pool: &Pool) -> StoreResult<()> {
        self.insert_listener_row(l, pool).await
    }

    async fn insert_backends(&mut self, backends: &[Backend]) -> StoreResult<()> {
        let Some(first) = backends.first() else {
            return Ok(());
        };
        const WIDTH: usize = 21;
        // The rows and their change log in one batch: one round trip on
        // PostgreSQL for a registration's writes.
        let mut statements = Vec::new();
        for chunk in backends.chunks(INSERT_CHUNK) {
            let sql = format!(
                "INSERT INTO backends (id, project_id, pool_id, lb_id, listener_id, instance_id, subnet_id, address, ports, \
                 port_key, weight, enabled, backup, name, created_at, updated_at, monitor_address, monitor_port, tags, \
                 address_text, monitor_address_text) \
                 VALUES {}",
                value_rows(chunk.len(), WIDTH)
            );
            let mut bound = Vec::with_capacity(chunk.len() * WIDTH);
            for b in chunk {
                bound.extend(args![
                    b.id.as_str(),
                    b.project_id.as_str(),
                    b.pool_id.as_str(),
                    b.lb_id.as_str(),
                    b.listener_id.as_ref().map(ListenerId::as_str),
                    b.instance_id.as_ref().map(InstanceId::as_str),
                    b.subnet_id.as_ref().map(SubnetId::as_str),
                    b.address.to_string(),
                    ports_to_text(&b.ports),
                    i64::from(b.ports.key()),
                    i64::from(b.weight),
                    b.enabled,
                    b.backup,
                    b.name.as_str(),
                    b.created_at.millis(),
                    b.updated_at.millis(),
                    b.monitor_address.map(|a| a.to_string()),
                    b.monitor_port.map(i64::from),
                    tags_to_text(&b.tags),
                    b.address_text.as_deref(),
                    b.monitor_address_text.as_deref(),
                ]);
            }
            statements.push(Statement::new(sql, bound));
        }
        let ids: Vec<&str> = backends.iter().map(|b| b.id.as_str()).collect();
        log_statements(
            &mut statements,
            &first.project_id,
            "backend",
            &ids,
            "create",
            Scope::backend(first),
        );
        // Held, to go out with the group's next statement: nothing reads
        // their answers. Not a text PostgreSQL refuses (NUL, which a
        // tenant may put in a name): sent now, so the refusal is this
        // command's alone, not its group's when it goes out later.
        if statements.iter().all(Statement::holdable) {
            self.defer(statements, backends);
        } else {
            self.batch(statements).await?;
        }
        Ok(())
    }

    async fn update_pool(&mut self, p: &Pool) -> StoreResult<()> {
        let hc = hc_columns(p.health_check.as_ref());
        self.exec(
            "UPDATE pools SET hc_type = $1, hc_interval_ms = $2, hc_timeout_ms = $3, hc_rise = $4, hc_fall = $5, \
             hc_port = $6, hc_path = $7, hc_codes = $8, drain_timeout_ms = $9, slow_start_ms = $10, name = $11, \
             scheduler = $12, enabled = $13, description = $14, monitor_name = $15, updated_at = $16, \
             monitor_enabled = $17, persistence = $18, tags = $19, monitor_tags = $20, hc_method = $21, \
             hc_version = $22, hc_host = $23, upstream_tls = $24, hc_send = $25, hc_expect = $26, \
             fail_open = $27 WHERE id = $28",
            args![
                hc.kind,
                hc.interval_ms,
                hc.timeout_ms,
                hc.rise,
                hc.fall,
                hc.port,
                hc.path,
                hc.codes,
                i64::try_from(p.drain_timeout_ms).unwrap_or(i64::MAX),
                i64::try_from(p.slow_start_ms).unwrap_or(i64::MAX),
                &p.name,
                p.scheduler.map(Scheduler::as_str),
                p.enabled,
                &p.description,
                &p.monitor_name,
                p.updated_at.millis(),
                p.monitor_enabled,
                p.persistence.as_ref().map(Persistence::to_stored),
                tags_to_text(&p.tags),
                tags_to_text(&p.monitor_tags),
                hc.method,
                hc.version,
                hc.host,
                super::keymgr::upstream_tls_to_text(p.upstream_tls.as_ref()),
                hc.send,
                hc.expect,
                p.fail_open,
                p.id.as_str(),
            ],
        )
        .await?;
        self.log(
            &p.project_id,
            "pool",
            &[p.id.as_str()],
            "update",
            Scope::pool(p),
        )
        .await
    }

    async fn update_backend(&mut self, b: &Backend) -> StoreResult<()> {
        self.exec(
            "UPDATE backends SET weight = $1, enabled = $2, backup = $3, name = $4, updated_at = $5, \
             ports = $6, port_key = $7, monitor_address = $8, monitor_port = $9, tags = $10, \
             monitor_address_text = $11 WHERE id = $12",
            args![
                i64::from(b.weight),
                b.enabled,
                b.backup,
                &b.name,
                b.updated_at.millis(),
                ports_to_text(&b.ports),
                i64::from(b.ports.key()),
                b.monitor_address.map(|a| a.to_string()),
                b.monitor_port.map(i64::from),
                tags_to_text(&b.tags),
                b.monitor_address_text.as_deref(),
                b.id.as_str(),
            ],
        )
        .await?;
        self.log(
            &b.project_id,
            "backend",
            &[b.id.as_str()],
            "update",
            Scope::backend(b),
        )
        .await
    }

    async fn delete_backend(&mut self, b: &Backend) -> StoreResult<()> {
        self.exec("DELETE FROM backends WHERE id = $1", args![b.id.as_str()])
            .await?;
        self.log(
            &b.project_id,
            "backend",
            &[b.id.as_str()],
            "delete",
            Scope::backend(b),
        )
        .await
    }

    async fn insert_l7_policy(&mut self, policy: &L7Policy) -> StoreResult<()> {
        self.l7_insert_policy(policy).await
    }

    async fn update_l7_policy(&mut self, policy: &L7Policy) -> StoreResult<()> {
        self.l7_update_policy(policy).await
    }

    async fn delete_l7_policy(&mut self, policy: &L7Policy) -> StoreResult<()> {
        self.l7_delete_policy(policy).await
    }

    async fn insert_l7_rule(&mut self, policy: &L7Policy, rule: &L7Rule) -> StoreResult<()> {
        self.l7_insert_rule(policy, rule).await
    }

    async fn update_l7_rule(&mut self, policy: &L7Policy, rule: &L7Rule) -> StoreResult<()> {
        self.l7_update_rule(policy, rule).await
    }

    async fn delete_l7_rule(&mut self, policy: &L7Policy, rule: &L7Rule) -> StoreResult<()> {
        self.l7_delete_rule(policy, rule).await
    }

    async fn registration_reads(
        &mut self,
        query: &crate::RegistrationQuery<'_>,
    ) -> StoreResult<crate::RegistrationReads> {
        match self.take_read_ahead(query) {
            Some(reads) => Ok(reads),
            None => self.registration_batch(query).await,
        }
    }

    async fn put_idempotency_record(
        &mut self,
        project: &ProjectId,
        operation: &str,
        token: &str,
        record: &IdempotencyRecord,
        created_at: Timestamp,
    ) -> StoreResult<()> {
        self.exec(
            "INSERT INTO idempotency_records (project_id, operation, token, fingerprint, response, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            args![
                project.as_str(),
                operation,
                token,
                &record.fingerprint,
                &record.response,
                created_at.millis(),
            ],
        )
        .await?;
        Ok(())
    }

    async fn compact(
        &mut self,
        records_before: Timestamp,
        keep_revisions: u64,
    ) -> StoreResult<Compacted> {
        let idempotency_records = self
            .exec(
                "DELETE FROM idempotency_records WHERE created_at < $1",
                args![records_before.millis()],
            )
            .await?;
        let latest = self.revision().await?;
        let through = latest.saturating_sub(keep_revisions.max(1));
        let mut change_log_rows = 0;
        if through > self.compacted_through().await? {
            let through = i64::try_from(through).unwrap_or(i64::MAX);
            change_log_rows = self
                .exec(
                    "DELETE FROM change_log WHERE revision <= $1",
                    args![through],
                )
                .await?;
            self.exec(
                "UPDATE change_log_horizon SET revision = $1 WHERE id = 1",
                args![through],
            )
            .await?;
        }
        Ok(Compacted {
            change_log_rows,
            idempotency_records,
        })
    }

    async fn savepoint(&mut self) -> StoreResult<()> {
        self.savepoint = Savepoint::Pending;
        Ok(())
    }

    async fn release_savepoint(&mut self) -> StoreResult<()> {
        // Kept on the stack rather than released: COMMIT releases them all,
        // and a rollback reaches the latest. One round trip saved per write.
        // A savepoint still held is not needed at all: the command is done,
        // and a held write that fails later fails the group, not the
        // command (one subtransaction fewer on PostgreSQL).
        if std::mem::replace(&mut self.savepoint, Savepoint::None) == Savepoint::Held {
            self.held.remove(self.held_from);
        }
        for b in self.staged.drain(..) {
            self.written.entry(b.pool_id.clone()).or_default().push(b);
        }
        Ok(())
    }

    async fn rollback_to_savepoint(&mut self) -> StoreResult<()> {
        if let Some(why) = &self.poisoned {
            return Err(StoreError::Database(why.clone()));
        }
        self.staged.clear();
        let state = std::mem::replace(&mut self.savepoint, Savepoint::None);
        match state {
            // Nothing of the command went out: its held statements go.
            Savepoint::Held => self.held.truncate(self.held_from),
            Savepoint::Open => {
                // Held statements after an open savepoint are all this
                // command's (the send that opened it took every earlier
                // one): the rollback would undo them anyway.
                self.held.clear();
                let rollback = Statement::new("ROLLBACK TO SAVEPOINT command", Vec::new());
                self.conn.batch(vec![rollback], &mut 0).await?;
            }
            // The latest savepoint of the name is an earlier command's:
            // rolling back to it would undo that command too.
            Savepoint::Lost => {
                return Err(StoreError::Database(
                    "a command's savepoint did not open; its group is rolled back".into(),
                ))
            }
            Savepoint::None | Savepoint::Pending => {}
        }
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> StoreResult<()> {
        if !self.held.is_empty() || self.poisoned.is_some() {
            self.send(Vec::new()).await?;
        }
        self.conn.commit().await
    }

    async fn prefetch_registrations(
        &mut self,
        queries: &[crate::RegistrationQuery<'_>],
    ) -> StoreResult<()> {
        self.prefetch(queries).await
    }

    async fn revision_to_commit(&mut self) -> StoreResult<u64> {
        let read = Statement::new(
            "SELECT revision FROM change_log ORDER BY revision DESC LIMIT 1",
            Vec::new(),
        );
        let answers = self.send(vec![read]).await?;
        answers
            .first()
            .and_then(|rows| rows.first())
            .map(|r| u64_col(r, "revision"))
            .transpose()
            .map(|r| r.unwrap_or(0))
    }
}
