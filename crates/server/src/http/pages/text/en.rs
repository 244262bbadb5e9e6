//! Every word the hosted pages show, in English: the reference language. Another
//! language is a module of the same names (`de.rs`); the compiler refuses a page that
//! names a word one of them lacks.

use latchkey_core::factor::FactorKind;

pub const LANG: &str = "en";
pub const PRODUCT: &str = "Latchkey";

// Shared.
pub const EMAIL: &str = "Email";
pub const PASSWORD: &str = "Password";
pub const CODE: &str = "Code";
pub const CONTINUE: &str = "Continue";
pub const SIGN_OUT: &str = "Sign out";
pub const BACK_TO_SIGN_IN: &str = "Back to sign-in";
pub const BACK_TO_ACCOUNT: &str = "Back to your account";
pub const ERROR_PREFIX: &str = "Error:";
pub const START_AGAIN: &str = "Start again";

// Sign-in.
pub const LOGIN_TITLE: &str = "Sign in";
pub const LOGIN_SUBMIT: &str = "Sign in";
pub const LOGIN_PASSKEY: &str = "Sign in with a passkey";
pub const LOGIN_PASSKEY_HINT: &str =
    "Your device asks you to unlock the passkey (fingerprint, face or PIN); no password is needed.";
pub const PASSKEY_INVALID: &str =
    "That passkey was not accepted. It may have been removed from your account, or it did not confirm it was you (fingerprint, face or PIN).";
pub const LOGIN_OR: &str = "or";
pub const INVALID_CREDENTIALS: &str = "The email or password is not right.";
pub const SIGN_IN_REFUSED: &str =
    "This sign-in was refused to protect your account. If it was you, contact your administrator.";
pub const EMAIL_REQUIRED: &str = "Enter your email address.";
pub const PASSWORD_REQUIRED: &str = "Enter your password.";
pub const SIGNED_OUT: &str = "You have signed out.";
pub const SIGN_IN_EXPIRED: &str = "Your sign-in took too long and has expired. Sign in again.";
pub const SESSION_ENDED: &str = "Your session has ended. Sign in again.";

// The second factor.
pub const MFA_TITLE: &str = "Two-step verification";
pub const MFA_INTRO: &str = "Your password is right. Now prove it is you:";
pub const MFA_OTHER_METHODS: &str = "Try another method";
pub const MFA_VERIFY: &str = "Verify";
pub const MFA_SEND: &str = "Send a code";
pub const MFA_SEND_AGAIN: &str = "Send a new code";
pub const MFA_TOTP_HINT: &str = "The 6-digit code your authenticator app shows now.";
pub const MFA_BACKUP_HINT: &str = "One of the backup codes you saved. Each works once.";
pub const INVALID_CODE: &str = "That code is not right. Check it and try again.";
pub const CODE_REQUIRED: &str = "Enter the code.";
pub const MFA_WEBAUTHN_HINT: &str =
    "Your browser asks you to touch your security key or unlock your passkey.";
pub const MFA_WEBAUTHN_START: &str = "Use your security key or passkey";
pub const MFA_WEBAUTHN_INVALID: &str =
    "That security key or passkey was not accepted. Try again, or use another of your methods.";

// What the WebAuthn script says (given to it in `data-` attributes, so the words stay here).
pub const WEBAUTHN_UNSUPPORTED: &str =
    "This browser cannot use passkeys or security keys. Try another browser, or use another way to sign in.";
pub const WEBAUTHN_CANCELLED: &str =
    "Nothing was done: the request was cancelled or timed out, or your device could not confirm it was you. Try again when you are ready.";
pub const WEBAUTHN_FAILED: &str = "That did not work. Reload the page and try again.";
pub const WEBAUTHN_WAITING: &str = "Follow your browser's instructions…";
pub const WEBAUTHN_NEEDS_SCRIPT: &str =
    "Passkeys and security keys need JavaScript and a browser that supports them. Use another way, or try another browser.";
pub const WEBAUTHN_NOT_ALLOWED: &str = "Passkeys and security keys are not enabled on this server.";

pub fn code_sent_to(destination: &str) -> String {
    format!("We sent a code to {destination}. It may take a minute to arrive.")
}

pub fn too_many_attempts(secs: u64) -> String {
    format!("Too many attempts. Wait {} and try again.", duration(secs))
}

pub fn rate_limited(secs: u64) -> String {
    format!(
        "A code was sent very recently. Wait {} before asking for another.",
        duration(secs)
    )
}

pub fn remember_device(days: u16) -> String {
    format!("Remember this device for {days} days: no second step here until then")
}

pub fn resend_in(secs: u64) -> String {
    format!("You can ask for a new code in {}.", duration(secs))
}

fn duration(secs: u64) -> String {
    match secs.max(1) {
        1 => "1 second".into(),
        s if s < 120 => format!("{s} seconds"),
        s => format!("{} minutes", s.div_ceil(60)),
    }
}

// Enrollment (forced at sign-in, or from the account page).
pub const ENROLL_REQUIRED_TITLE: &str = "Set up two-step verification";
pub const ENROLL_REQUIRED_INTRO: &str =
    "This account must have a second factor before you can continue. Set up an authenticator app now.";
pub const ENROLL_REQUIRED_CHOOSE: &str =
    "This account must have a second factor before you can continue. Choose one to set up now.";
pub const ENROLL_UNAVAILABLE: &str =
    "The factors this account may set up cannot be set up on these pages yet. Ask your administrator for help.";
pub const ENROLL_START: &str = "Set up an authenticator app";
pub const ENROLL_TOTP_TITLE: &str = "Add an authenticator app";
pub const ENROLL_TOTP_STEP_SCAN: &str = "Scan this QR code with your authenticator app.";
pub const ENROLL_TOTP_QR_ALT: &str = "QR code holding the secret key for your authenticator app";
pub const ENROLL_TOTP_STEP_TYPE: &str = "Can't scan it? Type this key into the app instead:";
pub const ENROLL_TOTP_SECRET_LABEL: &str = "Secret key";
pub const ENROLL_TOTP_STEP_CONFIRM: &str = "Then enter the 6-digit code the app shows, to confirm it works.";
pub const ENROLL_TOTP_RETRY: &str =
    "Enter the code your authenticator app shows now. If you did not add the key to the app, start again.";
pub const ENROLL_CONFIRM: &str = "Confirm";
pub const ENROLL_NAME: &str = "Name (optional)";
pub const ENROLL_NAME_HINT: &str = "So you can tell your devices apart, e.g. “Work phone”.";
pub const ENROLL_SMS_TITLE: &str = "Get codes by text message";
pub const ENROLL_SMS_INTRO: &str = "We send a code to your phone each time you sign in.";
pub const ENROLL_SMS_START: &str = "Set up text messages";
pub const ENROLL_SMS_PHONE: &str = "Mobile number";
pub const ENROLL_SMS_PHONE_HINT: &str = "With the country code, e.g. +44 7700 900123.";
pub const ENROLL_SMS_SEND: &str = "Send a code";
pub const ENROLL_SMS_OTHER_NUMBER: &str = "Use another number";
pub const ENROLL_EMAIL_TITLE: &str = "Get codes by email";
pub const ENROLL_EMAIL_INTRO: &str =
    "We email a code to your address each time you sign in. The weakest of the methods: use another if you can.";
pub const ENROLL_EMAIL_START: &str = "Send a code to my email address";
pub const ENROLL_OTHER_METHOD: &str = "Choose another method";
pub const PHONE_REQUIRED: &str = "Enter your mobile number.";
pub const PHONE_INVALID: &str =
    "That is not a mobile number we can send to. Check it, with the country code.";
pub const PHONE_COUNTRY_REFUSED: &str =
    "Text messages to this country are not available. Choose another method.";
pub const PHONE_CLASS_REFUSED: &str =
    "Text messages to this kind of number are not available. Use a mobile number, or choose another method.";
pub const ENROLL_LAPSED: &str = "That set-up is no longer waiting for a code. Start again.";

// Backup codes.
pub const BACKUP_TITLE: &str = "Save your backup codes";
pub const BACKUP_INTRO: &str =
    "If you lose your device, each of these codes lets you sign in once. They are shown only now: print them or keep them in a password manager.";
pub const BACKUP_DONE: &str = "I have saved them";
pub const BACKUP_DOWNLOAD: &str = "Download them as a file";
/// The first lines of the downloaded file.
pub const BACKUP_FILE_HEADER: &str =
    "Backup codes. Each works once, in place of your second factor. Keep them somewhere safe.\n\n";

// The account page.
pub const ACCOUNT_TITLE: &str = "Security";
pub fn signed_in_as(email: &str) -> String {
    format!("Signed in as {email}")
}
pub const FACTORS_HEADING: &str = "Your second factors";
pub const FACTORS_NONE: &str =
    "You have no second factor yet. Add an authenticator app to protect your account.";
pub const FACTORS_CAPTION: &str = "Second factors on this account";
pub const COL_NAME: &str = "Name";
pub const COL_KIND: &str = "Kind";
pub const COL_CREATED: &str = "Added";
pub const COL_LAST_USED: &str = "Last used";
pub const COL_ACTIONS: &str = "Actions";
pub const NEVER: &str = "Never";
pub const REMOVE: &str = "Remove";
pub fn remove_named(name: &str) -> String {
    format!("Remove {name}")
}
pub fn codes_left(n: i64) -> String {
    match n {
        1 => "1 code left".into(),
        n => format!("{n} codes left"),
    }
}
pub const ADD_TOTP_HEADING: &str = "Authenticator app";
pub const ADD_TOTP_INTRO: &str =
    "Use an app such as a password manager or an authenticator to make sign-in codes.";
pub const ADD_TOTP: &str = "Add an authenticator app";
pub const BACKUP_HEADING: &str = "Backup codes";
pub const BACKUP_REGENERATE_INTRO: &str =
    "New codes replace all the old ones. Other signed-in devices are signed out.";
pub const BACKUP_REGENERATE: &str = "Generate new backup codes";
pub const PASSKEYS_HEADING: &str = "Passkeys and security keys";
pub const PASSKEYS_INTRO: &str =
    "A passkey signs you in with your fingerprint, face or device PIN, and cannot be phished. A security key (such as a YubiKey) works the same way. Each one is also a second factor.";
pub const PASSKEYS_NOT_ALLOWED: &str = "Passkeys and security keys are not enabled for this account.";
pub const PASSKEY_NAME: &str = "Name of the passkey (optional)";
pub const ADD_PASSKEY: &str = "Add a passkey or security key";
pub const PASSKEY_NAME_HINT: &str = "So you can tell them apart, e.g. “Laptop” or “Blue YubiKey”.";
pub const PASSKEY_SYNCED: &str = "Synced passkey";
pub const PASSKEY_DEVICE_BOUND: &str = "Kept on one device or security key";
pub const PASSKEY_CLONE_SUSPECTED: &str = "Refused: it may have been copied. Remove it and add it again.";
pub const PASSKEY_TAKEN: &str = "This passkey or security key is already registered.";
pub const PASSKEY_NOT_ACCEPTED: &str = "The passkey or security key was not accepted. Start again.";
pub const NOTICE_PASSKEY_ADDED: &str = "Your passkey or security key was added.";
pub const NOTICE_REMOVED: &str = "The factor was removed. Your other devices were signed out.";
pub const NOTICE_TOTP_ADDED: &str = "Your authenticator app was added.";
pub const MFA_NOT_ENABLED: &str = "Add a second factor first: backup codes come with it.";

// Step-up.
pub const STEP_UP_TITLE: &str = "Confirm it is you";
pub const STEP_UP_INTRO: &str =
    "Changing your second factors needs a recent two-step verification (within the last 15 minutes). Confirm your password and a second factor to continue.";
pub const STEP_UP_START: &str = "Confirm it is you";

// Errors.
pub const FORBIDDEN_TITLE: &str = "This form has expired";
pub const FORBIDDEN_CSRF: &str =
    "The form was not sent from this site, or it is out of date. Go back, reload the page and try again.";
pub const BAD_REQUEST_TITLE: &str = "Something is missing";
pub const BAD_REQUEST: &str = "The form was incomplete. Go back and try again.";
pub const NOT_FOUND_TITLE: &str = "Not found";
pub const NOT_FOUND: &str = "There is nothing here.";
pub const THROTTLED_TITLE: &str = "Slow down";
pub const UNAVAILABLE_TITLE: &str = "Busy";
pub const UNAVAILABLE: &str = "The server is busy. Try again in a moment.";
pub const INTERNAL_TITLE: &str = "Something went wrong";
pub const INTERNAL: &str = "Something went wrong on our side. Try again later.";
pub const GENERIC_TITLE: &str = "That did not work";
pub fn request_id(id: &str) -> String {
    format!("Reference: {id}")
}

/// What a factor kind is called on the pages. Exhaustive: a new kind (WebAuthn) is a
/// compile error here until it has a name.
pub fn kind_name(kind: FactorKind) -> &'static str {
    match kind {
        FactorKind::Totp => "Authenticator app",
        FactorKind::BackupCodes => "Backup codes",
        FactorKind::Sms => "Text message",
        FactorKind::EmailOtp => "Email",
        FactorKind::Webauthn => "Passkey or security key",
    }
}

// OpenID Connect: an application's sign-in request, and signing out from an application.
pub const AUTHORIZE_INVALID_TITLE: &str = "This sign-in link does not work";
pub const AUTHORIZE_INVALID: &str = "The application that sent you here made a request we cannot accept, so we cannot send you back to it. Go back to the application and try again; if it keeps happening, tell its owner.";
pub const AUTHORIZE_TOO_LARGE: &str = "the request is too large";
pub const FORM_POST_TITLE: &str = "Continue";
pub const FORM_POST_NOTE: &str = "You are signed in. Continue to the application.";
pub const LOGOUT_TITLE: &str = "Sign out";
pub const LOGOUT_CONFIRM: &str = "Do you want to sign out?";
pub const LOGOUT_SUBMIT: &str = "Sign out";
pub const CANCEL_SIGN_IN: &str = "Cancel and go back";

/// "Sign in to continue to Acme".
pub fn continue_to(app: &str) -> String {
    format!("Sign in to continue to {app}.")
}

/// "Acme asks you to sign out."
pub fn logout_requested_by(app: &str) -> String {
    format!("{app} asks you to sign out of your account here.")
}

/// "Continue to Acme".
pub fn continue_button(app: &str) -> String {
    format!("Continue to {app}")
}

// Sign-up (`/signup`).
pub const SIGNUP_TITLE: &str = "Create an account";
pub const SIGNUP_SUBMIT: &str = "Create account";
pub const SIGNUP_LINK: &str = "Create an account";
pub const SIGNUP_CLOSED_TITLE: &str = "Sign-up is closed";
pub const SIGNUP_CLOSED: &str =
    "New accounts cannot be created here. Ask the administrator of this service for an account.";
pub const HAVE_ACCOUNT: &str = "Already have an account? Sign in";
pub const NEW_PASSWORD: &str = "New password";
pub const PASSWORD_HINT: &str = "At least 8 characters. A few unrelated words make a strong one.";
pub const PASSWORD_TOO_SHORT: &str = "The password must be at least 8 characters.";
pub const PASSWORD_TOO_LONG: &str = "The password must be at most 1024 characters.";
pub const EMAIL_INVALID: &str = "Enter an email address like name@example.com.";
pub const EMAIL_TAKEN: &str =
    "An account with this email address already exists. Sign in, or reset your password.";

// Forgotten password (`/password/forgot`, `/password/reset`).
pub const FORGOT_LINK: &str = "Forgot your password?";
pub const FORGOT_TITLE: &str = "Reset your password";
pub const FORGOT_INTRO: &str =
    "Enter the email address of your account. We will send it a link and a code to choose a new password.";
pub const FORGOT_SUBMIT: &str = "Send reset link";
pub const FORGOT_SENT_TITLE: &str = "Check your email";
pub const FORGOT_SENT: &str =
    "If an account has this address, we sent it a link and a 6-digit code. They work once, within 30 minutes. The email may take a minute to arrive.";
pub const HAVE_CODE: &str = "Enter the code from the email";
pub const RESET_TITLE: &str = "Choose a new password";
pub const RESET_INTRO_LINK: &str =
    "Choose a new password for your account. Every device signed in to it will be signed out.";
pub const RESET_INTRO_CODE: &str =
    "Enter your email address, the 6-digit code from the email we sent, and a new password. Every device signed in to your account will be signed out.";
pub const RESET_SUBMIT: &str = "Set new password";
pub const LINK_CODE_HINT: &str = "The 6-digit code in the email we sent.";
pub const TICKET_TITLE: &str = "Set up two-step verification";
pub const TICKET_LEAD: &str =
    "Your administrator asks you to add a second step to signing in. Sign in with your password to begin.";
pub const TICKET_SUBMIT: &str = "Continue";
pub const TICKET_INVALID_TITLE: &str = "This link does not work";
pub const TICKET_INVALID: &str =
    "The link has expired, was used already, or a newer one was made. Ask your administrator for a new one, or sign in and add a second step on your account page.";
pub const LINK_INVALID_TITLE: &str = "This link does not work";
pub const LINK_INVALID: &str =
    "The link has expired, was used already, or a newer one was sent. Ask for a new one.";
pub const LINK_CODE_INVALID: &str =
    "That code is not right, has expired, or was used already. Check it, or ask for a new email.";
pub const ASK_NEW_RESET: &str = "Send a new reset link";
pub const NOTICE_PASSWORD_RESET: &str =
    "Your password was changed and every device was signed out. Sign in with your new password.";

// Email verification (`/verify-email`).
pub const VERIFY_TITLE: &str = "Confirm your email address";
pub const VERIFY_INTRO_LINK: &str = "Confirm that this email address is yours.";
pub const VERIFY_SUBMIT: &str = "Confirm my email address";
pub const VERIFY_INTRO_CODE: &str = "Enter your email address and the 6-digit code from the email we sent.";
pub const VERIFY_CODE_SUBMIT: &str = "Confirm";
pub const VERIFY_SEND: &str = "Send me a new link";
pub const VERIFY_SENT: &str =
    "We sent a link and a 6-digit code to your email address. They work once, within 24 hours.";
pub const VERIFY_ALREADY: &str = "Your email address is confirmed already.";
pub const NOTICE_EMAIL_VERIFIED: &str = "Your email address is confirmed.";
pub const TO_ACCOUNT: &str = "Go to your account";

// Remembered devices on the account page.
pub const DEVICES_HEADING: &str = "Remembered devices";
pub const DEVICES_INTRO: &str =
    "These devices skip the second step when you sign in with your password. Forget any you do not recognise.";
pub const DEVICES_CAPTION: &str = "Devices that skip the second step";
pub const COL_DEVICE: &str = "Device";
pub const COL_EXPIRES: &str = "Remembered until";
pub const UNNAMED_DEVICE: &str = "Unnamed device";
pub const FORGET: &str = "Forget";
pub const FORGET_ALL_DEVICES: &str = "Forget all devices";
pub const NOTICE_DEVICES_FORGOTTEN: &str = "Forgotten: those devices will ask for the second step again.";
pub fn forget_named(name: &str) -> String {
    format!("Forget {name}")
}
pub const NOTICE_ENROLL_DUE: &str =
    "Your account will soon need a second step at sign-in. Add one below now: after the deadline, signing in asks you to.";
