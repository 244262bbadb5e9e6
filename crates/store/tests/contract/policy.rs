//! Organizations, roles, memberships, assignments and the MFA rules they carry.

use super::*;

contract!(
    organizations_and_members,
    roles_and_assignments,
    rules_for_a_user_come_from_every_level,
);

fn org(t: &TenantId, name: &str) -> Organization {
    Organization {
        id: OrganizationId::generate(T0, &OsRandom),
        tenant_id: t.clone(),
        name: name.into(),
        created_at: T0,
    }
}

fn role(t: &TenantId, name: &str) -> Role {
    Role {
        id: RoleId::generate(T0, &OsRandom),
        tenant_id: t.clone(),
        name: name.into(),
        created_at: T0,
    }
}

fn rule(t: &TenantId, level: &str, target: &str, json: &str) -> MfaRuleRecord {
    MfaRuleRecord {
        tenant_id: t.clone(),
        level: level.into(),
        target_id: target.into(),
        rule: json.into(),
        exempt_until: None,
        reason: None,
        created_at: T0,
        updated_at: T0,
        target_name: None,
    }
}

async fn organizations_and_members(s: DynStore) {
    let u = user_in_new_tenant(&s).await;
    let t = u.tenant_id.clone();
    let a = org(&t, "Acme");
    s.insert_organization(&a).await.unwrap();
    assert!(matches!(
        s.insert_organization(&org(&t, "Acme")).await,
        Err(StoreError::Conflict)
    ));
    let b = org(&t, "Beta");
    s.insert_organization(&b).await.unwrap();
    assert!(matches!(
        s.rename_organization(&t, &b.id, "Acme", T0 + 1).await,
        Err(StoreError::Conflict)
    ));
    assert!(s.rename_organization(&t, &b.id, "Bravo", T0 + 1).await.unwrap());
    assert_eq!(s.list_organizations(&t).await.unwrap().len(), 2);
    // Another tenant sees none of them.
    let other = tenant("other");
    s.insert_tenant(&other).await.unwrap();
    assert_eq!(s.get_organization(&other.id, &a.id).await.unwrap(), None);
    assert!(s.list_organizations(&other.id).await.unwrap().is_empty());

    assert!(s.add_organization_member(&t, &a.id, &u.id, T0).await.unwrap());
    assert!(
        !s.add_organization_member(&t, &a.id, &u.id, T0).await.unwrap(),
        "once"
    );
    assert_eq!(
        s.list_organization_members(&t, &a.id).await.unwrap(),
        vec![u.id.clone()]
    );
    assert_eq!(s.user_organizations(&t, &u.id).await.unwrap()[0].name, "Acme");
    // Removing the member takes the roles given within the organization.
    let r = role(&t, "admin");
    s.insert_role(&r).await.unwrap();
    let within = RoleAssignment {
        role_id: r.id.clone(),
        user_id: u.id.clone(),
        organization_id: Some(a.id.clone()),
        created_at: T0,
    };
    assert!(s.assign_role(&t, &within).await.unwrap());
    assert!(s.remove_organization_member(&t, &a.id, &u.id).await.unwrap());
    assert!(s.user_roles(&t, &u.id).await.unwrap().is_empty());
    assert!(!s.remove_organization_member(&t, &a.id, &u.id).await.unwrap());
    // Deleting takes members, roles within and the rule.
    s.add_organization_member(&t, &a.id, &u.id, T0).await.unwrap();
    s.assign_role(&t, &within).await.unwrap();
    s.put_mfa_rule(&rule(&t, "organization", a.id.as_str(), "{}"))
        .await
        .unwrap();
    assert!(s.delete_organization(&t, &a.id).await.unwrap());
    assert!(!s.delete_organization(&t, &a.id).await.unwrap());
    assert!(s.user_organizations(&t, &u.id).await.unwrap().is_empty());
    assert!(s.user_roles(&t, &u.id).await.unwrap().is_empty());
    assert_eq!(
        s.get_mfa_rule(&t, "organization", a.id.as_str()).await.unwrap(),
        None
    );
}

async fn roles_and_assignments(s: DynStore) {
    let u = user_in_new_tenant(&s).await;
    let t = u.tenant_id.clone();
    let r = role(&t, "admin");
    s.insert_role(&r).await.unwrap();
    assert!(matches!(
        s.insert_role(&role(&t, "admin")).await,
        Err(StoreError::Conflict)
    ));
    let o = org(&t, "Acme");
    s.insert_organization(&o).await.unwrap();
    let global = RoleAssignment {
        role_id: r.id.clone(),
        user_id: u.id.clone(),
        organization_id: None,
        created_at: T0,
    };
    let within = RoleAssignment {
        organization_id: Some(o.id.clone()),
        ..global.clone()
    };
    assert!(s.assign_role(&t, &global).await.unwrap());
    assert!(!s.assign_role(&t, &global).await.unwrap(), "once");
    assert!(
        s.assign_role(&t, &within).await.unwrap(),
        "and once within the organization"
    );
    assert_eq!(s.user_roles(&t, &u.id).await.unwrap().len(), 2);
    assert!(s.unassign_role(&t, &r.id, &u.id, None).await.unwrap());
    assert_eq!(s.user_roles(&t, &u.id).await.unwrap(), vec![within.clone()]);
    s.put_mfa_rule(&rule(&t, "role", r.id.as_str(), "{}"))
        .await
        .unwrap();
    assert!(s.delete_role(&t, &r.id).await.unwrap());
    assert!(s.user_roles(&t, &u.id).await.unwrap().is_empty());
    assert_eq!(s.get_role(&t, &r.id).await.unwrap(), None);
    assert_eq!(s.get_mfa_rule(&t, "role", r.id.as_str()).await.unwrap(), None);
}

async fn rules_for_a_user_come_from_every_level(s: DynStore) {
    let u = user_in_new_tenant(&s).await;
    let t = u.tenant_id.clone();
    let other_user = user(&t, "bob@example.com");
    s.insert_user(&other_user).await.unwrap();
    let o = org(&t, "Acme");
    let r = role(&t, "admin");
    let unrelated = role(&t, "viewer");
    s.insert_organization(&o).await.unwrap();
    s.insert_role(&r).await.unwrap();
    s.insert_role(&unrelated).await.unwrap();
    s.add_organization_member(&t, &o.id, &u.id, T0).await.unwrap();
    s.assign_role(
        &t,
        &RoleAssignment {
            role_id: r.id.clone(),
            user_id: u.id.clone(),
            organization_id: Some(o.id.clone()),
            created_at: T0,
        },
    )
    .await
    .unwrap();
    s.put_mfa_rule(&rule(&t, "organization", o.id.as_str(), r#"{"mfa":"optional"}"#))
        .await
        .unwrap();
    s.put_mfa_rule(&rule(&t, "role", r.id.as_str(), r#"{"mfa":"required"}"#))
        .await
        .unwrap();
    s.put_mfa_rule(&rule(&t, "role", unrelated.id.as_str(), r#"{"mfa":"off"}"#))
        .await
        .unwrap();
    s.put_mfa_rule(&rule(&t, "application", "app_x", r#"{"min_assurance":"aal2"}"#))
        .await
        .unwrap();
    let mut mine = rule(&t, "user", u.id.as_str(), "{}");
    mine.exempt_until = Some(T0 + 1000);
    mine.reason = Some("travelling".into());
    s.put_mfa_rule(&mine).await.unwrap();
    s.put_mfa_rule(&rule(&t, "user", other_user.id.as_str(), r#"{"mfa":"off"}"#))
        .await
        .unwrap();

    let got = s.mfa_rules_for_user(&t, &u.id, None).await.unwrap();
    let levels: Vec<(&str, Option<&str>)> = got
        .iter()
        .map(|r| (r.level.as_str(), r.target_name.as_deref()))
        .collect();
    assert_eq!(
        levels,
        vec![
            ("organization", Some("Acme")),
            ("role", Some("admin")),
            ("user", None)
        ]
    );
    assert_eq!(got[2].exempt_until, Some(T0 + 1000));
    assert_eq!(got[2].reason.as_deref(), Some("travelling"));
    let with_app = s.mfa_rules_for_user(&t, &u.id, Some("app_x")).await.unwrap();
    assert_eq!(with_app.len(), 4);
    assert!(with_app.iter().any(|r| r.level == "application"));
    // Replacing a rule keeps one row; deleting removes it.
    let mut changed = rule(&t, "role", r.id.as_str(), r#"{"mfa":"off"}"#);
    changed.updated_at = T0 + 5;
    s.put_mfa_rule(&changed).await.unwrap();
    let got = s.get_mfa_rule(&t, "role", r.id.as_str()).await.unwrap().unwrap();
    assert_eq!((got.rule.as_str(), got.updated_at), (r#"{"mfa":"off"}"#, T0 + 5));
    assert!(s.delete_mfa_rule(&t, "role", r.id.as_str()).await.unwrap());
    assert!(!s.delete_mfa_rule(&t, "role", r.id.as_str()).await.unwrap());
    // Another tenant's rules never apply.
    let other = tenant("other");
    s.insert_tenant(&other).await.unwrap();
    assert!(s
        .mfa_rules_for_user(&other.id, &u.id, Some("app_x"))
        .await
        .unwrap()
        .is_empty());
}
