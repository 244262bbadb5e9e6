//! Challenges: completion by each kind of proof, once, and throttled attempts.

use super::*;

contract!(
    parallel_totp_step_is_accepted_once,
    parallel_backup_code_is_accepted_once,
    a_challenge_completes_once,
    failed_proof_leaves_the_challenge_open,
    sign_in_writes_commit_only_with_the_challenge,
    attempts_lock_count_and_complete_in_one_transaction,
    parallel_attempts_evaluate_at_most_the_free_ones,
    challenge_state_round_trips_and_reseals,
);

async fn parallel_totp_step_is_accepted_once(s: DynStore) {
    let (u, f, _) = enrolled(&s).await;
    let mut ids = Vec::new();
    for _ in 0..50 {
        let c = challenge(&u, T0 + 300_000);
        s.insert_challenge(&c).await.unwrap();
        ids.push(c.id);
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(ids.len()));
    let tasks: Vec<_> = ids
        .into_iter()
        .map(|id| {
            let (s, barrier, fid) = (s.clone(), barrier.clone(), f.id.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                s.complete_challenge(
                    &id,
                    &Proof::TotpStep {
                        factor_id: fid,
                        step: 101,
                    },
                    T0 + 1,
                )
                .await
                .unwrap()
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            CompleteOutcome::Completed { .. } => ok += 1,
            CompleteOutcome::ProofRejected => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(ok, 1);
    // An older step never works again.
    let c = challenge(&u, T0 + 300_000);
    s.insert_challenge(&c).await.unwrap();
    let old = Proof::TotpStep {
        factor_id: f.id.clone(),
        step: 100,
    };
    assert_eq!(
        s.complete_challenge(&c.id, &old, T0 + 2).await.unwrap(),
        CompleteOutcome::ProofRejected
    );
}

async fn parallel_backup_code_is_accepted_once(s: DynStore) {
    let (u, _, bid) = enrolled(&s).await;
    let mut ids = Vec::new();
    for _ in 0..30 {
        let c = challenge(&u, T0 + 300_000);
        s.insert_challenge(&c).await.unwrap();
        ids.push(c.id);
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(ids.len()));
    let tasks: Vec<_> = ids
        .into_iter()
        .enumerate()
        .map(|(i, id)| {
            let (s, barrier, bid) = (s.clone(), barrier.clone(), bid.clone());
            // Twenty-eight race for c3; two use c4 and c5.
            let code = match i {
                0 => "c4",
                1 => "c5",
                _ => "c3",
            };
            tokio::spawn(async move {
                barrier.wait().await;
                let proof = Proof::BackupCode {
                    factor_id: bid,
                    code_hash: code.into(),
                };
                (code, s.complete_challenge(&id, &proof, T0 + 1).await.unwrap())
            })
        })
        .collect();
    let mut wins = std::collections::HashMap::new();
    for t in tasks {
        let (code, outcome) = t.await.unwrap();
        if let CompleteOutcome::Completed { .. } = outcome {
            *wins.entry(code).or_insert(0) += 1;
        }
    }
    assert_eq!(wins.get("c3"), Some(&1));
    assert_eq!(wins.get("c4"), Some(&1));
    assert_eq!(wins.get("c5"), Some(&1));
    assert_eq!(s.unused_backup_codes(&bid).await.unwrap(), 7);
}

async fn a_challenge_completes_once(s: DynStore) {
    let (u, _, bid) = enrolled(&s).await;
    let c = challenge(&u, T0 + 300_000);
    s.insert_challenge(&c).await.unwrap();
    assert!(s.choose_factor(&c.id, &bid, T0).await.unwrap());
    assert_eq!(
        s.get_challenge(&u.tenant_id, &c.id)
            .await
            .unwrap()
            .unwrap()
            .factor_id,
        Some(bid.clone())
    );
    let barrier = Arc::new(tokio::sync::Barrier::new(10));
    let tasks: Vec<_> = (1..=10)
        .map(|i| {
            let (s, barrier, bid, id) = (s.clone(), barrier.clone(), bid.clone(), c.id.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let proof = Proof::BackupCode {
                    factor_id: bid,
                    code_hash: format!("c{i}"),
                };
                s.complete_challenge(&id, &proof, T0 + 1).await.unwrap()
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        if let CompleteOutcome::Completed { .. } = t.await.unwrap() {
            ok += 1;
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(
        s.unused_backup_codes(&bid).await.unwrap(),
        9,
        "losers consumed nothing"
    );
    assert!(
        !s.choose_factor(&c.id, &bid, T0 + 2).await.unwrap(),
        "completed challenges are closed"
    );
    // Other tenants cannot see it.
    let other = tenant("other");
    s.insert_tenant(&other).await.unwrap();
    assert_eq!(s.get_challenge(&other.id, &c.id).await.unwrap(), None);
}

async fn failed_proof_leaves_the_challenge_open(s: DynStore) {
    let (u, _, bid) = enrolled(&s).await;
    let c = challenge(&u, T0 + 300_000);
    s.insert_challenge(&c).await.unwrap();
    let wrong = Proof::BackupCode {
        factor_id: bid.clone(),
        code_hash: "nope".into(),
    };
    assert_eq!(
        s.complete_challenge(&c.id, &wrong, T0 + 1).await.unwrap(),
        CompleteOutcome::ProofRejected
    );
    let right = Proof::BackupCode {
        factor_id: bid.clone(),
        code_hash: "c1".into(),
    };
    assert_eq!(
        s.complete_challenge(&c.id, &right, T0 + 2).await.unwrap(),
        CompleteOutcome::Completed {
            backup_installed: false
        }
    );
    let again = Proof::BackupCode {
        factor_id: bid.clone(),
        code_hash: "c2".into(),
    };
    assert_eq!(
        s.complete_challenge(&c.id, &again, T0 + 3).await.unwrap(),
        CompleteOutcome::ChallengeGone
    );
    // Expired challenges are gone too.
    let late = challenge(&u, T0 + 10);
    s.insert_challenge(&late).await.unwrap();
    assert_eq!(
        s.complete_challenge(&late.id, &again, T0 + 10).await.unwrap(),
        CompleteOutcome::ChallengeGone
    );
    assert_eq!(s.unused_backup_codes(&bid).await.unwrap(), 9);
}

async fn sign_in_writes_commit_only_with_the_challenge(s: DynStore) {
    let (u, _, bid) = enrolled(&s).await;
    let key = factor_key(&u, &bid);
    let p = ThrottlePolicy::PASSWORD;
    for _ in 0..3 {
        s.throttle_attempt(&key, &p, T0).await.unwrap();
    }
    let c = challenge(&u, T0 + 300_000);
    s.insert_challenge(&c).await.unwrap();
    let ses = session(&u, T0 + 1_000_000);
    let writes = SignInWrites {
        clear_throttle: Some(key.clone()),
        audit: Some(AuditEvent {
            id: format!("evt_{}", ulid(T0)),
            tenant_id: u.tenant_id.clone(),
            user_id: Some(u.id.clone()),
            actor: "system".into(),
            action: "mfa.verify".into(),
            factor_id: Some(bid.clone()),
            outcome: "success".into(),
            ip: None,
            detail: None,
            created_at: T0,
            fan_out: true,
        }),
        session: Some((ses.clone(), "rt-hash".into())),
        device: None,
    };
    // A wrong proof: none of the writes happen.
    let wrong = Proof::BackupCode {
        factor_id: bid.clone(),
        code_hash: "nope".into(),
    };
    assert_eq!(
        s.complete_sign_in(&c.id, &wrong, &writes, T0 + 1).await.unwrap(),
        CompleteOutcome::ProofRejected
    );
    assert_eq!(s.get_session(&ses.id).await.unwrap(), None);
    assert!(s
        .list_audit(&u.tenant_id, None, None, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        s.throttle_attempt(&key, &p, T0).await.unwrap(),
        ThrottleDecision::Allowed { failures: 4 }
    );
    // The right one: all of them, with the challenge.
    let right = Proof::BackupCode {
        factor_id: bid.clone(),
        code_hash: "c1".into(),
    };
    assert_eq!(
        s.complete_sign_in(&c.id, &right, &writes, T0 + 2).await.unwrap(),
        CompleteOutcome::Completed {
            backup_installed: false
        }
    );
    assert_eq!(s.get_session(&ses.id).await.unwrap(), Some(ses.clone()));
    assert_eq!(s.list_audit(&u.tenant_id, None, None, 10).await.unwrap().len(), 1);
    assert_eq!(
        s.throttle_attempt(&key, &p, T0).await.unwrap(),
        ThrottleDecision::Allowed { failures: 1 }
    );
    assert_eq!(
        s.rotate_refresh_token("rt-hash", "rt-next", T0 + 3)
            .await
            .unwrap(),
        RotateOutcome::Rotated(Box::new(ses))
    );
}

async fn attempts_lock_count_and_complete_in_one_transaction(s: DynStore) {
    let (u, totp, _) = enrolled(&s).await;
    let key = factor_key(&u, &totp.id);
    let c = challenge(&u, T0 + 300_000);
    s.insert_challenge(&c).await.unwrap();
    let right = Proof::TotpStep {
        factor_id: totp.id.clone(),
        step: 200,
    };
    // Four refused codes: counted, audited, the challenge stays open.
    for _ in 0..4 {
        assert_eq!(
            s.attempt_sign_in(&attempt(&u, &c, &key, None, None), T0)
                .await
                .unwrap(),
            AttemptOutcome::Rejected
        );
    }
    // A replayed step is refused by the store and counted: the fifth failure starts a delay.
    let replay = Proof::TotpStep {
        factor_id: totp.id.clone(),
        step: 100,
    };
    assert_eq!(
        s.attempt_sign_in(&attempt(&u, &c, &key, Some(replay), None), T0)
            .await
            .unwrap(),
        AttemptOutcome::Rejected
    );
    assert_eq!(outcomes(&s, &u).await, vec!["mfa.verify:failure"; 5]);
    // Locked: even the right code is not tried, and nothing but the audit record is written.
    let ses = session(&u, T0 + 1_000_000);
    assert_eq!(
        s.attempt_sign_in(&attempt(&u, &c, &key, Some(right.clone()), Some(&ses)), T0 + 500)
            .await
            .unwrap(),
        AttemptOutcome::Locked { retry_after_secs: 1 }
    );
    assert_eq!(s.get_session(&ses.id).await.unwrap(), None);
    assert!(s
        .get_challenge(&u.tenant_id, &c.id)
        .await
        .unwrap()
        .unwrap()
        .completed_at
        .is_none());
    assert_eq!(last_step(&s, &totp).await, Some(100));
    // After the delay the right code completes it all at once and forgets the failures.
    assert_eq!(
        s.attempt_sign_in(&attempt(&u, &c, &key, Some(right.clone()), Some(&ses)), T0 + 1000)
            .await
            .unwrap(),
        AttemptOutcome::Completed {
            backup_installed: false
        }
    );
    assert_eq!(s.get_session(&ses.id).await.unwrap(), Some(ses.clone()));
    assert_eq!(last_step(&s, &totp).await, Some(200));
    let mut want = vec!["mfa.attempt:locked", "mfa.verify:success"];
    want.extend(["mfa.verify:failure"; 5]);
    want.sort();
    assert_eq!(outcomes(&s, &u).await, want);
    assert_eq!(
        s.throttle_attempt(&key, &ThrottlePolicy::PASSWORD, T0 + 1000)
            .await
            .unwrap(),
        ThrottleDecision::Allowed { failures: 1 }
    );
    // The completed challenge is gone for a second attempt, which counts as a failure.
    let again = Proof::TotpStep {
        factor_id: totp.id.clone(),
        step: 201,
    };
    assert_eq!(
        s.attempt_sign_in(&attempt(&u, &c, &key, Some(again), None), T0 + 1000)
            .await
            .unwrap(),
        AttemptOutcome::ChallengeGone
    );
    assert_eq!(
        s.throttle_attempt(&key, &ThrottlePolicy::PASSWORD, T0 + 1000)
            .await
            .unwrap(),
        ThrottleDecision::Allowed { failures: 3 }
    );
    assert_eq!(last_step(&s, &totp).await, Some(200));
}

async fn parallel_attempts_evaluate_at_most_the_free_ones(s: DynStore) {
    let (u, totp, _) = enrolled(&s).await;
    let key = factor_key(&u, &totp.id);
    let c = challenge(&u, T0 + 300_000);
    s.insert_challenge(&c).await.unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(60));
    let tasks: Vec<_> = (0..60)
        .map(|i| {
            let (s, a, barrier) = (s.clone(), attempt(&u, &c, &key, None, None), barrier.clone());
            // One of them carries the right code; it succeeds only if it is decided before
            // the free attempts run out.
            let a = if i == 59 {
                SignInAttempt {
                    proof: Some(Proof::TotpStep {
                        factor_id: totp.id.clone(),
                        step: 300,
                    }),
                    ..a
                }
            } else {
                a
            };
            tokio::spawn(async move {
                barrier.wait().await;
                s.attempt_sign_in(&a, T0).await.unwrap()
            })
        })
        .collect();
    let (mut tried, mut locked) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            AttemptOutcome::Locked { .. } => locked += 1,
            _ => tried += 1,
        }
    }
    // A success forgets the failures before it, so the bound is the free attempts on
    // either side of it; without a success, exactly the free attempts.
    let completed = s
        .get_challenge(&u.tenant_id, &c.id)
        .await
        .unwrap()
        .unwrap()
        .completed_at
        .is_some();
    let bound = ThrottlePolicy::PASSWORD.free_attempts as usize * if completed { 2 } else { 1 };
    assert!(tried <= bound, "{tried} attempts were evaluated (bound {bound})");
    assert_eq!(tried + locked, 60);
}

async fn challenge_state_round_trips_and_reseals(s: DynStore) {
    let u = user_in_new_tenant(&s).await;
    let plain = challenge(&u, T0 + 60_000);
    let mut with_state = challenge(&u, T0 + 60_000);
    with_state.state_sealed = Some("lk1.k.state".into());
    s.insert_challenge(&plain).await.unwrap();
    s.insert_challenge(&with_state).await.unwrap();
    let read = |c: &Challenge| (c.tenant_id.clone(), c.id.clone());
    let (t, id) = read(&with_state);
    assert_eq!(s.get_challenge(&t, &id).await.unwrap(), Some(with_state.clone()));
    let (t, id) = read(&plain);
    assert_eq!(s.get_challenge(&t, &id).await.unwrap(), Some(plain.clone()));

    // Rotation sees only the rows that hold a state, and swaps it only if unchanged.
    let listed = s.list_sealed(SealedColumn::ChallengeState).await.unwrap();
    assert_eq!(
        listed,
        vec![(with_state.id.to_string(), "lk1.k.state".to_string())]
    );
    let row = with_state.id.as_str();
    assert!(s
        .replace_sealed(SealedColumn::ChallengeState, row, "lk1.k.state", "lk2.k.state")
        .await
        .unwrap());
    assert!(!s
        .replace_sealed(SealedColumn::ChallengeState, row, "lk1.k.state", "lk3.k.state")
        .await
        .unwrap());
    let after = s
        .get_challenge(&with_state.tenant_id, &with_state.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.state_sealed.as_deref(), Some("lk2.k.state"));
    assert_eq!(
        SealedColumn::ChallengeState.aad(row),
        latchkey_core::seal::aad("challenges", "state_sealed", row)
    );
}
