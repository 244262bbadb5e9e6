//! WebAuthn: a credential is registered once (also when two registrations race), its counter
//! only moves forward and a regression flags it, ceremony state is taken once.

use super::*;

contract!(
    a_credential_is_registered_once_even_in_a_race,
    the_counter_moves_forward_and_a_regression_flags,
    ceremony_state_is_taken_once,
);

fn registration(f: &Factor, credential_id: &str) -> Check {
    Check::WebauthnRegistration {
        state_sealed: f.secret_sealed.clone().unwrap(),
        credential_sealed: format!("sealed-credential-of-{}", f.id),
        credential: Box::new(WebauthnCredential {
            factor_id: f.id.clone(),
            tenant_id: f.tenant_id.clone(),
            user_id: f.user_id.clone(),
            credential_id: credential_id.into(),
            sign_count: 0,
            backup_eligible: false,
            backup_state: false,
            user_verified: true,
            aaguid: None,
            transports: Some("[\"usb\"]".into()),
            clone_suspected_at: None,
        }),
    }
}

/// A pending WebAuthn factor of a new user, holding its registration state.
async fn pending_key(s: &DynStore) -> Factor {
    let u = user_in_new_tenant(s).await;
    let f = Factor {
        secret_sealed: Some(format!("state-{}", ulid(T0))),
        ..factor(&u, FactorKind::Webauthn, FactorStatus::Pending)
    };
    s.insert_factor(&f).await.unwrap();
    f
}

async fn a_credential_is_registered_once_even_in_a_race(s: DynStore) {
    let b = |f: &Factor| BackupInstall {
        factor: Factor {
            kind: FactorKind::BackupCodes,
            status: FactorStatus::Active,
            ..f.clone()
        },
        code_hashes: Vec::new(),
    };
    // In sequence: the second registration of one id is refused, nothing of it kept.
    let (a, c) = (pending_key(&s).await, pending_key(&s).await);
    let id = format!("cred-{}", ulid(T0));
    let outcome = |f: &Factor, id: &str| {
        let (s, f, id) = (s.clone(), f.clone(), id.to_owned());
        async move {
            let mut backup = b(&f);
            backup.factor.id = FactorId::generate(T0, &OsRandom);
            s.activate_factor(
                &f.id,
                &registration(&f, &id),
                &backup,
                &ActivationRules::default(),
                T0 + 1,
            )
            .await
        }
    };
    assert!(matches!(
        outcome(&a, &id).await.unwrap(),
        ActivateOutcome::Activated { .. }
    ));
    assert_eq!(outcome(&c, &id).await.unwrap(), ActivateOutcome::CredentialTaken);
    assert_eq!(
        s.get_factor(&c.tenant_id, &c.id).await.unwrap().unwrap().status,
        FactorStatus::Pending
    );
    // A state that is not the factor's (used, or another ceremony's) registers nothing.
    let mut stale = registration(&c, "another-id");
    if let Check::WebauthnRegistration { state_sealed, .. } = &mut stale {
        *state_sealed = "another-state".into();
    }
    let mut backup = b(&c);
    backup.factor.id = FactorId::generate(T0, &OsRandom);
    assert_eq!(
        s.activate_factor(&c.id, &stale, &backup, &ActivationRules::default(), T0 + 1)
            .await
            .unwrap(),
        ActivateOutcome::NotPending
    );
    // At once: one registers, the other is refused, never an error.
    for round in 0..5 {
        let (x, y) = (pending_key(&s).await, pending_key(&s).await);
        let id = format!("race-{round}-{}", ulid(T0));
        let (rx, ry) = tokio::join!(outcome(&x, &id), outcome(&y, &id));
        let mut got = [rx.unwrap(), ry.unwrap()];
        got.sort_by_key(|o| matches!(o, ActivateOutcome::CredentialTaken));
        assert!(matches!(got[0], ActivateOutcome::Activated { .. }), "{got:?}");
        assert_eq!(got[1], ActivateOutcome::CredentialTaken, "{got:?}");
    }
}

async fn the_counter_moves_forward_and_a_regression_flags(s: DynStore) {
    let f = pending_key(&s).await;
    let mut backup = BackupInstall {
        factor: Factor {
            id: FactorId::generate(T0, &OsRandom),
            kind: FactorKind::BackupCodes,
            status: FactorStatus::Active,
            ..f.clone()
        },
        code_hashes: Vec::new(),
    };
    backup.factor.secret_sealed = None;
    let id = format!("cred-{}", ulid(T0));
    let outcome = s
        .activate_factor(
            &f.id,
            &registration(&f, &id),
            &backup,
            &ActivationRules::default(),
            T0 + 1,
        )
        .await
        .unwrap();
    assert!(matches!(outcome, ActivateOutcome::Activated { .. }));
    let stored = s
        .find_webauthn_credential(&f.tenant_id, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (stored.sign_count, stored.transports.as_deref()),
        (0, Some("[\"usb\"]"))
    );
    assert_eq!(
        s.get_factor(&f.tenant_id, &f.id)
            .await
            .unwrap()
            .unwrap()
            .secret_sealed,
        Some(format!("sealed-credential-of-{}", f.id)),
        "the state is replaced by the credential"
    );
    // Another tenant does not see it.
    let other = tenant("other");
    s.insert_tenant(&other).await.unwrap();
    assert_eq!(s.find_webauthn_credential(&other.id, &id).await.unwrap(), None);
    assert!(s
        .advance_webauthn_counter(&f.id, 10, false, T0 + 2)
        .await
        .unwrap());
    assert!(
        !s.advance_webauthn_counter(&f.id, 10, false, T0 + 3)
            .await
            .unwrap(),
        "equal is a regression"
    );
    let flagged = s
        .find_webauthn_credential(&f.tenant_id, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (flagged.sign_count, flagged.clone_suspected_at),
        (10, Some(T0 + 3))
    );
    assert!(
        !s.advance_webauthn_counter(&f.id, 11, false, T0 + 4)
            .await
            .unwrap(),
        "flagged: refused"
    );
    // Concurrent advances to one value: one wins.
    let g = pending_key(&s).await;
    backup.factor.id = FactorId::generate(T0, &OsRandom);
    backup.factor.user_id = g.user_id.clone();
    backup.factor.tenant_id = g.tenant_id.clone();
    let gid = format!("cred-{}", ulid(T0));
    s.activate_factor(
        &g.id,
        &registration(&g, &gid),
        &backup,
        &ActivationRules::default(),
        T0 + 1,
    )
    .await
    .unwrap();
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let (s, id) = (s.clone(), g.id.clone());
            tokio::spawn(async move { s.advance_webauthn_counter(&id, 7, true, T0 + 5).await.unwrap() })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        won += usize::from(t.await.unwrap());
    }
    assert_eq!(won, 1);
    // Deleting the factor deletes its credential.
    assert!(s
        .delete_factor(&g.tenant_id, &g.user_id, &g.id, None, T0 + 6)
        .await
        .unwrap());
    assert_eq!(
        s.find_webauthn_credential(&g.tenant_id, &gid).await.unwrap(),
        None
    );
}

async fn ceremony_state_is_taken_once(s: DynStore) {
    let t = tenant("t");
    s.insert_tenant(&t).await.unwrap();
    s.insert_passkey_ceremony(&t.id, "hash-a", "state-a", T0, T0 + 300_000)
        .await
        .unwrap();
    s.insert_passkey_ceremony(&t.id, "hash-old", "state-old", T0, T0 + 10)
        .await
        .unwrap();
    assert_eq!(
        s.take_passkey_ceremony(&t.id, "hash-old", T0 + 11).await.unwrap(),
        None,
        "expired"
    );
    let other = tenant("other");
    s.insert_tenant(&other).await.unwrap();
    assert_eq!(
        s.take_passkey_ceremony(&other.id, "hash-a", T0 + 1)
            .await
            .unwrap(),
        None,
        "another tenant"
    );
    let (x, y) = tokio::join!(
        s.take_passkey_ceremony(&t.id, "hash-a", T0 + 1),
        s.take_passkey_ceremony(&t.id, "hash-a", T0 + 1)
    );
    let got: Vec<_> = [x.unwrap(), y.unwrap()].into_iter().flatten().collect();
    assert_eq!(got, vec!["state-a".to_string()], "taken once");
}
