//! Users, concurrent writes kept apart, and bulk seeding.

use super::*;

contract!(
    users_are_unique_per_tenant_and_scoped,
    a_group_commit_keeps_each_write_apart,
    seeding_loads_rows_as_given,
    a_preferred_factor_is_an_active_factor_of_the_user,
);

async fn users_are_unique_per_tenant_and_scoped(s: DynStore) {
    let (a, b) = (tenant("a"), tenant("b"));
    s.insert_tenant(&a).await.unwrap();
    s.insert_tenant(&b).await.unwrap();
    let u = user(&a.id, "alice@example.com");
    s.insert_user(&u).await.unwrap();
    assert!(matches!(
        s.insert_user(&user(&a.id, "ALICE@example.com")).await,
        Err(StoreError::Conflict)
    ));
    s.insert_user(&user(&b.id, "alice@example.com")).await.unwrap();
    assert_eq!(s.get_user(&a.id, &u.id).await.unwrap(), Some(u.clone()));
    assert_eq!(
        s.get_user(&b.id, &u.id).await.unwrap(),
        None,
        "no cross-tenant reads"
    );
    assert_eq!(
        s.find_user_by_email(&a.id, "alice@example.com").await.unwrap(),
        Some(u.clone())
    );
    assert_eq!(
        s.find_user_by_email(&a.id, "bob@example.com").await.unwrap(),
        None
    );
    for i in 0..4 {
        s.insert_user(&user(&a.id, &format!("u{i}@example.com")))
            .await
            .unwrap();
    }
    let page1 = s.list_users(&a.id, None, 3).await.unwrap();
    assert_eq!(page1.len(), 3);
    let page2 = s.list_users(&a.id, Some(&page1[2].id), 3).await.unwrap();
    assert_eq!(page2.len(), 2);
    assert!(page1.iter().all(|u| u.tenant_id == a.id));
}

async fn a_group_commit_keeps_each_write_apart(s: DynStore) {
    // Many writes at once (SQLite commits them together): one that fails must not take the
    // others with it, and each sees the writes decided before it.
    let t = tenant("t");
    s.insert_tenant(&t).await.unwrap();
    let taken = user(&t.id, "taken@example.com");
    s.insert_user(&taken).await.unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(40));
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let (s, barrier) = (s.clone(), barrier.clone());
            let u = if i % 4 == 0 {
                User {
                    id: UserId::generate(T0, &OsRandom),
                    ..taken.clone()
                }
            } else {
                user(&t.id, &format!("u{i}@example.com"))
            };
            tokio::spawn(async move {
                barrier.wait().await;
                (u.clone(), s.insert_user(&u).await)
            })
        })
        .collect();
    for task in tasks {
        let (u, result) = task.await.unwrap();
        if u.email == taken.email {
            assert!(matches!(result, Err(StoreError::Conflict)));
            assert_eq!(s.get_user(&t.id, &u.id).await.unwrap(), None);
        } else {
            result.unwrap();
            assert_eq!(s.get_user(&t.id, &u.id).await.unwrap(), Some(u));
        }
    }
}

async fn seeding_loads_rows_as_given(s: DynStore) {
    let t = tenant("t");
    s.insert_tenant(&t).await.unwrap();
    let before = s.database_bytes().await.unwrap();
    let users: Vec<User> = (0..25)
        .map(|i| User {
            phone_sealed: (i % 2 == 0).then(|| format!("+4420794601{i:02}")),
            phone_hash: None,
            ..user(&t.id, &format!("s{i}@example.com"))
        })
        .collect();
    let factors: Vec<Factor> = users
        .iter()
        .map(|u| Factor {
            secret_sealed: Some(format!("lk1.k.{}", u.id)),
            last_step: None,
            ..factor(u, FactorKind::Totp, FactorStatus::Active)
        })
        .collect();
    let challenges: Vec<Challenge> = users
        .iter()
        .enumerate()
        .map(|(i, u)| Challenge {
            state_sealed: (i % 2 == 0).then(|| format!("lk1.k.state{i}")),
            ..challenge(u, T0 + 60_000)
        })
        .collect();
    s.seed(&users, &factors, &challenges).await.unwrap();
    for ((u, f), c) in users.iter().zip(&factors).zip(&challenges) {
        assert_eq!(s.get_user(&t.id, &u.id).await.unwrap().as_ref(), Some(u));
        assert_eq!(s.get_factor(&t.id, &f.id).await.unwrap().as_ref(), Some(f));
        assert_eq!(s.get_challenge(&t.id, &c.id).await.unwrap().as_ref(), Some(c));
    }
    assert!(s.database_bytes().await.unwrap() >= before);
    // A duplicate email is refused like any insert.
    let again = User {
        id: UserId::generate(T0, &OsRandom),
        ..users[0].clone()
    };
    assert!(matches!(
        s.seed(&[again], &[], &[]).await,
        Err(StoreError::Conflict)
    ));
}

async fn a_preferred_factor_is_an_active_factor_of_the_user(s: DynStore) {
    let u = user_in_new_tenant(&s).await;
    let other = user_in_new_tenant(&s).await;
    assert_eq!(s.preferred_factor(&u.tenant_id, &u.id).await.unwrap(), None);
    let active = factor(&u, FactorKind::Totp, FactorStatus::Active);
    let pending = factor(&u, FactorKind::Sms, FactorStatus::Pending);
    let theirs = factor(&other, FactorKind::Totp, FactorStatus::Active);
    for f in [&active, &pending, &theirs] {
        s.insert_factor(f).await.unwrap();
    }
    // Neither a pending factor nor another user's (or another tenant's) can be preferred.
    assert!(!s
        .set_preferred_factor(&u.tenant_id, &u.id, &pending.id, 5)
        .await
        .unwrap());
    assert!(!s
        .set_preferred_factor(&u.tenant_id, &u.id, &theirs.id, 5)
        .await
        .unwrap());
    assert!(!s
        .set_preferred_factor(&other.tenant_id, &u.id, &active.id, 5)
        .await
        .unwrap());
    assert_eq!(s.preferred_factor(&u.tenant_id, &u.id).await.unwrap(), None);
    assert!(s
        .set_preferred_factor(&u.tenant_id, &u.id, &active.id, 5)
        .await
        .unwrap());
    assert_eq!(
        s.preferred_factor(&u.tenant_id, &u.id).await.unwrap(),
        Some(active.id.clone())
    );
    assert_eq!(
        s.preferred_factor(&other.tenant_id, &u.id).await.unwrap(),
        None,
        "scoped to the tenant"
    );
    // A removed factor is no preference.
    assert!(s
        .delete_factor(&u.tenant_id, &u.id, &active.id, None, 6)
        .await
        .unwrap());
    assert_eq!(s.preferred_factor(&u.tenant_id, &u.id).await.unwrap(), None);
}
