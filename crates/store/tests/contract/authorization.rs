//! Authorization codes: single use, bound, and a replay revokes what the first use issued.

use super::*;

contract!(
    a_code_is_redeemed_once_and_a_replay_revokes_its_session,
    an_expired_code_issues_nothing,
    parallel_redemptions_issue_one_session,
    a_burnt_code_cannot_be_redeemed,
    signing_out_a_browser_session_ends_the_sessions_issued_from_it,
    deleting_an_application_ends_its_sessions,
);

/// A browser session and a code issued from it.
async fn code_for(s: &DynStore, hash: &str, expires_at: UnixMillis) -> (User, Session, AuthorizationCode) {
    let u = user_in_new_tenant(s).await;
    let browser = session(&u, T0 + 1_000_000);
    s.create_session(&browser, &format!("browser-{hash}"))
        .await
        .unwrap();
    let code = AuthorizationCode {
        code_hash: hash.into(),
        tenant_id: u.tenant_id.clone(),
        client_id: ApplicationId::generate(T0, &OsRandom),
        session_id: browser.id.clone(),
        redirect_uri: "https://app.example/cb".into(),
        scope: "openid email".into(),
        nonce: Some("n-0S6_WzA2Mj".into()),
        code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
        created_at: T0,
        expires_at,
        consumed_at: None,
    };
    s.insert_authorization_code(&code).await.unwrap();
    (u, browser, code)
}

/// The session a redemption issues to the application.
fn issued(u: &User, code: &AuthorizationCode, browser: &Session) -> Session {
    Session {
        client_id: Some(code.client_id.clone()),
        parent_id: Some(browser.id.clone()),
        scope: Some(code.scope.clone()),
        ..session(u, T0 + 1_000_000)
    }
}

async fn a_code_is_redeemed_once_and_a_replay_revokes_its_session(s: DynStore) {
    let (u, browser, code) = code_for(&s, "c1", T0 + 60_000).await;
    assert_eq!(s.get_authorization_code("c1").await.unwrap(), Some(code.clone()));
    assert_eq!(s.get_authorization_code("nope").await.unwrap(), None);
    let first = issued(&u, &code, &browser);
    assert_eq!(
        s.redeem_authorization_code("c1", &first, "rt-first", T0 + 1)
            .await
            .unwrap(),
        RedeemOutcome::Redeemed
    );
    let stored = s.get_session(&first.id).await.unwrap().unwrap();
    assert_eq!(
        stored, first,
        "the issued session keeps its client, parent and scope"
    );
    assert!(s
        .get_authorization_code("c1")
        .await
        .unwrap()
        .unwrap()
        .consumed_at
        .is_some());
    // The second redemption issues nothing and revokes what the first issued.
    let second = issued(&u, &code, &browser);
    assert_eq!(
        s.redeem_authorization_code("c1", &second, "rt-second", T0 + 2)
            .await
            .unwrap(),
        RedeemOutcome::Replayed
    );
    assert_eq!(s.get_session(&second.id).await.unwrap(), None);
    assert!(s
        .get_session(&first.id)
        .await
        .unwrap()
        .unwrap()
        .revoked_at
        .is_some());
    assert_eq!(
        s.rotate_refresh_token("rt-first", "rt-next", T0 + 3)
            .await
            .unwrap(),
        RotateOutcome::Dead
    );
    // The browser session is the user's, not the application's: it stays.
    assert!(s
        .get_session(&browser.id)
        .await
        .unwrap()
        .unwrap()
        .revoked_at
        .is_none());
    assert_eq!(
        s.redeem_authorization_code("unknown", &second, "rt-x", T0 + 4)
            .await
            .unwrap(),
        RedeemOutcome::Unknown
    );
}

async fn an_expired_code_issues_nothing(s: DynStore) {
    let (u, browser, code) = code_for(&s, "c2", T0 + 60_000).await;
    let late = issued(&u, &code, &browser);
    assert_eq!(
        s.redeem_authorization_code("c2", &late, "rt-late", T0 + 60_000)
            .await
            .unwrap(),
        RedeemOutcome::Expired
    );
    assert_eq!(s.get_session(&late.id).await.unwrap(), None);
    // Spent: a replay after expiry revokes nothing (nothing was issued) and issues nothing.
    let again = issued(&u, &code, &browser);
    assert_eq!(
        s.redeem_authorization_code("c2", &again, "rt-again", T0 + 1)
            .await
            .unwrap(),
        RedeemOutcome::Replayed
    );
    assert_eq!(s.get_session(&again.id).await.unwrap(), None);
}

async fn parallel_redemptions_issue_one_session(s: DynStore) {
    let (u, browser, code) = code_for(&s, "c3", T0 + 60_000).await;
    let tries: Vec<_> = (0..8)
        .map(|i| {
            let (s, ses) = (s.clone(), issued(&u, &code, &browser));
            tokio::spawn(async move {
                let out = s
                    .redeem_authorization_code("c3", &ses, &format!("rt-{i}"), T0 + 1)
                    .await
                    .unwrap();
                (out, ses.id)
            })
        })
        .collect();
    let mut redeemed = Vec::new();
    for t in tries {
        let (out, id) = t.await.unwrap();
        if out == RedeemOutcome::Redeemed {
            redeemed.push(id);
        } else {
            assert_eq!(out, RedeemOutcome::Replayed);
        }
    }
    assert_eq!(redeemed.len(), 1, "one redemption wins");
    // The losers replayed the code, which revokes the winner's session.
    assert!(s
        .get_session(&redeemed[0])
        .await
        .unwrap()
        .unwrap()
        .revoked_at
        .is_some());
}

async fn a_burnt_code_cannot_be_redeemed(s: DynStore) {
    let (u, browser, code) = code_for(&s, "c4", T0 + 60_000).await;
    s.burn_authorization_code("c4", T0 + 1).await.unwrap();
    let late = issued(&u, &code, &browser);
    assert_eq!(
        s.redeem_authorization_code("c4", &late, "rt-burnt", T0 + 2)
            .await
            .unwrap(),
        RedeemOutcome::Replayed
    );
    assert_eq!(s.get_session(&late.id).await.unwrap(), None);
}

async fn signing_out_a_browser_session_ends_the_sessions_issued_from_it(s: DynStore) {
    let (u, browser, code) = code_for(&s, "c5", T0 + 60_000).await;
    let app_session = issued(&u, &code, &browser);
    s.redeem_authorization_code("c5", &app_session, "rt-app", T0 + 1)
        .await
        .unwrap();
    let unrelated = session(&u, T0 + 1_000_000);
    s.create_session(&unrelated, "rt-unrelated").await.unwrap();
    assert_eq!(s.revoke_session_tree(&browser.id, T0 + 2).await.unwrap(), 2);
    assert!(s
        .get_session(&app_session.id)
        .await
        .unwrap()
        .unwrap()
        .revoked_at
        .is_some());
    assert!(s
        .get_session(&unrelated.id)
        .await
        .unwrap()
        .unwrap()
        .revoked_at
        .is_none());
    assert_eq!(s.revoke_session_tree(&browser.id, T0 + 3).await.unwrap(), 0);
}

async fn deleting_an_application_ends_its_sessions(s: DynStore) {
    let (u, browser, code) = code_for(&s, "c6", T0 + 60_000).await;
    let app_session = issued(&u, &code, &browser);
    s.redeem_authorization_code("c6", &app_session, "rt-c6", T0 + 1)
        .await
        .unwrap();
    // Another tenant's id is not this tenant's application.
    let other = TenantId::generate(T0, &OsRandom);
    assert_eq!(
        s.revoke_client_sessions(&other, &code.client_id, T0 + 2)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        s.revoke_client_sessions(&u.tenant_id, &code.client_id, T0 + 2)
            .await
            .unwrap(),
        1
    );
    assert!(s
        .get_session(&app_session.id)
        .await
        .unwrap()
        .unwrap()
        .revoked_at
        .is_some());
    assert!(s
        .get_session(&browser.id)
        .await
        .unwrap()
        .unwrap()
        .revoked_at
        .is_none());
}
