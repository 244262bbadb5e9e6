//! Organizations, roles, their members and assignments, and the MFA rules they (and
//! applications and users) carry.

use crate::backend::conn::{args, conflict_or, Conn};
use crate::backend::rows::Columns;
use crate::model::{MfaRuleRecord, Organization, Role, RoleAssignment};
use crate::Result;
use latchkey_core::clock::UnixMillis;
use latchkey_core::ids::{OrganizationId, RoleId, TenantId, UserId};

fn organization(r: &dyn Columns) -> Result<Organization> {
    Ok(Organization {
        id: OrganizationId::from_trusted(r.text("id")?),
        tenant_id: TenantId::from_trusted(r.text("tenant_id")?),
        name: r.text("name")?,
        created_at: r.int("created_at")?,
    })
}

fn role(r: &dyn Columns) -> Result<Role> {
    Ok(Role {
        id: RoleId::from_trusted(r.text("id")?),
        tenant_id: TenantId::from_trusted(r.text("tenant_id")?),
        name: r.text("name")?,
        created_at: r.int("created_at")?,
    })
}

fn rule(r: &dyn Columns) -> Result<MfaRuleRecord> {
    Ok(MfaRuleRecord {
        tenant_id: TenantId::from_trusted(r.text("tenant_id")?),
        level: r.text("level")?,
        target_id: r.text("target_id")?,
        rule: r.text("rule")?,
        exempt_until: r.opt_int("exempt_until")?,
        reason: r.opt_text("reason")?,
        created_at: r.int("created_at")?,
        updated_at: r.int("updated_at")?,
        target_name: r.opt_text("target_name")?,
    })
}

// --- organizations ---

pub(crate) async fn insert_organization<C: Conn>(c: &mut C, o: &Organization) -> Result<()> {
    c.execute(
        "INSERT INTO organizations (id, tenant_id, name, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)",
        args![o.id.as_str(), o.tenant_id.as_str(), &o.name, o.created_at],
    )
    .await
    .map_err(conflict_or)?;
    Ok(())
}

pub(crate) async fn get_organization<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    id: &OrganizationId,
) -> Result<Option<Organization>> {
    c.fetch_optional(
        "SELECT id, tenant_id, name, created_at FROM organizations WHERE tenant_id = $1 AND id = $2",
        args![tenant.as_str(), id.as_str()],
        organization,
    )
    .await
}

pub(crate) async fn list_organizations<C: Conn>(c: &mut C, tenant: &TenantId) -> Result<Vec<Organization>> {
    c.fetch_all(
        "SELECT id, tenant_id, name, created_at FROM organizations WHERE tenant_id = $1 ORDER BY id",
        args![tenant.as_str()],
        organization,
    )
    .await
}

pub(crate) async fn rename_organization<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    id: &OrganizationId,
    name: &str,
    now: UnixMillis,
) -> Result<bool> {
    let n = c
        .execute(
            "UPDATE organizations SET name = $1, updated_at = $2 WHERE tenant_id = $3 AND id = $4",
            args![name, now, tenant.as_str(), id.as_str()],
        )
        .await
        .map_err(conflict_or)?;
    Ok(n == 1)
}

/// Deletes an organization with its members, the roles given within it and its rule.
pub(crate) async fn delete_organization<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    id: &OrganizationId,
) -> Result<bool> {
    c.execute(
        "DELETE FROM organization_members WHERE tenant_id = $1 AND organization_id = $2",
        args![tenant.as_str(), id.as_str()],
    )
    .await?;
    c.execute(
        "DELETE FROM role_assignments WHERE tenant_id = $1 AND organization_id = $2",
        args![tenant.as_str(), id.as_str()],
    )
    .await?;
    c.execute(
        "DELETE FROM mfa_rules WHERE tenant_id = $1 AND level = 'organization' AND target_id = $2",
        args![tenant.as_str(), id.as_str()],
    )
    .await?;
    let n = c
        .execute(
            "DELETE FROM organizations WHERE tenant_id = $1 AND id = $2",
            args![tenant.as_str(), id.as_str()],
        )
        .await?;
    Ok(n == 1)
}

/// Adds a member; `false` if they were one already.
pub(crate) async fn add_member<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    org: &OrganizationId,
    user: &UserId,
    now: UnixMillis,
) -> Result<bool> {
    let n = c
        .execute(
            "INSERT INTO organization_members (organization_id, user_id, tenant_id, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (organization_id, user_id) DO NOTHING",
            args![org.as_str(), user.as_str(), tenant.as_str(), now],
        )
        .await?;
    Ok(n == 1)
}

/// Removes a member and the roles they had within the organization.
pub(crate) async fn remove_member<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    org: &OrganizationId,
    user: &UserId,
) -> Result<bool> {
    c.execute(
        "DELETE FROM role_assignments WHERE tenant_id = $1 AND organization_id = $2 AND user_id = $3",
        args![tenant.as_str(), org.as_str(), user.as_str()],
    )
    .await?;
    let n = c
        .execute(
            "DELETE FROM organization_members WHERE tenant_id = $1 AND organization_id = $2 AND user_id = $3",
            args![tenant.as_str(), org.as_str(), user.as_str()],
        )
        .await?;
    Ok(n == 1)
}

pub(crate) async fn list_members<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    org: &OrganizationId,
) -> Result<Vec<UserId>> {
    c.fetch_all(
        "SELECT user_id FROM organization_members WHERE tenant_id = $1 AND organization_id = $2 ORDER BY user_id",
        args![tenant.as_str(), org.as_str()],
        |r| Ok(UserId::from_trusted(r.text("user_id")?)),
    )
    .await
}

// --- roles ---

pub(crate) async fn insert_role<C: Conn>(c: &mut C, r: &Role) -> Result<()> {
    c.execute(
        "INSERT INTO roles (id, tenant_id, name, created_at) VALUES ($1, $2, $3, $4)",
        args![r.id.as_str(), r.tenant_id.as_str(), &r.name, r.created_at],
    )
    .await
    .map_err(conflict_or)?;
    Ok(())
}

pub(crate) async fn get_role<C: Conn>(c: &mut C, tenant: &TenantId, id: &RoleId) -> Result<Option<Role>> {
    c.fetch_optional(
        "SELECT id, tenant_id, name, created_at FROM roles WHERE tenant_id = $1 AND id = $2",
        args![tenant.as_str(), id.as_str()],
        role,
    )
    .await
}

pub(crate) async fn list_roles<C: Conn>(c: &mut C, tenant: &TenantId) -> Result<Vec<Role>> {
    c.fetch_all(
        "SELECT id, tenant_id, name, created_at FROM roles WHERE tenant_id = $1 ORDER BY id",
        args![tenant.as_str()],
        role,
    )
    .await
}

/// Deletes a role with its assignments and its rule.
pub(crate) async fn delete_role<C: Conn>(c: &mut C, tenant: &TenantId, id: &RoleId) -> Result<bool> {
    c.execute(
        "DELETE FROM role_assignments WHERE tenant_id = $1 AND role_id = $2",
        args![tenant.as_str(), id.as_str()],
    )
    .await?;
    c.execute(
        "DELETE FROM mfa_rules WHERE tenant_id = $1 AND level = 'role' AND target_id = $2",
        args![tenant.as_str(), id.as_str()],
    )
    .await?;
    let n = c
        .execute(
            "DELETE FROM roles WHERE tenant_id = $1 AND id = $2",
            args![tenant.as_str(), id.as_str()],
        )
        .await?;
    Ok(n == 1)
}

/// Gives a role; `false` if the user had it (there) already.
pub(crate) async fn assign_role<C: Conn>(c: &mut C, tenant: &TenantId, a: &RoleAssignment) -> Result<bool> {
    let org = a.organization_id.as_ref().map(|o| o.as_str()).unwrap_or("");
    let n = c
        .execute(
            "INSERT INTO role_assignments (role_id, user_id, tenant_id, organization_id, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (role_id, user_id, organization_id) DO NOTHING",
            args![
                a.role_id.as_str(),
                a.user_id.as_str(),
                tenant.as_str(),
                org,
                a.created_at
            ],
        )
        .await?;
    Ok(n == 1)
}

pub(crate) async fn unassign_role<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    role: &RoleId,
    user: &UserId,
    org: Option<&OrganizationId>,
) -> Result<bool> {
    let org = org.map(|o| o.as_str()).unwrap_or("");
    let n = c
        .execute(
            "DELETE FROM role_assignments WHERE tenant_id = $1 AND role_id = $2 AND user_id = $3 AND organization_id = $4",
            args![tenant.as_str(), role.as_str(), user.as_str(), org],
        )
        .await?;
    Ok(n == 1)
}

pub(crate) async fn user_roles<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    user: &UserId,
) -> Result<Vec<RoleAssignment>> {
    c.fetch_all(
        "SELECT role_id, user_id, organization_id, created_at FROM role_assignments \
         WHERE tenant_id = $1 AND user_id = $2 ORDER BY role_id, organization_id",
        args![tenant.as_str(), user.as_str()],
        |r| {
            let org = r.text("organization_id")?;
            Ok(RoleAssignment {
                role_id: RoleId::from_trusted(r.text("role_id")?),
                user_id: UserId::from_trusted(r.text("user_id")?),
                organization_id: (!org.is_empty()).then(|| OrganizationId::from_trusted(org)),
                created_at: r.int("created_at")?,
            })
        },
    )
    .await
}

pub(crate) async fn user_organizations<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    user: &UserId,
) -> Result<Vec<Organization>> {
    c.fetch_all(
        "SELECT o.id, o.tenant_id, o.name, o.created_at FROM organizations o \
         JOIN organization_members m ON m.organization_id = o.id \
         WHERE m.tenant_id = $1 AND m.user_id = $2 ORDER BY o.id",
        args![tenant.as_str(), user.as_str()],
        organization,
    )
    .await
}

// --- rules ---

/// Sets (replaces) the rule a target carries.
pub(crate) async fn put_rule<C: Conn>(c: &mut C, r: &MfaRuleRecord) -> Result<()> {
    c.execute(
        "INSERT INTO mfa_rules (tenant_id, level, target_id, rule, exempt_until, reason, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (tenant_id, level, target_id) DO UPDATE SET rule = excluded.rule, \
         exempt_until = excluded.exempt_until, reason = excluded.reason, updated_at = excluded.updated_at",
        args![
            r.tenant_id.as_str(),
            &r.level,
            &r.target_id,
            &r.rule,
            r.exempt_until,
            r.reason.as_deref(),
            r.created_at,
            r.updated_at
        ],
    )
    .await?;
    Ok(())
}

pub(crate) async fn get_rule<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    level: &str,
    target: &str,
) -> Result<Option<MfaRuleRecord>> {
    c.fetch_optional(
        "SELECT tenant_id, level, target_id, rule, exempt_until, reason, created_at, updated_at, \
         NULL AS target_name FROM mfa_rules WHERE tenant_id = $1 AND level = $2 AND target_id = $3",
        args![tenant.as_str(), level, target],
        rule,
    )
    .await
}

pub(crate) async fn delete_rule<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    level: &str,
    target: &str,
) -> Result<bool> {
    let n = c
        .execute(
            "DELETE FROM mfa_rules WHERE tenant_id = $1 AND level = $2 AND target_id = $3",
            args![tenant.as_str(), level, target],
        )
        .await?;
    Ok(n == 1)
}

/// Every rule that applies to `user` signing in to `application` (if any): their own, their
/// organizations', their roles' (in the tenant or within an organization) and the
/// application's, each with its target's name. One query: it runs at every sign-in.
pub(crate) async fn rules_for_user<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    user: &UserId,
    application: Option<&str>,
) -> Result<Vec<MfaRuleRecord>> {
    c.fetch_all(
        "SELECT r.tenant_id, r.level, r.target_id, r.rule, r.exempt_until, r.reason, r.created_at, \
         r.updated_at, COALESCE(o.name, ro.name, a.name) AS target_name \
         FROM mfa_rules r \
         LEFT JOIN organizations o ON r.level = 'organization' AND o.id = r.target_id \
         LEFT JOIN roles ro ON r.level = 'role' AND ro.id = r.target_id \
         LEFT JOIN applications a ON r.level = 'application' AND a.id = r.target_id \
         WHERE r.tenant_id = $1 AND ( \
           (r.level = 'user' AND r.target_id = $2) \
           OR (r.level = 'organization' AND r.target_id IN \
               (SELECT organization_id FROM organization_members WHERE tenant_id = $1 AND user_id = $2)) \
           OR (r.level = 'role' AND r.target_id IN \
               (SELECT role_id FROM role_assignments WHERE tenant_id = $1 AND user_id = $2)) \
           OR (r.level = 'application' AND r.target_id = $3)) \
         ORDER BY r.level, r.target_id",
        args![tenant.as_str(), user.as_str(), application.unwrap_or("")],
        rule,
    )
    .await
}
