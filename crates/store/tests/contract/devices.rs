//! Remembered devices: created with the verification that earns them, found only by their
//! user's token hash while live, and revoked with every standing sign-in of the user.

use super::*;

contract!(
    a_device_is_remembered_only_with_a_completed_verification,
    a_device_is_found_only_by_its_user_while_live,
    devices_go_with_every_standing_sign_in,
    a_backup_code_sign_in_forgets_the_devices,
    a_user_keeps_at_most_fifty_live_devices,
);

fn device(u: &User, hash: &str, now: UnixMillis) -> RememberedDevice {
    RememberedDevice {
        id: DeviceId::generate(now, &OsRandom),
        tenant_id: u.tenant_id.clone(),
        user_id: u.id.clone(),
        token_hash: hash.into(),
        name: Some("Firefox".into()),
        aal: "aal2".into(),
        created_ip: Some("203.0.113.9".into()),
        last_ip: None,
        created_at: now,
        last_used_at: None,
        expires_at: now + 30 * 86_400_000,
        revoked_at: None,
    }
}

/// Completes a fresh sign-in challenge of `u` with TOTP step `step` of `f`, remembering a
/// device with token hash `hash`; the outcome.
async fn remember(
    s: &DynStore,
    u: &User,
    f: &Factor,
    step: i64,
    hash: &str,
    now: UnixMillis,
) -> CompleteOutcome {
    let c = challenge(u, now + 300_000);
    s.insert_challenge(&c).await.unwrap();
    let writes = SignInWrites {
        device: Some((device(u, hash, now), event(u, "device.remembered", "success"))),
        ..SignInWrites::default()
    };
    let proof = Proof::TotpStep {
        factor_id: f.id.clone(),
        step,
    };
    s.complete_sign_in(&c.id, &proof, &writes, now).await.unwrap()
}

async fn a_device_is_remembered_only_with_a_completed_verification(s: DynStore) {
    let (u, f, _) = enrolled(&s).await;
    let t = &u.tenant_id;
    assert_eq!(
        remember(&s, &u, &f, 200, "h1", T0).await,
        CompleteOutcome::Completed {
            backup_installed: false
        }
    );
    // A replayed step: refused, and no device (nor its audit record) is written.
    assert_eq!(
        remember(&s, &u, &f, 200, "h2", T0 + 1).await,
        CompleteOutcome::ProofRejected
    );
    assert!(s
        .use_device(t, &u.id, "h2", None, T0 + 2)
        .await
        .unwrap()
        .is_none());
    let listed = s.list_devices(t, &u.id, T0 + 2).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].token_hash, "h1");
    let remembered: Vec<_> = s
        .list_audit(t, None, None, 10)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "device.remembered")
        .collect();
    assert_eq!(remembered.len(), 1);
}

async fn a_device_is_found_only_by_its_user_while_live(s: DynStore) {
    let (u, f, _) = enrolled(&s).await;
    let t = &u.tenant_id;
    remember(&s, &u, &f, 200, "h1", T0).await;
    let found = s
        .use_device(t, &u.id, "h1", Some("198.51.100.7"), T0 + 10)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.last_used_at, Some(T0 + 10));
    assert_eq!(found.last_ip.as_deref(), Some("198.51.100.7"));
    assert_eq!(found.created_ip.as_deref(), Some("203.0.113.9"));
    // Another user (same tenant or another) never finds it, whatever the hash.
    let other = user(t, "bob@example.com");
    s.insert_user(&other).await.unwrap();
    assert!(s
        .use_device(t, &other.id, "h1", None, T0 + 10)
        .await
        .unwrap()
        .is_none());
    let elsewhere = user_in_new_tenant(&s).await;
    assert!(s
        .use_device(&elsewhere.tenant_id, &u.id, "h1", None, T0 + 10)
        .await
        .unwrap()
        .is_none());
    // Expired: not found, not listed, not revocable.
    let expiry = found.expires_at;
    assert!(s
        .use_device(t, &u.id, "h1", None, expiry)
        .await
        .unwrap()
        .is_none());
    assert!(s.list_devices(t, &u.id, expiry).await.unwrap().is_empty());
    assert!(!s.revoke_device(t, &u.id, &found.id, expiry).await.unwrap());
    // Revoked: once.
    assert!(!s.revoke_device(t, &other.id, &found.id, T0 + 20).await.unwrap());
    assert!(s.revoke_device(t, &u.id, &found.id, T0 + 20).await.unwrap());
    assert!(!s.revoke_device(t, &u.id, &found.id, T0 + 21).await.unwrap());
    assert!(s
        .use_device(t, &u.id, "h1", None, T0 + 22)
        .await
        .unwrap()
        .is_none());
    // All at once.
    remember(&s, &u, &f, 201, "h2", T0 + 30).await;
    remember(&s, &u, &f, 202, "h3", T0 + 31).await;
    assert_eq!(s.list_devices(t, &u.id, T0 + 32).await.unwrap().len(), 2);
    assert_eq!(s.revoke_devices(t, &u.id, T0 + 33).await.unwrap(), 2);
    assert!(s.list_devices(t, &u.id, T0 + 34).await.unwrap().is_empty());
}

async fn devices_go_with_every_standing_sign_in(s: DynStore) {
    let (u, f, bid) = enrolled(&s).await;
    let t = &u.tenant_id;
    // A factor removed.
    let sms = sms_factor(&u, FactorStatus::Active);
    s.insert_factor(&sms).await.unwrap();
    remember(&s, &u, &f, 200, "h1", T0).await;
    assert!(s.delete_factor(t, &u.id, &sms.id, None, T0 + 1).await.unwrap());
    assert!(s
        .use_device(t, &u.id, "h1", None, T0 + 2)
        .await
        .unwrap()
        .is_none());
    // Backup codes replaced.
    remember(&s, &u, &f, 201, "h2", T0 + 3).await;
    let mut codes = backup(&u, &["n1", "n2"]);
    codes.factor.id = bid;
    s.replace_backup_codes(&codes, None, T0 + 4).await.unwrap();
    assert!(s
        .use_device(t, &u.id, "h2", None, T0 + 5)
        .await
        .unwrap()
        .is_none());
    // A factor added.
    remember(&s, &u, &f, 202, "h4", T0 + 5).await;
    let another = factor(&u, FactorKind::Totp, FactorStatus::Pending);
    s.insert_factor(&another).await.unwrap();
    assert_eq!(
        s.activate_factor(
            &another.id,
            &Check::TotpStep(7),
            &backup(&u, &[]),
            &ActivationRules::default(),
            T0 + 5
        )
        .await
        .unwrap(),
        ActivateOutcome::Activated {
            backup_installed: false
        }
    );
    assert!(s
        .use_device(t, &u.id, "h4", None, T0 + 5)
        .await
        .unwrap()
        .is_none());
    // An admin's MFA reset.
    remember(&s, &u, &f, 203, "h3", T0 + 6).await;
    s.reset_mfa(t, &u.id, T0 + 7).await.unwrap();
    assert!(s
        .use_device(t, &u.id, "h3", None, T0 + 8)
        .await
        .unwrap()
        .is_none());
}

async fn a_backup_code_sign_in_forgets_the_devices(s: DynStore) {
    let (u, f, bid) = enrolled(&s).await;
    let t = &u.tenant_id;
    remember(&s, &u, &f, 200, "h1", T0).await;
    // Another user's device stays.
    let (v, vf, _) = enrolled(&s).await;
    remember(&s, &v, &vf, 200, "v1", T0).await;
    let c = challenge(&u, T0 + 300_000);
    s.insert_challenge(&c).await.unwrap();
    let proof = Proof::BackupCode {
        factor_id: bid,
        code_hash: "c3".into(),
    };
    assert!(matches!(
        s.complete_sign_in(&c.id, &proof, &SignInWrites::default(), T0 + 1)
            .await
            .unwrap(),
        CompleteOutcome::Completed { .. }
    ));
    assert!(s
        .use_device(t, &u.id, "h1", None, T0 + 2)
        .await
        .unwrap()
        .is_none());
    assert!(s
        .use_device(&v.tenant_id, &v.id, "v1", None, T0 + 2)
        .await
        .unwrap()
        .is_some());
}

async fn a_user_keeps_at_most_fifty_live_devices(s: DynStore) {
    let (u, f, _) = enrolled(&s).await;
    let t = &u.tenant_id;
    for i in 0..51 {
        remember(&s, &u, &f, 200 + i, &format!("h{i}"), T0 + i).await;
    }
    let live = s.list_devices(t, &u.id, T0 + 100).await.unwrap();
    assert_eq!(live.len(), 50);
    // The oldest went; the newest is first.
    assert!(s
        .use_device(t, &u.id, "h0", None, T0 + 100)
        .await
        .unwrap()
        .is_none());
    assert_eq!(live[0].token_hash, "h50");
}
