//! Projects and the inventory their load balancers refer to: VPCs,
//! subnets, instances.

use super::*;

// === projects ===

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateProject {
    name: String,
}

pub(super) async fn create_project(
    State(c): State<Control>,
    Auth(p): Auth,
    JsonBody(req): JsonBody<CreateProject>,
) -> ApiResult {
    let made = c.create_project(&p, req.name).await?;
    let view = ProjectView::from(&made.project);
    created(json!({
        "id": view.id,
        "name": view.name,
        "access_key_id": view.access_key_id,
        "created_at": view.created_at,
        "token": made.token,
        "access_key_secret": made.access_key_secret,
    }))
}

pub(super) async fn list_projects(State(c): State<Control>, Auth(p): Auth) -> ApiResult {
    let projects = c.list_projects(&p).await?;
    ok(json!({"projects": views::<_, ProjectView>(&projects)}))
}

// === credentials ===

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateCredential {
    role: String,
    #[serde(default)]
    name: String,
}

pub(super) async fn create_credential(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(project): Path<String>,
    JsonBody(req): JsonBody<CreateCredential>,
) -> ApiResult {
    let role: Role = req.role.parse().map_err(|()| {
        weir_core::Error::invalid("role", format!("must be one of {}", Role::NAMES.join(", ")))
    })?;
    let made = c
        .create_credential(&p, ProjectId::new(project), role, req.name)
        .await?;
    let mut view =
        serde_json::to_value(CredentialView::from(&made.credential)).expect("a view serialises");
    view["token"] = made.token.into();
    view["access_key_secret"] = made.access_key_secret.into();
    created(view)
}

pub(super) async fn list_credentials(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(project): Path<String>,
) -> ApiResult {
    let list = c.list_credentials(&p, &ProjectId::new(project)).await?;
    ok(json!({"credentials": views::<_, CredentialView>(&list)}))
}

pub(super) async fn delete_credential(
    State(c): State<Control>,
    Auth(p): Auth,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult {
    c.delete_credential(&p, ProjectId::new(project), id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// === quotas ===

/// A project's quotas: those in force, and what the operator set (`null`:
/// the default).
fn quotas_view(q: &weir_control::ProjectQuotas) -> serde_json::Value {
    use weir_core::quota::QuotaResource;
    let values = |quotas: &weir_core::quota::Quotas| {
        QuotaResource::ALL
            .iter()
            .map(|r| (r.as_str().to_owned(), json!(quotas.get(*r))))
            .collect::<serde_json::Map<_, _>>()
    };
    json!({
        "project_id": q.project_id.as_str(),
        "quotas": values(&q.effective),
        "set": values(&q.set),
    })
}

/// `PUT /v1/projects/{id}/quotas`: each field a count, -1 (unlimited) or
/// `null` (back to the default); fields left out are left.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SetQuotas {
    #[serde(default, deserialize_with = "present")]
    load_balancer: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    listener: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    pool: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    health_monitor: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    member: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    l7policy: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    l7rule: Option<Option<i64>>,
}

/// `GET /v1/quotas`: the operator: every project with quotas set; a
/// project: its own.
pub(super) async fn list_quotas(State(c): State<Control>, Auth(p): Auth) -> ApiResult {
    let all = c.list_project_quotas(&p).await?;
    ok(json!({"quotas": all.iter().map(quotas_view).collect::<Vec<_>>()}))
}

pub(super) async fn get_quotas(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(project): Path<String>,
) -> ApiResult {
    let q = c.project_quotas(&p, &ProjectId::new(project)).await?;
    ok(quotas_view(&q))
}

pub(super) async fn set_quotas(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(project): Path<String>,
    JsonBody(req): JsonBody<SetQuotas>,
) -> ApiResult {
    use weir_core::quota::{QuotaResource as R, QuotaUpdate};
    let update = [
        (R::LoadBalancer, req.load_balancer),
        (R::Listener, req.listener),
        (R::Pool, req.pool),
        (R::HealthMonitor, req.health_monitor),
        (R::Member, req.member),
        (R::L7Policy, req.l7policy),
        (R::L7Rule, req.l7rule),
    ]
    .into_iter()
    .filter_map(|(r, v)| v.map(|v| (r, v)))
    .collect();
    let q = c
        .set_project_quotas(&p, ProjectId::new(project), QuotaUpdate(update))
        .await?;
    ok(quotas_view(&q))
}

pub(super) async fn reset_quotas(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(project): Path<String>,
) -> ApiResult {
    let q = c.reset_project_quotas(&p, ProjectId::new(project)).await?;
    ok(quotas_view(&q))
}

// === inventory ===

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateVpc {
    project_id: String,
    #[serde(default)]
    name: String,
    cidr: String,
    #[serde(default)]
    has_border_gateway: bool,
    /// Every project may use it (see `Vpc::shared`).
    #[serde(default)]
    shared: bool,
}

pub(super) async fn create_vpc(
    State(c): State<Control>,
    Auth(p): Auth,
    JsonBody(req): JsonBody<CreateVpc>,
) -> ApiResult {
    let new = NewVpc {
        name: req.name,
        cidr: req.cidr,
        has_border_gateway: req.has_border_gateway,
        shared: req.shared,
    };
    let vpc = c
        .create_vpc(&p, ProjectId::new(req.project_id), new)
        .await?;
    created(VpcView::from(&vpc))
}

pub(super) async fn list_vpcs(State(c): State<Control>, Auth(p): Auth) -> ApiResult {
    ok(json!({"vpcs": views::<_, VpcView>(&c.list_vpcs(&p).await?)}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateSubnet {
    vpc_id: String,
    #[serde(default)]
    name: String,
    cidr: String,
}

pub(super) async fn create_subnet(
    State(c): State<Control>,
    Auth(p): Auth,
    JsonBody(req): JsonBody<CreateSubnet>,
) -> ApiResult {
    let new = NewSubnet {
        name: req.name,
        cidr: req.cidr,
    };
    let subnet = c.create_subnet(&p, VpcId::new(req.vpc_id), new).await?;
    created(SubnetView::from(&subnet))
}

pub(super) async fn list_subnets(State(c): State<Control>, Auth(p): Auth) -> ApiResult {
    ok(json!({"subnets": views::<_, SubnetView>(&c.list_subnets(&p).await?)}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateInstance {
    project_id: String,
    #[serde(default)]
    name: String,
    #[serde(rename = "type", default = "default_instance_type")]
    instance_type: String,
    subnet_id: String,
    private_ip: String,
    state: Option<String>,
}

pub(super) fn default_instance_type() -> String {
    "vm".to_owned()
}

pub(super) async fn create_instance(
    State(c): State<Control>,
    Auth(p): Auth,
    JsonBody(req): JsonBody<CreateInstance>,
) -> ApiResult {
    let new = NewInstance {
        name: req.name,
        instance_type: req.instance_type,
        private_ip: req.private_ip,
        state: req.state,
    };
    let instance = c
        .create_instance(
            &p,
            ProjectId::new(req.project_id),
            SubnetId::new(req.subnet_id),
            new,
        )
        .await?;
    created(InstanceView::from(&instance))
}

pub(super) async fn list_instances(State(c): State<Control>, Auth(p): Auth) -> ApiResult {
    ok(json!({"instances": views::<_, InstanceView>(&c.list_instances(&p).await?)}))
}

pub(super) async fn get_instance(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    ok(InstanceView::from(
        &c.get_instance(&p, &InstanceId::new(id)).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PatchInstance {
    name: Option<String>,
    state: Option<String>,
}

pub(super) async fn update_instance(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<PatchInstance>,
) -> ApiResult {
    let update = InstanceUpdate {
        name: req.name,
        state: req.state,
    };
    ok(InstanceView::from(
        &c.update_instance(&p, InstanceId::new(id), update).await?,
    ))
}
