//! A listener's rows: its insert (with the pool it brings), update and
//! delete, each logged against its load balancer so the topology follower
//! reloads exactly that listener. [`StoreTx`] in `writes` delegates here.

use super::writes::{cidrs_arg, millis_arg, Scope};
use super::*;

impl<D: TxDriver> WriteTx<D> {
    pub(super) async fn update_listener_row(&mut self, l: &Listener) -> StoreResult<()> {
        self.exec(
            "UPDATE listeners SET name = $1, scheduler = $2, proxy_protocol = $3, enabled = $4, \
             max_connections = $5, idle_timeout_ms = $6, description = $7, group_pool_id = $8, \
             updated_at = $9, forwarded_headers = $10, connect_timeout_ms = $11, \
             backend_timeout_ms = $12, inspect_timeout_ms = $13, allowed_cidrs = $14, \
             tags = $15, certificate_ids = $16, tls_refs = $17, tls_versions = $18, \
             tls_ciphers = $19, alpn_protocols = $20, domain_extensions = $21, \
             redirect_https_port = $22, acl_id = $23, acl_mode = $24, acl_enabled = $25, \
             client_auth = $26 WHERE id = $27",
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
                acls::listener_acl_enabled(l),
                keymgr::client_auth_to_text(&l.client_auth),
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

    pub(super) async fn delete_listener_row(&mut self, l: &Listener) -> StoreResult<()> {
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

    pub(super) async fn insert_listener_row(
        &mut self,
        l: &Listener,
        pool: &Pool,
    ) -> StoreResult<()> {
        self.exec(
            "INSERT INTO listeners (id, project_id, lb_id, name, protocol, ports, forwarding_mode, scheduler, \
             proxy_protocol, default_pool_id, created_at, backend_port, group_pool_id, enabled, \
             max_connections, idle_timeout_ms, description, updated_at, forwarded_headers, \
             connect_timeout_ms, backend_timeout_ms, inspect_timeout_ms, allowed_cidrs, tags, \
             certificate_ids, tls_refs, tls_versions, tls_ciphers, alpn_protocols, \
             domain_extensions, redirect_https_port, acl_id, acl_mode, acl_enabled, client_auth) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, \
             $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35)",
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
                acls::listener_acl_enabled(l),
                keymgr::client_auth_to_text(&l.client_auth),
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
}
