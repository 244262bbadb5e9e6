//! The MFA policy's admin API (tenant secret key): organizations and their members, roles
//! and their assignments, the rules of organizations, roles, applications and users
//! (`/v1/admin/mfa-rules/{level}/{target_id}`), and the decision for one user with the
//! rules it came from (`/v1/admin/users/{user_id}/mfa/policy`).

use super::dto::ImpactView;
use super::error::{ApiError, ErrorBody};
use super::V1;
use crate::http::common::extract::{invalid_query, AdminCtx, Meta, StrictJson, StrictQuery};
use crate::service::audit::Actor;
use crate::service::input::PolicyInput;
use crate::service::policy::{RuleInput, RuleTarget, RuleView, MAX_EXEMPTION_DAYS};
use crate::service::{InputError, ServiceError};
use crate::App;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use latchkey_core::factor::FactorKind;
use latchkey_core::ids::{ApplicationId, OrganizationId, RoleId, UserId};
use latchkey_core::policy::engine::{Decision, Level, MinAssurance, Requirement, Rule};
use latchkey_core::time::rfc3339;
use latchkey_store::model::{Organization, Role};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

fn actor(key: &latchkey_store::model::ApiKeyRecord) -> Actor {
    Actor::admin(key)
}

fn org_id(s: &str) -> Result<OrganizationId, ApiError> {
    OrganizationId::parse(s).map_err(|_| ServiceError::OrganizationNotFound.into())
}

fn role_id(s: &str) -> Result<RoleId, ApiError> {
    RoleId::parse(s).map_err(|_| ServiceError::RoleNotFound.into())
}

fn user_id(s: &str) -> Result<UserId, ApiError> {
    UserId::parse(s).map_err(|_| ServiceError::UserNotFound.into())
}

// --- organizations ---

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NameRequest {
    /// 1 to 100 characters, unique in the tenant.
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct OrganizationView {
    pub id: String,
    pub name: String,
    pub created_at: String,
}

impl OrganizationView {
    fn new(o: &Organization) -> Self {
        OrganizationView {
            id: o.id.to_string(),
            name: o.name.clone(),
            created_at: rfc3339(o.created_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct OrganizationList {
    pub organizations: Vec<OrganizationView>,
}

#[utoipa::path(post, path = "/v1/admin/organizations", tag = "policy",
    request_body = NameRequest,
    responses((status = 201, description = "Created", body = OrganizationView),
              (status = 400, description = "invalid_name (with `problems`: the name), or a malformed body", body = ErrorBody),
              (status = 401, description = "missing_credentials, invalid_api_key", body = ErrorBody),
              (status = 409, description = "name_taken", body = ErrorBody),
              (status = 415, description = "unsupported_media_type", body = ErrorBody)),
    security(("secret_key" = [])))]
pub async fn create_organization(
    State(app): State<App>,
    AdminCtx { tenant, .. }: AdminCtx<V1>,
    StrictJson(req, _): StrictJson<NameRequest, V1>,
) -> Result<(StatusCode, Json<OrganizationView>), ApiError> {
    let org = app.create_organization(&tenant, &req.name).await?;
    Ok((StatusCode::CREATED, Json(OrganizationView::new(&org))))
}

#[utoipa::path(get, path = "/v1/admin/organizations", tag = "policy",
    responses((status = 200, description = "The tenant's organizations", body = OrganizationList),
              (status = 401, description = "missing_credentials, invalid_api_key", body = ErrorBody)),
    security(("secret_key" = [])))]
pub async fn list_organizations(
    State(app): State<App>,
    AdminCtx { tenant, .. }: AdminCtx<V1>,
) -> Result<Json<OrganizationList>, ApiError> {
    let orgs = app.list_organizations(&tenant).await?;
    Ok(Json(OrganizationList {
        organizations: orgs.iter().map(OrganizationView::new).collect(),
    }))
}

#[utoipa::path(get, path = "/v1/admin/organizations/{organization_id}", tag = "policy",
    params(("organization_id" = String, Path, description = "org_…")),
    responses((status = 200, description = "The organization", body = OrganizationView),
              (status = 401, description = "missing_credentials, invalid_api_key", body = ErrorBody),
              (status = 404, description = "organization_not_found", body = ErrorBody)),
    security(("secret_key" = [])))]
pub async fn get_organization(
    State(app): State<App>,
    AdminCtx { tenant, .. }: AdminCtx<V1>,
    Path(organization_id): Path<String>,
) -> Result<Json<OrganizationView>, ApiError> {
    let org = app.organization(&tenant, &org_id(&organization_id)?).await?;
    Ok(Json(OrganizationView::new(&org)))
}

#[utoipa::path(patch, path = "/v1/admin/organizations/{organization_id}", tag = "policy",
    params(("organization_id" = String, Path, description = "org_…")),
    request_body = NameRequest,
    responses((status = 200, description = "Renamed", body = OrganizationView),
              (status = 400, description = "invalid_name (the name), or a malformed body", body = ErrorBody),
              (status = 401, description = "missing_credentials, invalid_api_key", body = ErrorBody),
              (status = 404, description = "organization_not_found", body = ErrorBody),
              (status = 409, description = "name_taken", body = ErrorBody),
              (status = 415, description = "unsupported_media_type", body = ErrorBody)),
    security(("secret_key" = [])))]
pub async fn patch_organization(
    State(app): State<App>,
    AdminCtx { tenant, .. }: AdminCtx<V1>,
    Path(organization_id): Path<String>,
    StrictJson(req, _): StrictJson<NameRequest, V1>,
) -> Result<Json<OrganizationView>, ApiError> {
    let org = app
        .rename_organization(&tenant, &org_id(&organization_id)?, &req.name)
        .await?;
    Ok(Json(OrganizationView::new(&org)))
}

#[utoipa::path(delete, path = "/v1/admin/organizations/{organization_id}", tag = "policy",
    params(("organization_id" = String, Path, description = "org_…")),
    responses((status = 204, description = "Deleted, with its memberships, the roles given within it and its rule"),
              (status = 401, description = "missing_credentials, invalid_api_key", body = ErrorBody),
              (status = 404, description = "organization_not_found", body = ErrorBody)),
    security(("secret_key" = [])))]
pub async fn delete_organization(
    State(app): State<App>,
    AdminCtx { tenant, .. }: AdminCtx<V1>,
    Path(organization_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.delete_organization(&tenant, &org_id(&organization_id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct MemberList {
    pub user_ids: Vec<String>,
}

#[utoipa::path(get, path = "/v1/admin/organizations/{organization_id}/members", tag = "policy",
    params(("organization_id" = String, Path, description = "org_…")),
    responses((status = 200, description = "The members' user ids", body = MemberList),
              (status = 401, description = "missing_credentials, invalid_api_key", body = ErrorBody),
              (status = 404, description = "organization_not_found", body = ErrorBody)),
    security(("secret_key" = [])))]
pub async fn list_members(
    State(app): State<App>,
    AdminCtx { tenant, .. }: AdminCtx<V1>,
    Path(organization_id): Path<String>,
) -> Result<Json<MemberList>, ApiError> {
    let members = app.list_members(&tenant, &org_id(&organization_id)?).await?;
    Ok(Json(MemberList {
        user_ids: members.iter().map(|u| u.to_string()).collect(),
    }))
}

#[utoipa::path(put, path = "/v1/admin/organizations/{organization_id}/members/{user_id}", tag = "policy",
    params(("organization_id" = String, Path, description = "org_…"), ("user_id" = String, Path, description = "usr_…")),
    responses((status = 204, description = "A member (again: no change)"),
              (status = 401, description = "missing_credentials, invalid_api_key", body = ErrorBody),
              (status = 404, description = "organization_not_found, user_not_found", body = ErrorBody)),
    security(("secret_key" = [])))]
pub async fn add_member(
    State(app): State<App>,
    AdminCtx { tenant, .. }: AdminCtx<V1>,
    Path((organization_id, user)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    app.add_member(&tenant, &org_id(&organization_id)?, &user_id(&user)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/v1/admin/organizations/{organization_id}/members/{user_id}", tag = "policy",
    params(("organization_id" = String, Path, description = "org_…"), ("user_id" = String, Path, description = "usr_…")),
    responses((status = 204, description = "No longer a member, nor holding the roles given within the organization"),
              (status = 401, description = "missing_credentials, invalid_api_key", body = ErrorBody),
              (status = 404, description = "organization_not_found, user_not_found (not a member)", body = ErrorBody)),
    security(("secret_key" = [])))]
pub async fn remove_member(
    State(app): State<App>,
    AdminCtx { tenant, .. }: AdminCtx<V1>,
    Path((organization_id, user)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    app.remove_member(&tenant, &org_id(&organization_id)?, &user_id(&user)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

// --- roles ---

#[derive(Serialize, ToSchema)]
pub struct RoleView {
    pub id: String,
    pub name: String,
    pub created_at: String,
}

impl RoleView {
    fn new(r: &Role) -> Self {
        RoleView {
            id: r.id.to_string(),
            name: r.name.clone(),
            created_at: rfc3339(r.created_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct RoleList {
    pub roles: Vec<RoleView>,
}

#[utoipa::path(post, path = "/v1/admin/roles", tag = "policy",
    request_body = NameRequest,
    responses((status = 201, description = "Created", body = RoleView),
              (status = 400, description = "invalid_name (the name), or a malformed body", body = ErrorBody),
              (status = 401, description = "missing_credentials, invalid_api_key", body = ErrorBody),
              (status = 409, description = "name_taken", body = ErrorBody),
              (status = 415, description = "unsupported_media_type", body = ErrorBody)),
    security(("secret_key" = [])))]
pub async fn create_role(
    State(app): State<App>,
    AdminCtx { tenant, .. }: AdminCtx<V1>,
    StrictJson(req, _): StrictJson<NameRequest, V1>,
) -> Result<(StatusCode, Json<RoleView>), ApiError> {
    let role = app.create_role(&tenant, &req.name).await?;
    Ok((StatusCode::CREATED, Json(RoleView::new(&role))))
}

#[utoipa::path(get, path = "/v1/admin/roles", tag = "policy",
    responses((status = 200, description = "The tenant's roles", body = RoleList),
              (status = 401, description = "missing_credentials, invalid_api_key", body = ErrorBody)),
    security(("secret_key" = [])))]
pub async fn list_roles(
    State(app): State<App>,
    AdminCtx { tenant, .. }: AdminCtx<V1>,
) -> Result<Json<RoleList>, ApiError> {
    let roles = app.list_roles(&tenant).await?;
    Ok(Json(RoleList {
        roles: roles.iter().map(RoleView::new).collect(),
    }))
}

#[utoipa::path(delete, path = "/v1/admin/roles/{role_id}", tag = "policy",
    params(("role_id" = String, Path, description = "rol_…")),
    responses((status = 204, description = "Deleted, with its assignments and its rule"),
              (status = 401, description = "missing_credentials, invalid_api_key", body = ErrorBody),
              (status = 404, description = "role_not_found", body = ErrorBody)),
    security(("secret_key" = [])))]
pub async fn delete_role(
    State(app): State<App>,
    AdminCtx { tenant, .. }: AdminCtx<V1>,
    Path(role): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.delete_role(&tenant, &role_id(&role)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AssignmentQuery {
    /// Within this organization (the user must be a member); in the tenant without it.
    #[param(pattern = "^org_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub organization_id: Option<String>,
}

fn within(q: &AssignmentQuery) -> Result<Option<OrganizationId>, ApiError> {
    match q.organization_id.as_deref() {
        None => Ok(None),
        Some(o) => OrganizationId::parse(o)
            .map(Some)
            .map_err(|_| invalid_query("organization_id must be an organization id").into()),
    }
}

#[utoipa::path(put, path = "/v1/admin/users/{user_id}/roles/{role_id}", tag = "policy",
    params(("user_id" = String, Path, description = "usr_…"), ("role_id" = String, Path, description = "rol_…"), AssignmentQuery),
    responses((status = 204, description = "The user has the role (again: no change)"),
              (status = 400, description = "invalid_query, invalid_assignment (not a member of the organization)", body = ErrorBody),
              (status = 401, description = "missing_credentials, invalid_api_key", body = ErrorBody),
              (status = 404, description = "role_not_found, user_not_found, organization_not_found", body = ErrorBody)),
    security(("secret_key" = [])))]
pub async fn assign_role(
    State(app): State<App>,
    AdminCtx { tenant, .. }: AdminCtx<V1>,
    Path((user, role)): Path<(String, String)>,
    StrictQuery(q, _): StrictQuery<AssignmentQuery, V1>,
) -> Result<StatusCode, ApiError> {
    let org = within(&q)?;
    app.assign_role(&tenant, &role_id(&role)?, &user_id(&user)?, org.as_ref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/v1/admin/users/{user_id}/roles/{role_id}", tag = "policy",
    params(("user_id" = String, Path, description = "usr_…"), ("role_id" = String, Path, description = "rol_…"), AssignmentQuery),
    responses((status = 204, description = "The user no longer has the role (there)"),
              (status = 400, description = "invalid_query", body = ErrorBody),
              (status = 401, description = "missing_credentials, invalid_api_key", body = ErrorBody),
              (status = 404, description = "role_not_found, user_not_found (did not have it)", body = ErrorBody)),
    security(("secret_key" = [])))]
pub async fn unassign_role(
    State(app): State<App>,
    AdminCtx { tenant, .. }: AdminCtx<V1>,
    Path((user, role)): Path<(String, String)>,
    StrictQuery(q, _): StrictQuery<AssignmentQuery, V1>,
) -> Result<StatusCode, ApiError> {
    let org = within(&q)?;
    app.unassign_role(&tenant, &role_id(&role)?, &user_id(&user)?, org.as_ref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

// --- rules ---

/// The levels whose rules live here (the server's is its configuration, the tenant's
/// `/v1/admin/config`).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)] // documents the path segment; `target` parses it
pub enum RuleLevel {
    Organization,
    Role,
    Application,
    User,
}

/// What a level says: any field left out is left to the other levels.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleRequest {
    /// `required`, `optional` or `off` ("off where allowed": no level asks for more; a
    /// user's existing factors are still asked for).
    #[schema(value_type = Option<String>)]
    pub mfa: Option<Requirement>,
    /// The factor types allowed (intersected with every other level's list).
    pub allowed_factors: Option<Vec<String>>,
    /// `aal2`, or `phishing_resistant` (WebAuthn only).
    #[schema(value_type = Option<String>)]
    pub min_assurance: Option<MinAssurance>,
    /// Days a user without a factor may still sign in by password (reminded) after MFA
    /// became required, 0 to 90.
    pub enrollment_grace_days: Option<u32>,
    /// How recently a session must have passed a second factor to change factors, 60 to
    /// 86400 seconds.
    pub step_up_secs: Option<u32>,
    /// Users only: MFA optional for this user for this many days (1 to 90), whatever the
    /// other levels require. Needs `reason`; audited.
    pub exempt_days: Option<u32>,
    pub reason: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RuleResponse {
    pub level: String,
    pub target_id: String,
    #[schema(value_type = Object)]
    pub rule: Rule,
    pub exempt_until: Option<String>,
    pub reason: Option<String>,
    pub updated_at: String,
    /// With `dry_run=true`: who the rule would affect and how (nothing was saved).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impact: Option<ImpactView>,
}

impl RuleResponse {
    fn new(v: &RuleView) -> Self {
        RuleResponse {
            level: v.level.as_str().to_owned(),
            target_id: v.target_id.clone(),
            rule: v.rule.clone(),
            exempt_until: v.exempt_until.map(rfc3339),
            reason: v.reason.clone(),
            updated_at: rfc3339(v.updated_at),
            impact: None,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RuleQuery {
    /// Check the rule and report who it would affect, without saving it.
    pub dry_run: Option<bool>,
}

/// A level and target that exist but carry no rule.
fn rule_not_found() -> ApiError {
    crate::service::Failure::new(
        crate::service::FailureKind::NotFound,
        crate::service::ErrorCode::RuleNotFound,
        "no rule is set there",
    )
    .into()
}

fn target(level: &str, id: &str) -> Result<RuleTarget, ApiError> {
    let bad = |e: ServiceError| -> ApiError { e.into() };
    match Level::parse(level) {
        Some(Level::Organization) => Ok(RuleTarget::Organization(org_id(id)?)),
        Some(Level::Role) => Ok(RuleTarget::Role(role_id(id)?)),
        Some(Level::Application) => Ok(RuleTarget::Application(
            ApplicationId::parse(id).map_err(|_| bad(ServiceError::ApplicationNotFound))?,
        )),
        Some(Level::User) => Ok(RuleTarget::User(user_id(id)?)),
        // The server's rule is its configuration; the tenant's, `/v1/admin/config`.
        _ => Err(bad(ServiceError::Input(InputError::policy(
            PolicyInput::Rule,
            vec![(
                "level".into(),
                "must be organization, role, application or user (the tenant's rule is /v1/admin/config)"
                    .into(),
            )],
        )))),
    }
}

#[utoipa::path(get, path = "/v1/admin/mfa-rules/{level}/{target_id}", tag = "policy",
    params(("level" = RuleLevel, Path, description = "organization, role, application or user"), ("target_id" = String, Path, description = "org_…, rol_…, app_… or usr_…")),
    responses((status = 200, description = "The rule", body = RuleResponse),
              (status = 400, description = "invalid_rule (an unknown level)", body = ErrorBody),
              (status = 401, description = "missing_credentials, invalid_api_key", body = ErrorBody),
              (status = 404, description = "organization_not_found, role_not_found, application_not_found, user_not_found, rule_not_found", body = ErrorBody)),
    security(("secret_key" = [])))]
pub async fn get_rule(
    State(app): State<App>,
    AdminCtx { tenant, .. }: AdminCtx<V1>,
    Path((level, target_id)): Path<(String, String)>,
) -> Result<Json<RuleResponse>, ApiError> {
    let t = target(&level, &target_id)?;
    match app.mfa_rule(&tenant, &t).await? {
        Some(v) => Ok(Json(RuleResponse::new(&v))),
        None => Err(rule_not_found()),
    }
}

#[utoipa::path(put, path = "/v1/admin/mfa-rules/{level}/{target_id}", tag = "policy",
    params(("level" = RuleLevel, Path, description = "organization, role, application or user"), ("target_id" = String, Path, description = "org_…, rol_…, app_… or usr_…"), RuleQuery),
    request_body = RuleRequest,
    responses((status = 200, description = "The rule now in force there (replacing any before); with `dry_run=true`, the rule as it would be and its `impact`, nothing saved", body = RuleResponse),
              (status = 400, description = "invalid_rule (with `problems`), invalid_query, or a malformed body", body = ErrorBody),
              (status = 401, description = "missing_credentials, invalid_api_key", body = ErrorBody),
              (status = 404, description = "organization_not_found, role_not_found, application_not_found, user_not_found", body = ErrorBody),
              (status = 415, description = "unsupported_media_type", body = ErrorBody)),
    security(("secret_key" = [])))]
pub async fn put_rule(
    State(app): State<App>,
    AdminCtx { tenant, key, .. }: AdminCtx<V1>,
    Meta(meta): Meta,
    Path((level, target_id)): Path<(String, String)>,
    query: Result<Query<RuleQuery>, axum::extract::rejection::QueryRejection>,
    StrictJson(req, _): StrictJson<RuleRequest, V1>,
) -> Result<Json<RuleResponse>, ApiError> {
    // Taken as a `Result` so that a bad body is answered before a bad query.
    let Query(q) = query.map_err(|_| invalid_query("unknown or malformed query parameter"))?;
    let t = target(&level, &target_id)?;
    let mut problems = Vec::new();
    let allowed = match req.allowed_factors {
        None => None,
        Some(names) => {
            let mut kinds = Vec::new();
            for n in &names {
                match FactorKind::parse(n) {
                    Some(k) if !kinds.contains(&k) => kinds.push(k),
                    Some(_) => {}
                    None => problems.push((
                        "allowed_factors".to_owned(),
                        "names an unknown factor type".to_owned(),
                    )),
                }
            }
            Some(kinds)
        }
    };
    let exempt_until = match req.exempt_days {
        None => None,
        Some(d) if (1..=MAX_EXEMPTION_DAYS as u32).contains(&d) => {
            Some(app.now() + i64::from(d) * 86_400_000)
        }
        Some(_) => {
            problems.push((
                "exempt_days".to_owned(),
                format!("must be 1 to {MAX_EXEMPTION_DAYS}"),
            ));
            None
        }
    };
    if req.reason.is_some() && req.exempt_days.is_none() {
        problems.push((
            "reason".to_owned(),
            "is the reason of an exemption (exempt_days)".to_owned(),
        ));
    }
    if !problems.is_empty() {
        return Err(ServiceError::Input(InputError::policy(PolicyInput::Rule, problems)).into());
    }
    let input = RuleInput {
        rule: Rule {
            mfa: req.mfa,
            allowed_factors: allowed,
            min_assurance: req.min_assurance,
            enrollment_grace_days: req.enrollment_grace_days,
            step_up_secs: req.step_up_secs,
        },
        exempt_until,
        reason: req.reason,
    };
    if q.dry_run.unwrap_or(false) {
        let impact = app.mfa_rule_impact(&tenant, &t, &input).await?;
        let mut out = RuleResponse::new(&RuleView {
            level: t.level(),
            target_id: target_id.clone(),
            rule: input.rule,
            exempt_until: input.exempt_until,
            reason: input.exempt_until.and(input.reason),
            updated_at: app.now(),
        });
        out.impact = Some(ImpactView::new(None, Some(&impact)));
        return Ok(Json(out));
    }
    let v = app.put_mfa_rule(&tenant, &actor(&key), &meta, &t, input).await?;
    Ok(Json(RuleResponse::new(&v)))
}

#[utoipa::path(delete, path = "/v1/admin/mfa-rules/{level}/{target_id}", tag = "policy",
    params(("level" = RuleLevel, Path, description = "organization, role, application or user"), ("target_id" = String, Path, description = "org_…, rol_…, app_… or usr_…")),
    responses((status = 204, description = "Removed: the other levels decide"),
              (status = 400, description = "invalid_rule (an unknown level)", body = ErrorBody),
              (status = 401, description = "missing_credentials, invalid_api_key", body = ErrorBody),
              (status = 404, description = "organization_not_found, role_not_found, application_not_found, user_not_found, rule_not_found", body = ErrorBody)),
    security(("secret_key" = [])))]
pub async fn delete_rule(
    State(app): State<App>,
    AdminCtx { tenant, key, .. }: AdminCtx<V1>,
    Meta(meta): Meta,
    Path((level, target_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let t = target(&level, &target_id)?;
    if app.delete_mfa_rule(&tenant, &actor(&key), &meta, &t).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(rule_not_found())
    }
}

// --- explain ---

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExplainQuery {
    /// The decision for a sign-in to this application (its rule included).
    #[param(pattern = "^app_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub application_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ReasonView {
    pub level: String,
    pub id: String,
    pub name: Option<String>,
    pub rule: String,
}

/// The decision for one user, and the rules it came from.
#[derive(Serialize, ToSchema)]
pub struct PolicyExplanation {
    pub required: bool,
    /// `required`, `optional` or `off`.
    pub mfa: String,
    /// `aal2` or `phishing_resistant`.
    pub min_aal: String,
    pub allowed: Vec<String>,
    /// Until when a user without a factor may still sign in without one.
    pub grace_until: Option<String>,
    pub step_up_secs: u32,
    pub exempt_until: Option<String>,
    pub because: Vec<ReasonView>,
    /// The user's organizations and roles (`role_id`, and `organization_id` for a role
    /// given within one).
    pub organizations: Vec<OrganizationView>,
    #[schema(value_type = Vec<Object>)]
    pub roles: Vec<serde_json::Value>,
}

fn explanation(d: &Decision) -> PolicyExplanation {
    PolicyExplanation {
        required: d.required,
        mfa: d.mfa.as_str().to_owned(),
        min_aal: d.min_aal.as_str().to_owned(),
        allowed: d.allowed.iter().map(|k| k.as_str().to_owned()).collect(),
        grace_until: d.grace_until.map(rfc3339),
        step_up_secs: d.step_up_secs,
        exempt_until: d.exempt_until.map(rfc3339),
        because: d
            .because
            .iter()
            .map(|b| ReasonView {
                level: b.level.as_str().to_owned(),
                id: b.id.clone(),
                name: b.name.clone(),
                rule: b.rule.to_owned(),
            })
            .collect(),
        organizations: Vec::new(),
        roles: Vec::new(),
    }
}

#[utoipa::path(get, path = "/v1/admin/users/{user_id}/mfa/policy", tag = "policy",
    params(("user_id" = String, Path, description = "usr_…"), ExplainQuery),
    responses((status = 200, description = "The MFA decision for the user (signing in to the application, if given) and why", body = PolicyExplanation),
              (status = 400, description = "invalid_query", body = ErrorBody),
              (status = 401, description = "missing_credentials, invalid_api_key", body = ErrorBody),
              (status = 404, description = "user_not_found, application_not_found", body = ErrorBody)),
    security(("secret_key" = [])))]
pub async fn explain(
    State(app): State<App>,
    AdminCtx { tenant, .. }: AdminCtx<V1>,
    Path(user): Path<String>,
    StrictQuery(q, _): StrictQuery<ExplainQuery, V1>,
) -> Result<Json<PolicyExplanation>, ApiError> {
    let user = user_id(&user)?;
    let application = match q.application_id.as_deref() {
        Some(a) => {
            let id = ApplicationId::parse(a)
                .map_err(|_| invalid_query("application_id must be an application id"))?;
            app.get_application(&tenant, &id).await?;
            Some(id)
        }
        None => None,
    };
    let (orgs, roles) = app.user_memberships(&tenant, &user).await?;
    let decision = app.mfa_decision(&tenant, &user, application.as_ref()).await?;
    let mut out = explanation(&decision);
    out.organizations = orgs.iter().map(OrganizationView::new).collect();
    out.roles = roles
        .iter()
        .map(|r| {
            serde_json::json!({
                "role_id": r.role_id.to_string(),
                "organization_id": r.organization_id.as_ref().map(|o| o.to_string()),
            })
        })
        .collect();
    Ok(Json(out))
}
