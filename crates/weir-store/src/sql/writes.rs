//! [`StoreTx`]: one write transaction on any database, each command in a
//! savepoint of its own, every write logged in the change log.

use weir_core::l7::{L7Policy, L7Rule};

use super::*;

/// An optional millisecond setting as a column value (the core bounds
/// every one far below `i64::MAX`).
fn millis_arg(ms: Option<u64>) -> Option<i64> {
    ms.map(|ms| i64::try_from(ms).unwrap_or(i64::MAX))
}

/// A listener's allow list as its column: comma-separated networks.
fn cidrs_arg(cidrs: &[impl std::fmt::Display]) -> String {
    cidrs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// The load balancer and pool a change-log row belongs to.
#[derive(Clone, Copy)]
pub(super) struct Scope<'a> {
    lb: Option<&'a str>,
    pool: Option<&'a str>,
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

    fn backend(b: &'a Backend) -> Self {
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
#[derive(Clone, Copy, PartialEq, Eq)]
enum Savepoint {
    /// No command is running, or it has not asked for one.
    None,
    /// Asked for; opened at the first statement.
    Pending,
    /// Opened.
    Open,
}

/// One write transaction on any database.
pub(crate) struct WriteTx<D> {
    conn: D,
    savepoint: Savepoint,
}

impl<D: TxDriver> WriteTx<D> {
    pub(crate) fn new(conn: D) -> Self {
        Self {
            conn,
            savepoint: Savepoint::None,
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
        for chunk in ids.chunks(INSERT_CHUNK) {
            let sql = format!(
                "INSERT INTO change_log (project_id, entity, entity_id, op, lb_id, pool_id) VALUES {}",
                value_rows(chunk.len(), 6)
            );
            let mut bound = Vec::with_capacity(chunk.len() * 6);
            for id in chunk {
                bound.extend(args![
                    project.as_str(),
                    entity,
                    *id,
                    op,
                    scope.lb,
                    scope.pool
                ]);
            }
            self.w().await?.execute(&sql, bound).await?;
        }
        Ok(())
    }

    /// Logs a change to the operator's flavor catalogue. It belongs to no
    /// project and no load balancer (the empty project id, which no id
    /// can be), so followers reload nothing for it.
    async fn log_catalogue(&mut self, entity: &str, id: &str, op: &str) -> StoreResult<()> {
        self.log(&ProjectId::new(""), entity, &[id], op, Scope::NONE)
            .await
    }

    /// The connection for any statement: opens the command's savepoint
    /// first if one is pending.
    pub(super) async fn w(&mut self) -> StoreResult<&mut D> {
        if self.savepoint == Savepoint::Pending {
            self.conn.execute("SAVEPOINT command", Vec::new()).await?;
            self.savepoint = Savepoint::Open;
        }
        Ok(&mut self.conn)
    }

    /// Deletes a pool with its backends (the change log is the caller's).
    async fn delete_pool_rows(&mut self, pool: &str) -> StoreResult<()> {
        self.exec("DELETE FROM backends WHERE pool_id = $1", args![pool])
            .await?;
        self.exec("DELETE FROM pools WHERE id = $1", args![pool])
            .await?;
        Ok(())
    }

    pub(super) async fn exec(&mut self, sql: &str, bound: Vec<Arg<'_>>) -> StoreResult<u64> {
        self.w().await?.execute(sql, bound).await
    }

    async fn insert_pool(&mut self, p: &Pool) -> StoreResult<()> {
        let hc = hc_columns(p.health_check.as_ref());
        self.exec(
            "INSERT INTO pools (id, project_id, lb_id, listener_id, name, hc_type, hc_interval_ms, hc_timeout_ms, \
             hc_rise, hc_fall, hc_port, hc_path, hc_codes, drain_timeout_ms, slow_start_ms, created_at, \
             scheduler, protocol, enabled, description, monitor_name, updated_at, monitor_enabled, persistence, \
             tags, monitor_tags, hc_method, hc_version, hc_host, upstream_tls) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
             $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30)",
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
             not_before, not_after, key_type, chain_length, chain_pem, sealed_key, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
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
        self.exec(
            "INSERT INTO vpcs (id, project_id, name, cidr, has_border_gateway, shared, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            args![
                vpc.id.as_str(),
                vpc.project_id.as_str(),
                &vpc.name,
                vpc.cidr.map(|c| c.to_string()).unwrap_or_default(),
                vpc.has_border_gateway,
                vpc.shared,
                vpc.created_at.millis(),
            ],
        )
        .await?;
        self.log(
            &vpc.project_id,
            "vpc",
            &[vpc.id.as_str()],
            "create",
            Scope::NONE,
        )
        .await
    }

    async fn insert_subnet(&mut self, subnet: &Subnet) -> StoreResult<()> {
        self.exec(
            "INSERT INTO subnets (id, project_id, vpc_id, name, cidr, shared, granted, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            args![
                subnet.id.as_str(),
                subnet.project_id.as_str(),
                subnet.vpc_id.as_str(),
                &subnet.name,
                subnet.cidr.to_string(),
                subnet.shared,
                subnet.granted,
                subnet.created_at.millis(),
            ],
        )
        .await?;
        self.log(
            &subnet.project_id,
            "subnet",
            &[subnet.id.as_str()],
            "create",
            Scope::NONE,
        )
        .await
    }

    async fn delete_subnet(&mut self, subnet: &Subnet) -> StoreResult<()> {
        self.subnet_delete(subnet).await
    }

    async fn delete_vpc(&mut self, vpc: &Vpc) -> StoreResult<()> {
        self.vpc_delete(vpc).await
    }

    async fn insert_instance(&mut self, i: &Instance) -> StoreResult<()> {
        self.exec(
            "INSERT INTO instances (id, project_id, subnet_id, vpc_id, name, instance_type, state, private_ip, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            args![
                i.id.as_str(),
                i.project_id.as_str(),
                i.subnet_id.as_str(),
                i.vpc_id.as_str(),
                &i.name,
                i.instance_type.as_str(),
                i.state.as_str(),
                i.private_ip.to_string(),
                i.created_at.millis(),
            ],
        )
        .await?;
        self.log(
            &i.project_id,
            "instance",
            &[i.id.as_str()],
            "create",
            Scope::NONE,
        )
        .await
    }

    async fn update_instance(&mut self, i: &Instance) -> StoreResult<()> {
        self.exec(
            "UPDATE instances SET name = $1, state = $2 WHERE id = $3",
            args![&i.name, i.state.as_str(), i.id.as_str()],
        )
        .await?;
        self.log(
            &i.project_id,
            "instance",
            &[i.id.as_str()],
            "update",
            Scope::NONE,
        )
        .await
    }

    async fn insert_load_balancer(&mut self, lb: &LoadBalancer, pool: &Pool) -> StoreResult<()> {
        self.exec(
            "INSERT INTO load_balancers (id, project_id, name, subnet_id, vpc_id, vip, status, default_pool_id, created_at, \
             description, updated_at, tags, flavor_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            args![
                lb.id.as_str(),
                lb.project_id.as_str(),
                &lb.name,
                lb.subnet_id.as_str(),
                lb.vpc_id.as_str(),
                lb.vip.to_string(),
                lb.status.as_str(),
                lb.default_pool_id.as_str(),
                lb.created_at.millis(),
                &lb.description,
                lb.updated_at.millis(),
                tags_to_text(&lb.tags),
                lb.flavor_id.as_ref().map(FlavorId::as_str),
            ],
        )
        .await?;
        self.insert_pool(pool).await?;
        self.log(
            &lb.project_id,
            "load_balancer",
            &[lb.id.as_str()],
            "create",
            Scope::lb(&lb.id),
        )
        .await
    }

    async fn set_load_balancer_status(
        &mut self,
        lb: &LoadBalancer,
        status: LbStatus,
    ) -> StoreResult<()> {
        self.exec(
            "UPDATE load_balancers SET status = $1 WHERE id = $2",
            args![status.as_str(), lb.id.as_str()],
        )
        .await?;
        self.log(
            &lb.project_id,
            "load_balancer",
            &[lb.id.as_str()],
            "update",
            Scope::lb(&lb.id),
        )
        .await
    }

    async fn put_project_quotas(
        &mut self,
        project: &ProjectId,
        quotas: &weir_core::quota::Quotas,
    ) -> StoreResult<()> {
        self.quotas_put(project, quotas).await
    }

    async fn insert_flavor_profile(&mut self, p: &FlavorProfile) -> StoreResult<()> {
        self.exec(
            "INSERT INTO flavor_profiles (id, name, provider, data, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            args![
                p.id.as_str(),
                &p.name,
                &p.provider,
                &p.data,
                p.created_at.millis(),
                p.updated_at.millis(),
            ],
        )
        .await?;
        self.log_catalogue("flavor_profile", p.id.as_str(), "create")
            .await
    }

    async fn update_flavor_profile(&mut self, p: &FlavorProfile) -> StoreResult<()> {
        self.exec(
            "UPDATE flavor_profiles SET name = $1, provider = $2, data = $3, updated_at = $4 \
             WHERE id = $5",
            args![
                &p.name,
                &p.provider,
                &p.data,
                p.updated_at.millis(),
                p.id.as_str()
            ],
        )
        .await?;
        self.log_catalogue("flavor_profile", p.id.as_str(), "update")
            .await
    }

    async fn delete_flavor_profile(&mut self, p: &FlavorProfile) -> StoreResult<()> {
        self.exec(
            "DELETE FROM flavor_profiles WHERE id = $1",
            args![p.id.as_str()],
        )
        .await?;
        self.log_catalogue("flavor_profile", p.id.as_str(), "delete")
            .await
    }

    async fn insert_flavor(&mut self, f: &Flavor) -> StoreResult<()> {
        self.exec(
            "INSERT INTO flavors (id, name, description, profile_id, enabled, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            args![
                f.id.as_str(),
                &f.name,
                &f.description,
                f.profile_id.as_str(),
                f.enabled,
                f.created_at.millis(),
                f.updated_at.millis(),
            ],
        )
        .await?;
        self.log_catalogue("flavor", f.id.as_str(), "create").await
    }

    async fn update_flavor(&mut self, f: &Flavor) -> StoreResult<()> {
        self.exec(
            "UPDATE flavors SET name = $1, description = $2, enabled = $3, updated_at = $4 \
             WHERE id = $5",
            args![
                &f.name,
                &f.description,
                f.enabled,
                f.updated_at.millis(),
                f.id.as_str()
            ],
        )
        .await?;
        self.log_catalogue("flavor", f.id.as_str(), "update").await
    }

    async fn delete_flavor(&mut self, f: &Flavor) -> StoreResult<()> {
        self.exec("DELETE FROM flavors WHERE id = $1", args![f.id.as_str()])
            .await?;
        self.log_catalogue("flavor", f.id.as_str(), "delete").await
    }

    async fn update_load_balancer(&mut self, lb: &LoadBalancer) -> StoreResult<()> {
        self.exec(
            "UPDATE load_balancers SET name = $1, description = $2, status = $3, updated_at = $4, tags = $5 \
             WHERE id = $6",
            args![
                &lb.name,
                &lb.description,
                lb.status.as_str(),
                lb.updated_at.millis(),
                tags_to_text(&lb.tags),
                lb.id.as_str()
            ],
        )
        .await?;
        self.log(
            &lb.project_id,
            "load_balancer",
            &[lb.id.as_str()],
            "update",
            Scope::lb(&lb.id),
        )
        .await
    }

    async fn delete_load_balancer(&mut self, lb: &LoadBalancer) -> StoreResult<()> {
        let id = lb.id.as_str();
        self.l7_delete_where("lb_id", id).await?;
        self.exec("DELETE FROM backends WHERE lb_id = $1", args![id])
            .await?;
        // Listeners may point at the server groups about to go.
        self.exec(
            "UPDATE listeners SET group_pool_id = NULL WHERE lb_id = $1",
            args![id],
        )
        .await?;
        self.exec("DELETE FROM pools WHERE lb_id = $1", args![id])
            .await?;
        self.exec("DELETE FROM listeners WHERE lb_id = $1", args![id])
            .await?;
        self.exec("DELETE FROM load_balancers WHERE id = $1", args![id])
            .await?;
        self.log(
            &lb.project_id,
            "load_balancer",
            &[id],
            "delete",
            Scope::lb(&lb.id),
        )
        .await
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
        self.exec(
            "UPDATE listeners SET name = $1, scheduler = $2, proxy_protocol = $3, enabled = $4, \
             max_connections = $5, idle_timeout_ms = $6, description = $7, group_pool_id = $8, \
             updated_at = $9, forwarded_headers = $10, connect_timeout_ms = $11, \
             backend_timeout_ms = $12, inspect_timeout_ms = $13, allowed_cidrs = $14, \
             tags = $15, certificate_ids = $16, tls_refs = $17, tls_versions = $18, \
             tls_ciphers = $19, alpn_protocols = $20, domain_extensions = $21, \
             redirect_https_port = $22, acl_id = $23, acl_mode = $24 WHERE id = $25",
            args![
                &l.name,
                l.scheduler.as_str(),
                l.proxy_protocol.as_str(),
                l.enabled,
                l.max_connections.map(i64::from),
                millis_arg(l.idle_timeout_ms),
                &l.description,
                l.group_pool_id.as_ref().map(PoolId::as_str),
                l.updated_at.millis(),
                l.forwarded_headers.to_spec(),
                millis_arg(l.connect_timeout_ms),
                millis_arg(l.backend_timeout_ms),
                millis_arg(l.inspect_timeout_ms),
                cidrs_arg(&l.allowed_cidrs),
                tags_to_text(&l.tags),
                certificate_ids_to_text(&l.certificate_ids),
                keymgr::tls_refs_to_text(&l.tls_refs),
                keymgr::tls_versions_to_text(&l.tls_options),
                l.tls_options.ciphers.as_deref(),
                tags_to_text(&l.tls_options.alpn),
                domain_extensions_to_text(&l.domain_extensions),
                l.redirect_https_port.map(i64::from),
                acls::listener_acl_args(l).0,
                acls::listener_acl_args(l).1,
                l.id.as_str(),
            ],
        )
        .await?;
        self.log(
            &l.project_id,
            "listener",
            &[l.id.as_str()],
            "update",
            Scope::lb(&l.lb_id),
        )
        .await
    }

    async fn delete_listener(&mut self, l: &Listener) -> StoreResult<()> {
        self.l7_delete_where("listener_id", l.id.as_str()).await?;
        self.delete_pool_rows(l.default_pool_id.as_str()).await?;
        self.exec("DELETE FROM listeners WHERE id = $1", args![l.id.as_str()])
            .await?;
        self.log(
            &l.project_id,
            "listener",
            &[l.id.as_str()],
            "delete",
            Scope::lb(&l.lb_id),
        )
        .await
    }

    async fn insert_listener(&mut self, l: &Listener, pool: &Pool) -> StoreResult<()> {
        self.exec(
            "INSERT INTO listeners (id, project_id, lb_id, name, protocol, ports, forwarding_mode, scheduler, \
             proxy_protocol, default_pool_id, created_at, backend_port, group_pool_id, enabled, \
             max_connections, idle_timeout_ms, description, updated_at, forwarded_headers, \
             connect_timeout_ms, backend_timeout_ms, inspect_timeout_ms, allowed_cidrs, tags, \
             certificate_ids, tls_refs, tls_versions, tls_ciphers, alpn_protocols, \
             domain_extensions, redirect_https_port, acl_id, acl_mode) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, \
             $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33)",
            args![
                l.id.as_str(),
                l.project_id.as_str(),
                l.lb_id.as_str(),
                &l.name,
                l.protocol.as_str(),
                l.ports.to_spec(),
                l.forwarding_mode.as_str(),
                l.scheduler.as_str(),
                l.proxy_protocol.as_str(),
                l.default_pool_id.as_str(),
                l.created_at.millis(),
                l.backend_port.map(i64::from),
                l.group_pool_id.as_ref().map(PoolId::as_str),
                l.enabled,
                l.max_connections.map(i64::from),
                millis_arg(l.idle_timeout_ms),
                &l.description,
                l.updated_at.millis(),
                l.forwarded_headers.to_spec(),
                millis_arg(l.connect_timeout_ms),
                millis_arg(l.backend_timeout_ms),
                millis_arg(l.inspect_timeout_ms),
                cidrs_arg(&l.allowed_cidrs),
                tags_to_text(&l.tags),
                certificate_ids_to_text(&l.certificate_ids),
                keymgr::tls_refs_to_text(&l.tls_refs),
                keymgr::tls_versions_to_text(&l.tls_options),
                l.tls_options.ciphers.as_deref(),
                tags_to_text(&l.tls_options.alpn),
                domain_extensions_to_text(&l.domain_extensions),
                l.redirect_https_port.map(i64::from),
                acls::listener_acl_args(l).0,
                acls::listener_acl_args(l).1,
            ],
        )
        .await?;
        self.insert_pool(pool).await?;
        self.log(
            &l.project_id,
            "listener",
            &[l.id.as_str()],
            "create",
            Scope::lb(&l.lb_id),
        )
        .await
    }

    async fn insert_backends(&mut self, backends: &[Backend]) -> StoreResult<()> {
        let Some(first) = backends.first() else {
            return Ok(());
        };
        const WIDTH: usize = 21;
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
            self.exec(&sql, bound).await?;
        }
        let ids: Vec<&str> = backends.iter().map(|b| b.id.as_str()).collect();
        self.log(
            &first.project_id,
            "backend",
            &ids,
            "create",
            Scope::backend(first),
        )
        .await
    }

    async fn update_pool(&mut self, p: &Pool) -> StoreResult<()> {
        let hc = hc_columns(p.health_check.as_ref());
        self.exec(
            "UPDATE pools SET hc_type = $1, hc_interval_ms = $2, hc_timeout_ms = $3, hc_rise = $4, hc_fall = $5, \
             hc_port = $6, hc_path = $7, hc_codes = $8, drain_timeout_ms = $9, slow_start_ms = $10, name = $11, \
             scheduler = $12, enabled = $13, description = $14, monitor_name = $15, updated_at = $16, \
             monitor_enabled = $17, persistence = $18, tags = $19, monitor_tags = $20, hc_method = $21, \
             hc_version = $22, hc_host = $23, upstream_tls = $24 WHERE id = $25",
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
        // and a later ROLLBACK TO finds the newest one of this name, which
        // is always the current command's. One round trip saved per write.
        self.savepoint = Savepoint::None;
        Ok(())
    }

    async fn rollback_to_savepoint(&mut self) -> StoreResult<()> {
        if self.savepoint == Savepoint::Open {
            self.conn
                .execute("ROLLBACK TO SAVEPOINT command", Vec::new())
                .await?;
        }
        self.savepoint = Savepoint::None;
        Ok(())
    }

    async fn commit(self: Box<Self>) -> StoreResult<()> {
        self.conn.commit().await
    }
}
