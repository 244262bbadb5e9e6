//! Security notices by email (NIST SP 800-63B: the subscriber hears of authenticator
//! changes) through the outbox to a real SMTP server (aiosmtpd): a factor added, a backup
//! code used (with how many remain), new backup codes, a factor removed, repeated failed second factors (once
//! an hour however long it goes on), an admin's MFA reset; never a code or secret; nothing
//! without an email provider.

use crate::both_stores;
use crate::helpers::*;
use crate::mfa::{backup_factor, mfa_signin, user_with_totp, verify};
use crate::recovery::{mail_server, text, Mailbox};
use serde_json::{json, Value};

both_stores!(
    authenticator_changes_are_emailed_to_the_user,
    no_email_provider_no_notice,
    a_tenant_words_its_own_notices,
    an_admin_created_factor_is_emailed_to_the_user,
);

/// The next message whose subject contains `about`, skipping none.
async fn next_about(mail: &Mailbox, about: &str) -> Value {
    let msg = mail.next().await;
    let subject = msg["headers"]["Subject"].as_str().unwrap_or_default().to_owned();
    assert!(
        subject.contains(about),
        "expected {about:?}, got {subject:?}: {msg}"
    );
    assert_eq!(msg["headers"]["To"], "alice@example.com");
    msg
}

async fn authenticator_changes_are_emailed_to_the_user(b: Backend) {
    let Some((s, mail)) = mail_server(b).await else {
        return;
    };
    let (uid, _, fid, secret, backup) = user_with_totp(&s, "alice@example.com").await;
    let added = next_about(&mail, "A sign-in method was added to your Acme account").await;
    assert!(text(&added).contains("An authenticator app was added"), "{added}");

    // A backup code at sign-in: how many are left.
    let ch = mfa_signin(&s, "alice@example.com").await;
    let (status, signed_in) = verify(&s, &ch, &backup_factor(&ch), &backup[0]).await;
    assert_eq!(status, 200, "{signed_in}");
    let used = next_about(&mail, "A backup code was used to sign in to Acme").await;
    assert!(
        text(&used).contains(&format!("You have {} backup codes left.", backup.len() - 1)),
        "{used}"
    );

    assert!(
        text(&used).contains(", from the address 127.0.0.1."),
        "when and from where: {used}"
    );

    // New codes replace the old.
    let token = signed_in["access_token"].as_str().unwrap();
    let (status, fresh) = send(s.post("/v1/users/me/mfa/backup-codes").bearer_auth(token)).await;
    assert_eq!(status, 201, "{fresh}");
    let regenerated = next_about(&mail, "New backup codes were made for your Acme account").await;

    // Wrong codes until the factor locks, and on: one notice.
    let ch = mfa_signin(&s, "alice@example.com").await;
    let mut locked = 0;
    for _ in 0..8 {
        if verify(&s, &ch, &fid, "000000").await.0 == 429 {
            locked += 1;
        }
    }
    assert!(locked >= 2, "the factor locked and stayed locked");
    let attack = next_about(&mail, "Repeated failed sign-in attempts on your Acme account").await;
    assert!(text(&attack).contains("an authenticator app"), "{attack}");

    // The user removes the factor (just verified with a backup code, so allowed).
    let (status, body) = send(
        s.http
            .delete(format!("{}/v1/users/me/mfa/factors/{fid}", s.url))
            .bearer_auth(token),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let removed = next_about(&mail, "A sign-in method was removed from your Acme account").await;
    assert!(
        text(&removed).contains("An authenticator app was removed"),
        "{removed}"
    );

    // An admin resets what is left.
    let (status, _) = send(s.mfa_admin(s.http.delete(format!("{}/v2/admin/users/{uid}/mfa", s.url)))).await;
    assert_eq!(status, 204);
    let reset = next_about(&mail, "The second sign-in step of your Acme account was reset").await;
    assert!(text(&reset).contains("An administrator removed"), "{reset}");

    // Still one attack notice, however many locked attempts there were.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(mail.count(), 6, "one notice per event, one attack notice an hour");
    // Never a secret, a code or a link.
    let fresh_codes: Vec<String> = fresh["backup_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    for m in [&added, &used, &regenerated, &attack, &removed, &reset] {
        let all = m.to_string();
        assert!(!all.contains(&secret), "{all}");
        assert!(!all.contains("https://"), "{all}");
        for code in backup.iter().chain(&fresh_codes) {
            assert!(!all.contains(code.as_str()), "{all}");
        }
    }
    s.stop().await;
}

async fn no_email_provider_no_notice(b: Backend) {
    let s = spawn(b).await;
    let (_, _, fid, _, _) = user_with_totp(&s, "alice@example.com").await;
    let (_, provider) = send(s.admin(s.get("/v1/admin/email-provider"))).await;
    assert_eq!(provider["source"], "default", "{provider}");
    // The factor was confirmed (a notice would have been due) and is in the audit log.
    let (_, audit) = send(s.admin(s.get("/v1/admin/audit-events"))).await;
    assert!(audit.to_string().contains(&fid));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (_, stats) = send(s.admin(s.get("/v1/admin/delivery-stats"))).await;
    assert!(
        !stats.to_string().contains("notices_queued"),
        "the console is not an email provider: {stats}"
    );
    s.stop().await;
}

async fn a_tenant_words_its_own_notices(b: Backend) {
    let Some((s, mail)) = mail_server(b).await else {
        return;
    };
    let patch = |v: Value| send(s.admin(s.patch("/v1/admin/config")).json(&v));
    // Unknown notices and wordings that drop the facts are refused, each named.
    for bad in [
        serde_json::json!({ "notice_templates": { "factor_gone": { "subject": "s", "text": "{what}" } } }),
        serde_json::json!({ "notice_templates": { "factor_added": { "subject": "s", "text": "Something happened." } } }),
        serde_json::json!({ "notice_templates": { "factor_added": { "subject": "a\nb", "text": "{what}" } } }),
        serde_json::json!({ "notice_templates": { "factor_added": { "subject": "s", "text": "{what}", "html": "<p>nothing</p>" } } }),
        serde_json::json!({ "notice_templates": { "factor_added": { "subject": "s", "text": "{what}", "colour": "red" } } }),
    ] {
        let (status, body) = patch(bad.clone()).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    let (status, body) = patch(serde_json::json!({ "notice_templates": { "factor_added": {
        "subject": "[{app_name}] New sign-in method",
        "text": "Hi from the Acme security team.\n\n{what}\n\nAt {when} from {from}. Questions? security@acme.test",
        "html": "<p>Hi from the <b>Acme</b> security team.</p><p>{what}</p><p>At {when}.</p>"
    } } }))
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["notice_templates"]["factor_added"]["subject"],
        "[{app_name}] New sign-in method"
    );
    user_with_totp(&s, "alice@example.com").await;
    let added = next_about(&mail, "[Acme] New sign-in method").await;
    let t = text(&added);
    assert!(
        t.starts_with("Hi from the Acme security team.") && t.contains("An authenticator app was added"),
        "{t}"
    );
    assert!(t.contains("from 127.0.0.1. Questions?"), "{t}");
    assert!(added.to_string().contains("<b>Acme</b>"), "{added}");
    // Back to the product's words.
    let (status, body) = patch(serde_json::json!({ "notice_templates": { "factor_added": null } })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["notice_templates"], serde_json::json!({}));
    user_with_totp(&s, "bob@example.com").await;
    let plain = mail
        .next_about("A sign-in method was added to your Acme account")
        .await;
    assert_eq!(plain["headers"]["To"], "bob@example.com");
    s.stop().await;
}

/// An admin creating a confirmed factor (with `mfa:admin`) tells the user; a refused attempt
/// (an everyday key) tells nobody.
async fn an_admin_created_factor_is_emailed_to_the_user(b: Backend) {
    let Some((s, mail)) = mail_server(b).await else {
        return;
    };
    let gw = crate::gateway::Gateway::start().await;
    crate::delivery::allow_all(&s).await;
    let (status, body) = send(s.mfa_admin(s.http.put(format!("{}/v1/admin/sms-provider", s.url))).json(&json!({
        "provider": "webhook", "url": format!("{}/webhook", gw.url), "secret": crate::gateway::WEBHOOK_SECRET
    })))
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = s
        .post_json(
            "/v1/auth/signup",
            json!({ "email": "alice@example.com", "password": PASSWORD, "phone_number": crate::delivery::PHONE }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let uid = body["user"]["id"].as_str().unwrap().to_owned();
    let token = body["access_token"].as_str().unwrap().to_owned();
    // The user verifies the phone with an SMS factor of their own (one notice).
    let (status, e) = send(
        s.post("/v1/users/me/mfa/factors")
            .bearer_auth(&token)
            .json(&json!({ "type": "sms", "phone_number": crate::delivery::PHONE })),
    )
    .await;
    assert_eq!(status, 201, "{e}");
    let fid = e["factor_id"].as_str().unwrap().to_owned();
    let code = gw.code(1).await;
    let (status, c) = send(
        s.post(&format!("/v1/users/me/mfa/factors/{fid}/confirm"))
            .bearer_auth(&token)
            .json(&json!({ "code": code })),
    )
    .await;
    assert_eq!(status, 200, "{c}");
    next_about(&mail, "A sign-in method was added to your Acme account").await;

    let create = |key: &str| {
        s.post(&format!("/v1/users/{uid}/mfa/factors"))
            .bearer_auth(key)
            .json(&json!({ "type": "sms", "phone_number": crate::delivery::PHONE, "confirmed": true }))
    };
    let (status, err) = send(create(BOOTSTRAP_KEY)).await;
    assert_eq!((status, error_code(&err)), (403, "insufficient_scope"), "{err}");
    let (status, created) = send(create(&s.mfa_admin_key)).await;
    assert_eq!(status, 201, "{created}");
    let added = next_about(&mail, "A sign-in method was added to your Acme account").await;
    assert!(text(&added).contains("Text-message codes"), "{added}");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(mail.count(), 2, "no notice for the refused attempt");
    s.stop().await;
}
