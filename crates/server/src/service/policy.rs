//! The MFA policy's facts and its decision: organizations and their members, roles and
//! their assignments, the rules organizations, roles, applications and users carry, and
//! [`App::mfa_decision`], which gathers every rule that applies to a user (the server's
//! switch, the tenant's settings, the rest from the store in one query) and lets the
//! engine (`latchkey_core::policy::engine`) decide.

use super::audit::{Actor, Audit, RequestMeta};
use super::input::PolicyInput;
use super::{InputError, ServiceError, ServiceResult};
use crate::App;
use latchkey_core::audit::{AuditAction, AuditOutcome};
use latchkey_core::ids::{ApplicationId, OrganizationId, RoleId, UserId};
use latchkey_core::policy::engine::{self, Decision, Level, Requirement, Rule, Sourced};
use latchkey_core::policy::{self, FactorFact, MfaPolicy, SignInDecision};
use latchkey_core::settings::{MAX_GRACE_DAYS, STEP_UP_RANGE};
use latchkey_store::model::{MfaRuleRecord, Organization, Role, RoleAssignment, Tenant};
use latchkey_store::StoreError;

/// The longest an exemption may last: it is a stopgap (a lost phone), not a policy.
pub const MAX_EXEMPTION_DAYS: i64 = 90;
/// Organization and role names.
const MAX_NAME_CHARS: usize = 100;

/// What may carry a rule besides the server and the tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleTarget {
    Organization(OrganizationId),
    Role(RoleId),
    Application(ApplicationId),
    User(UserId),
}

impl RuleTarget {
    pub fn level(&self) -> Level {
        match self {
            RuleTarget::Organization(_) => Level::Organization,
            RuleTarget::Role(_) => Level::Role,
            RuleTarget::Application(_) => Level::Application,
            RuleTarget::User(_) => Level::User,
        }
    }

    /// The user a user's rule is about (the audit event names them).
    fn user(&self) -> Option<&UserId> {
        match self {
            RuleTarget::User(u) => Some(u),
            _ => None,
        }
    }

    fn id(&self) -> &str {
        match self {
            RuleTarget::Organization(id) => id.as_str(),
            RuleTarget::Role(id) => id.as_str(),
            RuleTarget::Application(id) => id.as_str(),
            RuleTarget::User(id) => id.as_str(),
        }
    }
}

/// A rule as set through the API: the rule, and for a user an optional exemption.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleInput {
    pub rule: Rule,
    /// MFA optional for this user until then (ms); users only, with a reason.
    pub exempt_until: Option<i64>,
    pub reason: Option<String>,
}

/// A stored rule, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleView {
    pub level: Level,
    pub target_id: String,
    pub rule: Rule,
    pub exempt_until: Option<i64>,
    pub reason: Option<String>,
    pub updated_at: i64,
}

fn check_name(raw: &str) -> ServiceResult<String> {
    latchkey_core::text::display_name(raw, MAX_NAME_CHARS)
        .ok()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            InputError::policy(
                PolicyInput::Name,
                vec![(
                    "name".into(),
                    format!("must be 1 to {MAX_NAME_CHARS} characters, without control, invisible or bidirectional-control characters"),
                )],
            )
            .into()
        })
}

fn named(e: StoreError) -> ServiceError {
    match e {
        StoreError::Conflict => ServiceError::NameTaken,
        other => other.into(),
    }
}

impl App {
    // --- organizations ---

    pub async fn create_organization(&self, tenant: &Tenant, name: &str) -> ServiceResult<Organization> {
        let now = self.now();
        let org = Organization {
            id: OrganizationId::generate(now, self.rng.as_ref()),
            tenant_id: tenant.id.clone(),
            name: check_name(name)?,
            created_at: now,
        };
        self.store.insert_organization(&org).await.map_err(named)?;
        Ok(org)
    }

    pub async fn organization(&self, tenant: &Tenant, id: &OrganizationId) -> ServiceResult<Organization> {
        self.store
            .get_organization(&tenant.id, id)
            .await?
            .ok_or(ServiceError::OrganizationNotFound)
    }

    pub async fn list_organizations(&self, tenant: &Tenant) -> ServiceResult<Vec<Organization>> {
        Ok(self.store.list_organizations(&tenant.id).await?)
    }

    pub async fn rename_organization(
        &self,
        tenant: &Tenant,
        id: &OrganizationId,
        name: &str,
    ) -> ServiceResult<Organization> {
        let name = check_name(name)?;
        if !self
            .store
            .rename_organization(&tenant.id, id, &name, self.now())
            .await
            .map_err(named)?
        {
            return Err(ServiceError::OrganizationNotFound);
        }
        self.organization(tenant, id).await
    }

    pub async fn delete_organization(&self, tenant: &Tenant, id: &OrganizationId) -> ServiceResult<()> {
        if self.store.delete_organization(&tenant.id, id).await? {
            self.tenants.forget(&tenant.id);
            Ok(())
        } else {
            Err(ServiceError::OrganizationNotFound)
        }
    }

    /// Adds a user of the tenant to an organization (again: no change).
    pub async fn add_member(
        &self,
        tenant: &Tenant,
        org: &OrganizationId,
        user: &UserId,
    ) -> ServiceResult<()> {
        self.organization(tenant, org).await?;
        self.get_user(&tenant.id, user).await?;
        self.store
            .add_organization_member(&tenant.id, org, user, self.now())
            .await?;
        Ok(())
    }

    pub async fn remove_member(
        &self,
        tenant: &Tenant,
        org: &OrganizationId,
        user: &UserId,
    ) -> ServiceResult<()> {
        self.organization(tenant, org).await?;
        if self
            .store
            .remove_organization_member(&tenant.id, org, user)
            .await?
        {
            Ok(())
        } else {
            Err(ServiceError::UserNotFound)
        }
    }

    pub async fn list_members(&self, tenant: &Tenant, org: &OrganizationId) -> ServiceResult<Vec<UserId>> {
        self.organization(tenant, org).await?;
        Ok(self.store.list_organization_members(&tenant.id, org).await?)
    }

    // --- roles ---

    pub async fn create_role(&self, tenant: &Tenant, name: &str) -> ServiceResult<Role> {
        let now = self.now();
        let role = Role {
            id: RoleId::generate(now, self.rng.as_ref()),
            tenant_id: tenant.id.clone(),
            name: check_name(name)?,
            created_at: now,
        };
        self.store.insert_role(&role).await.map_err(named)?;
        Ok(role)
    }

    pub async fn role(&self, tenant: &Tenant, id: &RoleId) -> ServiceResult<Role> {
        self.store
            .get_role(&tenant.id, id)
            .await?
            .ok_or(ServiceError::RoleNotFound)
    }

    pub async fn list_roles(&self, tenant: &Tenant) -> ServiceResult<Vec<Role>> {
        Ok(self.store.list_roles(&tenant.id).await?)
    }

    pub async fn delete_role(&self, tenant: &Tenant, id: &RoleId) -> ServiceResult<()> {
        if self.store.delete_role(&tenant.id, id).await? {
            self.tenants.forget(&tenant.id);
            Ok(())
        } else {
            Err(ServiceError::RoleNotFound)
        }
    }

    /// Gives a user a role in the tenant, or within an organization they belong to.
    pub async fn assign_role(
        &self,
        tenant: &Tenant,
        role: &RoleId,
        user: &UserId,
        org: Option<&OrganizationId>,
    ) -> ServiceResult<()> {
        self.role(tenant, role).await?;
        self.get_user(&tenant.id, user).await?;
        if let Some(org) = org {
            self.organization(tenant, org).await?;
            let members = self.store.list_organization_members(&tenant.id, org).await?;
            if !members.contains(user) {
                return Err(InputError::policy(
                    PolicyInput::Assignment,
                    vec![(
                        "organization_id".into(),
                        "the user is not a member of this organization".into(),
                    )],
                )
                .into());
            }
        }
        let assignment = RoleAssignment {
            role_id: role.clone(),
            user_id: user.clone(),
            organization_id: org.cloned(),
            created_at: self.now(),
        };
        self.store.assign_role(&tenant.id, &assignment).await?;
        Ok(())
    }

    pub async fn unassign_role(
        &self,
        tenant: &Tenant,
        role: &RoleId,
        user: &UserId,
        org: Option<&OrganizationId>,
    ) -> ServiceResult<()> {
        self.role(tenant, role).await?;
        if self.store.unassign_role(&tenant.id, role, user, org).await? {
            Ok(())
        } else {
            Err(ServiceError::UserNotFound)
        }
    }

    /// A user's organizations and roles, for the admin API.
    pub async fn user_memberships(
        &self,
        tenant: &Tenant,
        user: &UserId,
    ) -> ServiceResult<(Vec<Organization>, Vec<RoleAssignment>)> {
        self.get_user(&tenant.id, user).await?;
        Ok((
            self.store.user_organizations(&tenant.id, user).await?,
            self.store.user_roles(&tenant.id, user).await?,
        ))
    }

    // --- rules ---

    async fn check_target(&self, tenant: &Tenant, target: &RuleTarget) -> ServiceResult<()> {
        match target {
            RuleTarget::Organization(id) => self.organization(tenant, id).await.map(|_| ()),
            RuleTarget::Role(id) => self.role(tenant, id).await.map(|_| ()),
            RuleTarget::Application(id) => self.get_application(tenant, id).await.map(|_| ()),
            RuleTarget::User(id) => self.get_user(&tenant.id, id).await.map(|_| ()),
        }
    }

    pub async fn mfa_rule(&self, tenant: &Tenant, target: &RuleTarget) -> ServiceResult<Option<RuleView>> {
        self.check_target(tenant, target).await?;
        let Some(r) = self
            .store
            .get_mfa_rule(&tenant.id, target.level().as_str(), target.id())
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(view(&r)?))
    }

    /// Every problem with a rule for `target`. An exemption is for users only, needs a
    /// reason, lies in the future and lasts at most [`MAX_EXEMPTION_DAYS`].
    fn check_rule(&self, target: &RuleTarget, input: &RuleInput) -> ServiceResult<()> {
        let now = self.now();
        let mut problems = Vec::new();
        if let Some(kinds) = &input.rule.allowed_factors {
            if kinds.is_empty() {
                problems.push((
                    "allowed_factors".to_owned(),
                    "must name at least one factor type".to_owned(),
                ));
            }
        }
        // The same bounds as the tenant's own settings (`core::settings`).
        let (lo, hi) = STEP_UP_RANGE;
        if input.rule.step_up_secs.is_some_and(|s| !(lo..=hi).contains(&s)) {
            problems.push(("step_up_secs".to_owned(), format!("must be {lo} to {hi}")));
        }
        if input
            .rule
            .enrollment_grace_days
            .is_some_and(|d| d > MAX_GRACE_DAYS)
        {
            problems.push((
                "enrollment_grace_days".to_owned(),
                format!("must be 0 to {MAX_GRACE_DAYS}"),
            ));
        }
        let reason = input.reason.as_deref().map(str::trim).filter(|r| !r.is_empty());
        match (input.exempt_until, target) {
            (Some(until), RuleTarget::User(_)) => {
                if until <= now || until > now + MAX_EXEMPTION_DAYS * 86_400_000 {
                    problems.push((
                        "exempt_until".to_owned(),
                        format!("must be in the future, at most {MAX_EXEMPTION_DAYS} days ahead"),
                    ));
                }
                match reason {
                    None => problems.push(("reason".to_owned(), "an exemption needs a reason".to_owned())),
                    Some(r) if r.chars().count() > 500 => {
                        problems.push(("reason".to_owned(), "must be at most 500 characters".to_owned()))
                    }
                    Some(_) => {}
                }
            }
            (Some(_), _) => problems.push((
                "exempt_until".to_owned(),
                "only a user's rule may exempt (an exemption is explicit and personal)".to_owned(),
            )),
            (None, _) => {}
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(InputError::policy(PolicyInput::Rule, problems).into())
        }
    }

    /// Sets a target's rule (replacing the one it had). An exemption is for users only,
    /// needs a reason, lies in the future and lasts at most [`MAX_EXEMPTION_DAYS`]; every
    /// change is audited.
    pub async fn put_mfa_rule(
        &self,
        tenant: &Tenant,
        actor: &Actor,
        meta: &RequestMeta,
        target: &RuleTarget,
        input: RuleInput,
    ) -> ServiceResult<RuleView> {
        self.check_target(tenant, target).await?;
        self.check_rule(target, &input)?;
        let now = self.now();
        let reason = input.reason.as_deref().map(str::trim).filter(|r| !r.is_empty());
        let json = serde_json::to_string(&input.rule).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let record = MfaRuleRecord {
            tenant_id: tenant.id.clone(),
            level: target.level().as_str().to_owned(),
            target_id: target.id().to_owned(),
            rule: json.clone(),
            exempt_until: input.exempt_until,
            reason: input.exempt_until.and(reason.map(str::to_owned)),
            created_at: now,
            updated_at: now,
            target_name: None,
        };
        self.store.put_mfa_rule(&record).await?;
        self.tenants.forget(&tenant.id);
        let mut detail = format!("{} {} {json}", target.level().as_str(), target.id());
        if let (Some(until), Some(reason)) = (record.exempt_until, &record.reason) {
            detail.push_str(&format!(" exempt_until={until} reason={reason:?}"));
        }
        self.audit(Audit {
            tenant,
            actor,
            meta,
            user: target.user(),
            factor: None,
            action: AuditAction::MfaRuleChanged,
            outcome: AuditOutcome::Success,
            detail: Some(detail),
        })
        .await?;
        view(&record)
    }

    pub async fn delete_mfa_rule(
        &self,
        tenant: &Tenant,
        actor: &Actor,
        meta: &RequestMeta,
        target: &RuleTarget,
    ) -> ServiceResult<bool> {
        self.check_target(tenant, target).await?;
        let deleted = self
            .store
            .delete_mfa_rule(&tenant.id, target.level().as_str(), target.id())
            .await?;
        if deleted {
            self.tenants.forget(&tenant.id);
            self.audit(Audit {
                tenant,
                actor,
                meta,
                user: target.user(),
                factor: None,
                action: AuditAction::MfaRuleChanged,
                outcome: AuditOutcome::Success,
                detail: Some(format!("{} {} removed", target.level().as_str(), target.id())),
            })
            .await?;
        }
        Ok(deleted)
    }

    /// The rule an application carries (none if the tenant has no rule at all).
    pub async fn application_rule(
        &self,
        tenant: &Tenant,
        app: &ApplicationId,
    ) -> ServiceResult<Option<Rule>> {
        if tenant.mfa_rules == 0 {
            return Ok(None);
        }
        match self
            .store
            .get_mfa_rule(&tenant.id, Level::Application.as_str(), app.as_str())
            .await?
        {
            Some(r) => Ok(Some(view(&r)?.rule)),
            None => Ok(None),
        }
    }

    // --- the decision ---

    /// The rules of the server and the tenant, which apply to every user.
    fn base_rules(&self, tenant: &Tenant) -> Vec<Sourced> {
        let mut rules = Vec::new();
        if self.config.mfa_required {
            rules.push(Sourced {
                level: Level::Global,
                id: "server".into(),
                name: None,
                rule: Rule {
                    mfa: Some(Requirement::Required),
                    ..Rule::default()
                },
                since: 0,
                exempt_until: None,
            });
        }
        rules.push(Sourced {
            level: Level::Tenant,
            id: tenant.id.to_string(),
            name: Some(tenant.name.clone()),
            rule: tenant.settings.mfa_rule(),
            // The tenant's grace counts from when it began requiring MFA.
            since: tenant.settings.mfa_required_at.unwrap_or(tenant.created_at),
            exempt_until: None,
        });
        rules
    }

    /// For a sign-in the password alone completed: whether MFA is already required of this
    /// user, who has no factor yet and signs in only thanks to an enrollment grace; then
    /// until when (ms) and what they may enroll. The sign-in says so, every time (the
    /// reminder). Nothing is looked up where nothing could require MFA.
    pub async fn enrollment_due(
        &self,
        tenant: &Tenant,
        user: &UserId,
    ) -> ServiceResult<Option<EnrollmentDue>> {
        if !self.mfa_required(tenant) && tenant.mfa_rules == 0 {
            return Ok(None);
        }
        let decision = self.mfa_decision(tenant, user, None).await?;
        Ok(match decision.grace_until {
            Some(until) if decision.required && self.now() < until => Some(EnrollmentDue {
                until,
                allowed: decision
                    .allowed
                    .into_iter()
                    .filter(|k| !k.is_recovery())
                    .collect(),
            }),
            _ => None,
        })
    }

    /// The MFA decision for `user` (signing in to `application`, if given), and the rules it
    /// came from: the server's switch, the tenant's settings, and the rules of the user's
    /// organizations and roles, of the application and of the user.
    pub async fn mfa_decision(
        &self,
        tenant: &Tenant,
        user: &UserId,
        application: Option<&ApplicationId>,
    ) -> ServiceResult<Decision> {
        let rules = self.rules_for(tenant, user, application).await?;
        Ok(engine::decide(&rules, self.now()))
    }

    /// Every rule that applies to `user` (signing in to `application`, if given).
    async fn rules_for(
        &self,
        tenant: &Tenant,
        user: &UserId,
        application: Option<&ApplicationId>,
    ) -> ServiceResult<Vec<Sourced>> {
        let mut rules = self.base_rules(tenant);
        // Most tenants carry no rule beyond their settings: no query then (the count comes
        // with the tenant, cached as its settings are).
        let stored = if tenant.mfa_rules == 0 {
            Vec::new()
        } else {
            self.store
                .mfa_rules_for_user(&tenant.id, user, application.map(|a| a.as_str()))
                .await?
        };
        for r in &stored {
            let v = view(r)?;
            rules.push(Sourced {
                level: v.level,
                id: r.target_id.clone(),
                name: r.target_name.clone(),
                rule: v.rule,
                since: r.updated_at,
                exempt_until: r.exempt_until,
            });
        }
        Ok(rules)
    }

    // --- dry runs ---

    /// Who a rule change at `target` would affect, and how, without saving it: each user it
    /// may reach is decided twice by the engine, with the rules in force and with the
    /// change, and their sign-in compared (`core::policy::sign_in`, ignoring any grace:
    /// what the user faces once it ends).
    pub async fn mfa_rule_impact(
        &self,
        tenant: &Tenant,
        target: &RuleTarget,
        input: &RuleInput,
    ) -> ServiceResult<Impact> {
        self.check_target(tenant, target).await?;
        self.check_rule(target, input)?;
        let change = Change::Rule { target, input };
        match target {
            RuleTarget::User(u) => {
                self.impact_over(tenant, tenant, &change, vec![u.clone()], true)
                    .await
            }
            RuleTarget::Organization(org) => {
                let members = self.store.list_organization_members(&tenant.id, org).await?;
                let complete = members.len() <= MAX_EVALUATED;
                let members = members.into_iter().take(MAX_EVALUATED).collect();
                self.impact_over(tenant, tenant, &change, members, complete).await
            }
            // A role's holders and an application's users: every user of the tenant.
            RuleTarget::Role(_) | RuleTarget::Application(_) => {
                self.impact_over_all(tenant, tenant, &change).await
            }
        }
    }

    /// Who a change of the tenant's settings (the tenant level of the policy) would
    /// affect, and how: every user of the tenant, as [`Self::mfa_rule_impact`] does.
    pub async fn mfa_settings_impact(&self, before: &Tenant, after: &Tenant) -> ServiceResult<Impact> {
        self.impact_over_all(before, after, &Change::Settings).await
    }

    async fn impact_over_all(
        &self,
        before: &Tenant,
        after: &Tenant,
        change: &Change<'_>,
    ) -> ServiceResult<Impact> {
        let mut users = Vec::new();
        let mut cursor: Option<UserId> = None;
        loop {
            let page = self
                .store
                .list_users(&before.id, cursor.as_ref(), IMPACT_PAGE)
                .await?;
            let last = page.last().map(|u| u.id.clone());
            users.extend(page.into_iter().map(|u| u.id));
            if users.len() > MAX_EVALUATED || last.is_none() || users.len() % IMPACT_PAGE as usize != 0 {
                break;
            }
            cursor = last;
        }
        let complete = users.len() <= MAX_EVALUATED;
        users.truncate(MAX_EVALUATED);
        self.impact_over(before, after, change, users, complete).await
    }

    async fn impact_over(
        &self,
        before: &Tenant,
        after: &Tenant,
        change: &Change<'_>,
        users: Vec<UserId>,
        complete: bool,
    ) -> ServiceResult<Impact> {
        let now = self.now();
        let application = match change {
            Change::Rule {
                target: RuleTarget::Application(app),
                ..
            } => Some(app),
            _ => None,
        };
        let mut impact = Impact {
            users_to_enroll: 0,
            users_to_reenroll: 0,
            users: Vec::new(),
            evaluated: i64::try_from(users.len()).unwrap_or(i64::MAX),
            complete,
        };
        for user in users {
            let rules = self.rules_for(before, &user, application).await?;
            let mut next: Vec<Sourced> = rules.clone();
            match change {
                Change::Settings => {
                    // The tenant's level, as the new settings say it.
                    for s in next.iter_mut().filter(|s| s.level == Level::Tenant) {
                        s.rule = after.settings.mfa_rule();
                        s.since = after.settings.mfa_required_at.unwrap_or(after.created_at);
                    }
                }
                Change::Rule { target, input } => {
                    next.retain(|s| !(s.level == target.level() && s.id == target.id()));
                    if self.reaches(before, target, &user).await? {
                        next.push(Sourced {
                            level: target.level(),
                            id: target.id().to_owned(),
                            name: None,
                            rule: input.rule.clone(),
                            since: now,
                            exempt_until: input.exempt_until,
                        });
                    }
                }
            }
            let (was, will) = (engine::decide(&rules, now), engine::decide(&next, now));
            if was == will {
                continue;
            }
            let factors: Vec<FactorFact> = self
                .store
                .list_factors(&before.id, &user)
                .await?
                .iter()
                .map(|f| FactorFact {
                    kind: f.kind,
                    status: f.status,
                })
                .collect();
            let sign_in = |d: &Decision| {
                policy::sign_in(
                    &factors,
                    &MfaPolicy {
                        required: d.required,
                        allowed: &d.allowed,
                    },
                )
            };
            let effect = match (sign_in(&was), sign_in(&will)) {
                (SignInDecision::Enroll { .. }, _) => None,
                (_, SignInDecision::Enroll { .. }) => Some(Effect::Enroll),
                (
                    SignInDecision::Prove {
                        then_enroll: true, ..
                    },
                    _,
                ) => None,
                (
                    _,
                    SignInDecision::Prove {
                        then_enroll: true, ..
                    },
                ) => Some(Effect::EnrollAllowedKind),
                _ => None,
            };
            let Some(effect) = effect else { continue };
            match effect {
                Effect::Enroll => impact.users_to_enroll += 1,
                Effect::EnrollAllowedKind => impact.users_to_reenroll += 1,
            }
            if impact.users.len() < MAX_LISTED {
                impact.users.push(AffectedUser {
                    user_id: user,
                    effect,
                    grace_until: will.grace_until.filter(|_| effect == Effect::Enroll),
                });
            }
        }
        Ok(impact)
    }

    /// Whether a rule at `target` applies to `user`.
    async fn reaches(&self, tenant: &Tenant, target: &RuleTarget, user: &UserId) -> ServiceResult<bool> {
        Ok(match target {
            RuleTarget::User(u) => u == user,
            // The candidates are the organization's members; an application's rule applies
            // to everyone signing in to it.
            RuleTarget::Organization(_) | RuleTarget::Application(_) => true,
            RuleTarget::Role(role) => self
                .store
                .user_roles(&tenant.id, user)
                .await?
                .iter()
                .any(|a| &a.role_id == role),
        })
    }
}

/// Users a dry run evaluates at most; beyond, `complete` is false.
pub const MAX_EVALUATED: usize = 5_000;
/// Affected users a dry run lists at most (the counts go on).
pub const MAX_LISTED: usize = 100;
const IMPACT_PAGE: u32 = 200;

/// What a dry run compares.
enum Change<'a> {
    /// A rule at `target` replaced by `input`.
    Rule {
        target: &'a RuleTarget,
        input: &'a RuleInput,
    },
    /// The tenant's settings (the tenant level), `after` in place of `before`.
    Settings,
}

/// What a change would do to one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Without a factor, newly required to enroll one at sign-in (once any grace ends).
    Enroll,
    /// With factors none of which is of an allowed kind any more: at sign-in they prove one
    /// of theirs, then enroll an allowed kind (never a silent downgrade).
    EnrollAllowedKind,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Enroll => "enroll",
            Effect::EnrollAllowedKind => "enroll_allowed_kind",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AffectedUser {
    pub user_id: UserId,
    pub effect: Effect,
    /// Until when an `enroll` user may still sign in without a factor.
    pub grace_until: Option<i64>,
}

/// Who a change would affect: counts over every user evaluated, the first
/// [`MAX_LISTED`] by name. Users whose sign-in would not change are not listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Impact {
    pub users_to_enroll: i64,
    pub users_to_reenroll: i64,
    pub users: Vec<AffectedUser>,
    pub evaluated: i64,
    /// Every user the change may reach was evaluated (else the first [`MAX_EVALUATED`]).
    pub complete: bool,
}

fn view(r: &MfaRuleRecord) -> ServiceResult<RuleView> {
    let rule: Rule = serde_json::from_str(&r.rule)
        .map_err(|e| ServiceError::Internal(format!("stored MFA rule cannot be read: {e}")))?;
    let level = Level::parse(&r.level)
        .ok_or_else(|| ServiceError::Internal(format!("stored MFA rule has level {:?}", r.level)))?;
    Ok(RuleView {
        level,
        target_id: r.target_id.clone(),
        rule,
        exempt_until: r.exempt_until,
        reason: r.reason.clone(),
        updated_at: r.updated_at,
    })
}

/// MFA is required of a user still within their enrollment grace (`enrollment_due`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentDue {
    /// When the grace ends (ms): from then on sign-in starts the enrollment.
    pub until: i64,
    pub allowed: Vec<latchkey_core::factor::FactorKind>,
}
