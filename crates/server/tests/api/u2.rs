//! AuthHero's universal-login paths (`/u2/login/identifier`, `/u2/login/password`,
//! `/u2/mfa/otp`, `/u2/mfa/phone`, `/u2/mfa/sms`) reach the hosted pages' own screens, in
//! the state the sign-in is in: before the password, awaiting the second factor
//! (AuthHero's `awaiting_mfa`), or enrolling one.

use crate::both_stores;
use crate::helpers::*;
use crate::mfa::code;
use crate::pages::{user_with_totp, Browser};
use serde_json::json;

both_stores!(
    authhero_paths_reach_the_same_screens,
    a_user_who_must_enroll_is_sent_to_enrollment
);

async fn authhero_paths_reach_the_same_screens(b: Backend) {
    let s = spawn(b).await;
    let secret = user_with_totp(&s, "hero@example.com").await;
    let mut br = Browser::new(&s);
    for path in ["/u2/login/identifier", "/u2/login/password"] {
        let p = br.get(path).await;
        assert_eq!(p.status, 200, "{path}");
        p.is_html();
        assert!(
            p.body.contains("name=\"email\"") && p.body.contains("name=\"password\""),
            "{}",
            p.body
        );
    }
    // Nobody is signing in yet: the second-factor screens go back to the sign-in.
    for path in ["/u2/mfa/otp", "/u2/mfa/sms"] {
        let p = br.get(path).await;
        assert_eq!((p.status, p.location()), (303, "/login"), "{path}");
    }
    let p = br
        .submit(
            "/u2/login/identifier",
            "/u2/login/password",
            &[("email", "hero@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!((p.status, p.location()), (303, "/login/mfa"), "{}", p.body);
    // Awaiting the second factor: /u2/mfa/otp is the authenticator app's step; the user has
    // no SMS factor, so /u2/mfa/sms is the step's default.
    let p = br.get("/u2/mfa/otp").await;
    assert_eq!(p.status, 303);
    assert!(
        p.location().starts_with("/login/mfa?factor=fac_"),
        "{}",
        p.location()
    );
    let otp_step = p.location().to_owned();
    let p = br.get("/u2/mfa/sms").await;
    assert_eq!((p.status, p.location()), (303, "/login/mfa"));
    let mfa = br.get(&otp_step).await;
    assert_eq!(mfa.status, 200);
    mfa.is_html();
    let p = br
        .post(
            "/login/mfa/verify",
            &[
                ("csrf", &mfa.csrf()),
                ("factor_id", &mfa.field("factor_id")),
                ("code", &code(&s, &secret, 0)),
            ],
        )
        .await;
    assert_eq!((p.status, p.location()), (303, "/account/security"), "{}", p.body);
    // Signed in: the identifier screen sends the user on.
    let p = br.get("/u2/login/identifier").await;
    assert_eq!((p.status, p.location()), (303, "/account/security"));
}

async fn a_user_who_must_enroll_is_sent_to_enrollment(b: Backend) {
    let s = spawn(b).await;
    s.signup("new@example.com").await;
    let (status, body) = send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "mfa_required": true, "mfa_allowed_factors": ["totp", "sms", "backup_codes"] })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let mut br = Browser::new(&s);
    let p = br
        .submit(
            "/u2/login/identifier",
            "/u2/login/password",
            &[("email", "new@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!((p.status, p.location()), (303, "/login/enroll"), "{}", p.body);
    let p = br.get("/u2/mfa/otp").await;
    assert_eq!((p.status, p.location()), (303, "/login/enroll"));
    // The phone screen asks for the number (AuthHero's enrollment step 2).
    let p = br.get("/u2/mfa/phone").await;
    assert_eq!(p.status, 200);
    p.is_html();
    assert!(p.body.contains("type=\"tel\""), "{}", p.body);
}
