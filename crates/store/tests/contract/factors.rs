//! Factors: activation, deletion, reset and the rules around a first factor.

use super::*;

contract!(
    pending_factors_activate_once_with_backup_codes_first,
    deleting_factors_and_resetting_mfa,
    activation_rechecks_its_rules_in_its_transaction,
    a_first_factor_ends_other_sessions_and_enrollments,
    factor_changes_end_every_session_but_the_callers,
    narrowing_counts_users_to_reenroll,
);

async fn pending_factors_activate_once_with_backup_codes_first(s: DynStore) {
    let u = user_in_new_tenant(&s).await;
    let first = factor(&u, FactorKind::Totp, FactorStatus::Pending);
    s.insert_factor(&first).await.unwrap();
    // Restarting the enrollment replaces the pending factor.
    let second = factor(&u, FactorKind::Totp, FactorStatus::Pending);
    s.insert_factor(&second).await.unwrap();
    assert_eq!(s.get_factor(&u.tenant_id, &first.id).await.unwrap(), None);
    let b = backup(&u, &["a", "b"]);
    // Not after it lapses.
    assert_eq!(
        s.activate_factor(
            &second.id,
            &Check::TotpStep(5),
            &b,
            &ActivationRules::default(),
            T0 + 600_000
        )
        .await
        .unwrap(),
        ActivateOutcome::NotPending
    );
    assert_eq!(
        s.activate_factor(
            &second.id,
            &Check::TotpStep(5),
            &b,
            &ActivationRules::default(),
            T0 + 1
        )
        .await
        .unwrap(),
        ActivateOutcome::Activated {
            backup_installed: true
        }
    );
    assert_eq!(
        s.activate_factor(
            &second.id,
            &Check::TotpStep(6),
            &b,
            &ActivationRules::default(),
            T0 + 2
        )
        .await
        .unwrap(),
        ActivateOutcome::NotPending,
        "only once"
    );
    let active = s.get_factor(&u.tenant_id, &second.id).await.unwrap().unwrap();
    assert_eq!(
        (active.status, active.last_step, active.expires_at),
        (FactorStatus::Active, Some(5), None)
    );
    assert_eq!(s.unused_backup_codes(&b.factor.id).await.unwrap(), 2);
    // A second factor does not reinstall backup codes.
    let third = factor(&u, FactorKind::Totp, FactorStatus::Pending);
    s.insert_factor(&third).await.unwrap();
    let other = backup(&u, &["x"]);
    assert_eq!(
        s.activate_factor(
            &third.id,
            &Check::TotpStep(1),
            &other,
            &ActivationRules::default(),
            T0 + 3
        )
        .await
        .unwrap(),
        ActivateOutcome::Activated {
            backup_installed: false
        }
    );
    assert_eq!(s.unused_backup_codes(&b.factor.id).await.unwrap(), 2);
    let all = s.list_factors(&u.tenant_id, &u.id).await.unwrap();
    assert_eq!(all.len(), 3);
    let sealed = s.list_sealed(SealedColumn::FactorSecret).await.unwrap();
    assert!(sealed.iter().any(|(id, _)| id == second.id.as_str()));
    assert!(
        !sealed.iter().any(|(id, _)| id == b.factor.id.as_str()),
        "no NULL secrets listed"
    );
}

async fn deleting_factors_and_resetting_mfa(s: DynStore) {
    let (u, totp, bid) = enrolled(&s).await;
    // Regeneration replaces every code at once.
    let mut b = backup(&u, &["n1", "n2", "n3"]);
    b.factor.id = bid.clone();
    assert_eq!(s.replace_backup_codes(&b, None, T0).await.unwrap(), bid);
    assert_eq!(s.unused_backup_codes(&bid).await.unwrap(), 3);
    let c = challenge(&u, T0 + 300_000);
    s.insert_challenge(&c).await.unwrap();
    let old = Proof::BackupCode {
        factor_id: bid.clone(),
        code_hash: "c1".into(),
    };
    assert_eq!(
        s.complete_challenge(&c.id, &old, T0 + 1).await.unwrap(),
        CompleteOutcome::ProofRejected
    );
    // Deleting the last real factor takes the backup codes with it.
    assert!(s
        .delete_factor(&u.tenant_id, &u.id, &totp.id, None, T0)
        .await
        .unwrap());
    assert!(!s
        .delete_factor(&u.tenant_id, &u.id, &totp.id, None, T0)
        .await
        .unwrap());
    assert!(s.list_factors(&u.tenant_id, &u.id).await.unwrap().is_empty());
    assert_eq!(s.unused_backup_codes(&bid).await.unwrap(), 0);
    // Reset removes everything and closes open challenges.
    let (u2, _, _) = enrolled(&s).await;
    let open = challenge(&u2, T0 + 300_000);
    s.insert_challenge(&open).await.unwrap();
    assert_eq!(s.reset_mfa(&u2.tenant_id, &u2.id, T0 + 5).await.unwrap(), 2);
    assert!(s.list_factors(&u2.tenant_id, &u2.id).await.unwrap().is_empty());
    assert!(
        s.get_challenge(&u2.tenant_id, &open.id)
            .await
            .unwrap()
            .unwrap()
            .expires_at
            <= T0 + 5
    );
}

async fn activation_rechecks_its_rules_in_its_transaction(s: DynStore) {
    let u = user_in_new_tenant(&s).await;
    let pending = factor(&u, FactorKind::Totp, FactorStatus::Pending);
    s.insert_factor(&pending).await.unwrap();
    let mut sms = factor(&u, FactorKind::Sms, FactorStatus::Pending);
    sms.secret_sealed = None;
    s.insert_factor(&sms).await.unwrap();
    let b = backup(&u, &["a"]);
    // The SMS factor becomes active first.
    assert_eq!(
        s.activate_factor(
            &sms.id,
            &Check::Preverified,
            &b,
            &ActivationRules::default(),
            T0 + 1
        )
        .await
        .unwrap(),
        ActivateOutcome::Activated {
            backup_installed: true
        }
    );
    // The TOTP enrollment was started while the user had no factor: it cannot complete now,
    // and nothing of it is kept.
    let rules = ActivationRules {
        only_without: Some(vec![FactorKind::Totp, FactorKind::Sms, FactorKind::EmailOtp]),
        ..Default::default()
    };
    let other = factor(&u, FactorKind::Totp, FactorStatus::Pending);
    s.insert_factor(&other).await.unwrap();
    assert_eq!(
        s.activate_factor(&other.id, &Check::TotpStep(7), &b, &rules, T0 + 2)
            .await
            .unwrap(),
        ActivateOutcome::Stale
    );
    let f = s.get_factor(&u.tenant_id, &other.id).await.unwrap().unwrap();
    assert_eq!(
        (f.status, f.last_step),
        (FactorStatus::Pending, None),
        "rolled back"
    );
    // A condition on kinds the user does not have lets it complete.
    let rules = ActivationRules {
        only_without: Some(vec![FactorKind::EmailOtp]),
        ..Default::default()
    };
    assert_eq!(
        s.activate_factor(&other.id, &Check::TotpStep(7), &b, &rules, T0 + 3)
            .await
            .unwrap(),
        ActivateOutcome::Activated {
            backup_installed: false
        }
    );
    // In a forced enrollment the same rule makes the challenge stale, closed and uncounted.
    let u2 = user_in_new_tenant(&s).await;
    let mut c = challenge(&u2, T0 + 300_000);
    c.purpose = ChallengePurpose::Enroll;
    s.insert_challenge(&c).await.unwrap();
    let mine = factor(&u2, FactorKind::Totp, FactorStatus::Pending);
    s.insert_factor(&mine).await.unwrap();
    let mut theirs = factor(&u2, FactorKind::Sms, FactorStatus::Pending);
    theirs.secret_sealed = None;
    s.insert_factor(&theirs).await.unwrap();
    let b2 = backup(&u2, &["z"]);
    s.activate_factor(
        &theirs.id,
        &Check::Preverified,
        &b2,
        &ActivationRules::default(),
        T0 + 4,
    )
    .await
    .unwrap();
    let key = factor_key(&u2, &mine.id);
    let attempt = SignInAttempt {
        challenge_id: c.id.clone(),
        proof: Some(Proof::Enrollment {
            factor_id: mine.id.clone(),
            check: Check::TotpStep(9),
            backup: Box::new(b2.clone()),
            rules: ActivationRules {
                only_without: Some(vec![FactorKind::Totp, FactorKind::Sms]),
                keep_session: None,
                enrolled_by: Some(c.id.to_string()),
            },
        }),
        throttle: key.clone(),
        policy: ThrottlePolicy::PASSWORD,
        writes: SignInWrites::default(),
        on_failure: None,
        on_locked: None,
    };
    assert_eq!(
        s.attempt_sign_in(&attempt, T0 + 5).await.unwrap(),
        AttemptOutcome::Stale
    );
    let closed = s.get_challenge(&u2.tenant_id, &c.id).await.unwrap().unwrap();
    assert!(closed.expires_at <= T0 + 5 && closed.completed_at.is_none());
    assert_eq!(
        s.throttle_attempt(&key, &ThrottlePolicy::PASSWORD, T0 + 6)
            .await
            .unwrap(),
        ThrottleDecision::Allowed { failures: 1 },
        "the stale attempt counted nothing"
    );
}

async fn a_first_factor_ends_other_sessions_and_enrollments(s: DynStore) {
    let u = user_in_new_tenant(&s).await;
    let old = new_session(&s, &u, "rt-old").await;
    let mine = new_session(&s, &u, "rt-mine").await;
    // Another session's pending enrollment, and one of this session's.
    let mut theirs = factor(&u, FactorKind::EmailOtp, FactorStatus::Pending);
    theirs.enrolled_by = Some(old.id.to_string());
    s.insert_factor(&theirs).await.unwrap();
    let mut own = factor(&u, FactorKind::Sms, FactorStatus::Pending);
    own.enrolled_by = Some(mine.id.to_string());
    s.insert_factor(&own).await.unwrap();
    let mut first = factor(&u, FactorKind::Totp, FactorStatus::Pending);
    first.enrolled_by = Some(mine.id.to_string());
    s.insert_factor(&first).await.unwrap();
    let rules = ActivationRules {
        only_without: None,
        keep_session: Some(mine.id.clone()),
        enrolled_by: Some(mine.id.to_string()),
    };
    let b = backup(&u, &["a"]);
    assert_eq!(
        s.activate_factor(&first.id, &Check::TotpStep(3), &b, &rules, T0 + 1)
            .await
            .unwrap(),
        ActivateOutcome::Activated {
            backup_installed: true
        }
    );
    assert!(!is_live(&s, &old.id).await);
    assert!(is_live(&s, &mine.id).await);
    assert_eq!(
        s.rotate_refresh_token("rt-old", "rt-old-2", T0 + 2)
            .await
            .unwrap(),
        RotateOutcome::Dead
    );
    assert_eq!(s.get_factor(&u.tenant_id, &theirs.id).await.unwrap(), None);
    assert!(s.get_factor(&u.tenant_id, &own.id).await.unwrap().is_some());
    // A second factor ends nothing.
    let later = new_session(&s, &u, "rt-later").await;
    s.activate_factor(&own.id, &Check::Preverified, &b, &rules, T0 + 3)
        .await
        .unwrap();
    assert!(is_live(&s, &later.id).await);
}

async fn factor_changes_end_every_session_but_the_callers(s: DynStore) {
    let (u, totp, bid) = enrolled(&s).await;
    let a = new_session(&s, &u, "rt-a").await;
    let b = new_session(&s, &u, "rt-b").await;
    let mut install = backup(&u, &["n1"]);
    install.factor.id = bid.clone();
    s.replace_backup_codes(&install, Some(&a.id), T0 + 1)
        .await
        .unwrap();
    assert!(is_live(&s, &a.id).await && !is_live(&s, &b.id).await);
    let c = new_session(&s, &u, "rt-c").await;
    // Deleting an unknown factor ends nothing.
    let unknown = FactorId::generate(T0, &OsRandom);
    assert!(!s
        .delete_factor(&u.tenant_id, &u.id, &unknown, None, T0 + 2)
        .await
        .unwrap());
    assert!(is_live(&s, &c.id).await);
    assert!(s
        .delete_factor(&u.tenant_id, &u.id, &totp.id, Some(&a.id), T0 + 3)
        .await
        .unwrap());
    assert!(is_live(&s, &a.id).await && !is_live(&s, &c.id).await);
    // A reset ends them all.
    s.reset_mfa(&u.tenant_id, &u.id, T0 + 4).await.unwrap();
    assert!(!is_live(&s, &a.id).await);
}

async fn narrowing_counts_users_to_reenroll(s: DynStore) {
    let (u, _, _) = enrolled(&s).await;
    let t = &u.tenant_id;
    // A second user of the tenant with an SMS factor; a third with only a pending one.
    let v = user(t, "bob@example.com");
    s.insert_user(&v).await.unwrap();
    let mut sms = factor(&v, FactorKind::Sms, FactorStatus::Pending);
    sms.secret_sealed = None;
    s.insert_factor(&sms).await.unwrap();
    s.activate_factor(
        &sms.id,
        &Check::Preverified,
        &backup(&v, &["x"]),
        &ActivationRules::default(),
        T0 + 1,
    )
    .await
    .unwrap();
    let w = user(t, "carol@example.com");
    s.insert_user(&w).await.unwrap();
    s.insert_factor(&factor(&w, FactorKind::Totp, FactorStatus::Pending))
        .await
        .unwrap();
    let count = |allowed: Vec<FactorKind>| {
        let s = s.clone();
        let t = t.clone();
        async move { s.count_users_to_reenroll(&t, &allowed).await.unwrap() }
    };
    use FactorKind::*;
    assert_eq!(count(vec![Totp, Sms, BackupCodes]).await, 0);
    assert_eq!(count(vec![Sms, BackupCodes]).await, 1);
    assert_eq!(count(vec![Totp]).await, 1);
    assert_eq!(count(vec![EmailOtp]).await, 2);
    assert_eq!(count(vec![BackupCodes]).await, 2);
    assert_eq!(count(vec![]).await, 2);
}
