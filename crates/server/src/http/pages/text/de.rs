//! Every word the hosted pages show, in German: the translation of `en.rs` (the
//! reference), with the same names; the compiler refuses a page that names a word one of
//! them lacks.

use latchkey_core::factor::FactorKind;

pub const LANG: &str = "de";
pub const PRODUCT: &str = "Latchkey";

// Shared.
pub const EMAIL: &str = "E-Mail-Adresse";
pub const PASSWORD: &str = "Passwort";
pub const CODE: &str = "Code";
pub const CONTINUE: &str = "Weiter";
pub const SIGN_OUT: &str = "Abmelden";
pub const BACK_TO_SIGN_IN: &str = "Zurück zur Anmeldung";
pub const BACK_TO_ACCOUNT: &str = "Zurück zu Ihrem Konto";
pub const ERROR_PREFIX: &str = "Fehler:";
pub const START_AGAIN: &str = "Von vorn beginnen";

// Sign-in.
pub const LOGIN_TITLE: &str = "Anmelden";
pub const LOGIN_SUBMIT: &str = "Anmelden";
pub const LOGIN_PASSKEY: &str = "Mit einem Passkey anmelden";
pub const LOGIN_PASSKEY_HINT: &str =
    "Ihr Gerät fordert Sie auf, den Passkey zu entsperren (per Fingerabdruck, Gesichtserkennung oder PIN); ein Passwort ist nicht nötig.";
pub const PASSKEY_INVALID: &str =
    "Dieser Passkey wurde nicht akzeptiert. Möglicherweise wurde er aus Ihrem Konto entfernt, oder er konnte nicht bestätigen, dass Sie es sind (Fingerabdruck, Gesichtserkennung oder PIN).";
pub const LOGIN_OR: &str = "oder";
pub const INVALID_CREDENTIALS: &str = "Die E-Mail-Adresse oder das Passwort ist nicht korrekt.";
pub const SIGN_IN_REFUSED: &str =
    "Diese Anmeldung wurde zum Schutz Ihres Kontos abgelehnt. Wenn Sie es waren, wenden Sie sich an Ihre Administration.";
pub const EMAIL_REQUIRED: &str = "Geben Sie Ihre E-Mail-Adresse ein.";
pub const PASSWORD_REQUIRED: &str = "Geben Sie Ihr Passwort ein.";
pub const SIGNED_OUT: &str = "Sie haben sich abgemeldet.";
pub const SIGN_IN_EXPIRED: &str =
    "Ihre Anmeldung hat zu lange gedauert und ist abgelaufen. Melden Sie sich erneut an.";
pub const SESSION_ENDED: &str = "Ihre Sitzung ist beendet. Melden Sie sich erneut an.";

// The second factor.
pub const MFA_TITLE: &str = "Zwei-Schritt-Verifizierung";
pub const MFA_INTRO: &str = "Ihr Passwort ist korrekt. Bestätigen Sie jetzt, dass Sie es sind:";
pub const MFA_OTHER_METHODS: &str = "Andere Methode verwenden";
pub const MFA_VERIFY: &str = "Bestätigen";
pub const MFA_SEND: &str = "Code senden";
pub const MFA_SEND_AGAIN: &str = "Neuen Code senden";
pub const MFA_TOTP_HINT: &str = "Der 6-stellige Code, den Ihre Authenticator-App gerade anzeigt.";
pub const MFA_BACKUP_HINT: &str =
    "Einer der Backup-Codes, die Sie gespeichert haben. Jeder Code funktioniert nur einmal.";
pub const INVALID_CODE: &str =
    "Dieser Code ist nicht korrekt. Überprüfen Sie ihn und versuchen Sie es erneut.";
pub const CODE_REQUIRED: &str = "Geben Sie den Code ein.";
pub const MFA_WEBAUTHN_HINT: &str =
    "Ihr Browser fordert Sie auf, Ihren Sicherheitsschlüssel zu berühren oder Ihren Passkey zu entsperren.";
pub const MFA_WEBAUTHN_START: &str = "Sicherheitsschlüssel oder Passkey verwenden";
pub const MFA_WEBAUTHN_INVALID: &str =
    "Dieser Sicherheitsschlüssel oder Passkey wurde nicht akzeptiert. Versuchen Sie es erneut oder verwenden Sie eine Ihrer anderen Methoden.";

// What the WebAuthn script says (given to it in `data-` attributes, so the words stay here).
pub const WEBAUTHN_UNSUPPORTED: &str =
    "Dieser Browser unterstützt keine Passkeys oder Sicherheitsschlüssel. Versuchen Sie es mit einem anderen Browser oder melden Sie sich auf andere Weise an.";
pub const WEBAUTHN_CANCELLED: &str =
    "Es ist nichts passiert: Die Anfrage wurde abgebrochen oder ist abgelaufen, oder Ihr Gerät konnte nicht bestätigen, dass Sie es sind. Versuchen Sie es erneut, sobald Sie bereit sind.";
pub const WEBAUTHN_FAILED: &str =
    "Das hat nicht funktioniert. Laden Sie die Seite neu und versuchen Sie es erneut.";
pub const WEBAUTHN_WAITING: &str = "Folgen Sie den Anweisungen Ihres Browsers…";
pub const WEBAUTHN_NEEDS_SCRIPT: &str =
    "Passkeys und Sicherheitsschlüssel erfordern JavaScript und einen Browser, der sie unterstützt. Verwenden Sie eine andere Methode oder versuchen Sie es mit einem anderen Browser.";
pub const WEBAUTHN_NOT_ALLOWED: &str =
    "Passkeys und Sicherheitsschlüssel sind auf diesem Server nicht aktiviert.";

pub fn code_sent_to(destination: &str) -> String {
    format!("Wir haben einen Code an {destination} gesendet. Es kann eine Minute dauern, bis er ankommt.")
}

pub fn too_many_attempts(secs: u64) -> String {
    format!(
        "Zu viele Versuche. Warten Sie {} und versuchen Sie es dann erneut.",
        duration(secs)
    )
}

pub fn rate_limited(secs: u64) -> String {
    format!(
        "Gerade eben wurde bereits ein Code gesendet. Warten Sie {}, bevor Sie einen neuen anfordern.",
        duration(secs)
    )
}

pub fn remember_device(days: u16) -> String {
    format!("Dieses Gerät {days} Tage lang merken: bis dahin hier kein zweiter Schritt")
}

pub fn resend_in(secs: u64) -> String {
    format!("Sie können in {} einen neuen Code anfordern.", duration(secs))
}

/// Fits both "Warten Sie …" (accusative) and "in …" (dative): the plurals are the same.
fn duration(secs: u64) -> String {
    match secs.max(1) {
        1 => "1 Sekunde".into(),
        s if s < 120 => format!("{s} Sekunden"),
        s => format!("{} Minuten", s.div_ceil(60)),
    }
}

// Enrollment (forced at sign-in, or from the account page).
pub const ENROLL_REQUIRED_TITLE: &str = "Zwei-Schritt-Verifizierung einrichten";
pub const ENROLL_REQUIRED_INTRO: &str =
    "Für dieses Konto ist ein zweiter Faktor erforderlich, bevor Sie fortfahren können. Richten Sie jetzt eine Authenticator-App ein.";
pub const ENROLL_REQUIRED_CHOOSE: &str =
    "Für dieses Konto ist ein zweiter Faktor erforderlich, bevor Sie fortfahren können. Wählen Sie jetzt einen aus und richten Sie ihn ein.";
pub const ENROLL_UNAVAILABLE: &str =
    "Die zweiten Faktoren, die für dieses Konto zulässig sind, können auf diesen Seiten noch nicht eingerichtet werden. Wenden Sie sich an Ihren Administrator.";
pub const ENROLL_START: &str = "Authenticator-App einrichten";
pub const ENROLL_TOTP_TITLE: &str = "Authenticator-App hinzufügen";
pub const ENROLL_TOTP_STEP_SCAN: &str = "Scannen Sie diesen QR-Code mit Ihrer Authenticator-App.";
pub const ENROLL_TOTP_QR_ALT: &str = "QR-Code mit dem geheimen Schlüssel für Ihre Authenticator-App";
pub const ENROLL_TOTP_STEP_TYPE: &str =
    "Scannen nicht möglich? Geben Sie stattdessen diesen Schlüssel in die App ein:";
pub const ENROLL_TOTP_SECRET_LABEL: &str = "Geheimer Schlüssel";
pub const ENROLL_TOTP_STEP_CONFIRM: &str =
    "Geben Sie dann den 6-stelligen Code ein, den die App anzeigt, um zu bestätigen, dass alles funktioniert.";
pub const ENROLL_TOTP_RETRY: &str =
    "Geben Sie den Code ein, den Ihre Authenticator-App gerade anzeigt. Falls Sie den Schlüssel nicht zur App hinzugefügt haben, beginnen Sie von vorn.";
pub const ENROLL_CONFIRM: &str = "Bestätigen";
pub const ENROLL_NAME: &str = "Name (optional)";
pub const ENROLL_NAME_HINT: &str = "Damit Sie Ihre Geräte auseinanderhalten können, z. B. „Diensthandy“.";
pub const ENROLL_SMS_TITLE: &str = "Codes per SMS erhalten";
pub const ENROLL_SMS_INTRO: &str = "Wir senden Ihnen bei jeder Anmeldung einen Code an Ihr Mobiltelefon.";
pub const ENROLL_SMS_START: &str = "Codes per SMS einrichten";
pub const ENROLL_SMS_PHONE: &str = "Mobilnummer";
// A number the Bundesnetzagentur keeps for examples ("Drama Numbers"): it reaches no one.
pub const ENROLL_SMS_PHONE_HINT: &str = "Mit Ländervorwahl, z. B. +49 152 28817386.";
pub const ENROLL_SMS_SEND: &str = "Code senden";
pub const ENROLL_SMS_OTHER_NUMBER: &str = "Andere Nummer verwenden";
pub const ENROLL_EMAIL_TITLE: &str = "Codes per E-Mail erhalten";
pub const ENROLL_EMAIL_INTRO: &str =
    "Wir senden Ihnen bei jeder Anmeldung einen Code an Ihre E-Mail-Adresse. Dies ist die unsicherste der Methoden: Verwenden Sie nach Möglichkeit eine andere.";
pub const ENROLL_EMAIL_START: &str = "Code an meine E-Mail-Adresse senden";
pub const ENROLL_OTHER_METHOD: &str = "Andere Methode wählen";
pub const PHONE_REQUIRED: &str = "Geben Sie Ihre Mobilnummer ein.";
pub const PHONE_INVALID: &str =
    "An diese Mobilnummer können wir nichts senden. Überprüfen Sie sie und geben Sie die Ländervorwahl mit an.";
pub const PHONE_COUNTRY_REFUSED: &str =
    "SMS in dieses Land sind nicht verfügbar. Wählen Sie eine andere Methode.";
pub const PHONE_CLASS_REFUSED: &str =
    "SMS an diese Art von Nummer sind nicht verfügbar. Verwenden Sie eine Mobilnummer oder wählen Sie eine andere Methode.";
pub const ENROLL_LAPSED: &str = "Diese Einrichtung wartet nicht mehr auf einen Code. Beginnen Sie von vorn.";

// Backup codes.
pub const BACKUP_TITLE: &str = "Speichern Sie Ihre Backup-Codes";
pub const BACKUP_INTRO: &str =
    "Falls Sie Ihr Gerät verlieren, können Sie sich mit jedem dieser Codes einmal anmelden. Sie werden nur jetzt angezeigt: Drucken Sie sie aus oder bewahren Sie sie in einem Passwort-Manager auf.";
pub const BACKUP_DONE: &str = "Ich habe sie gespeichert";
pub const BACKUP_DOWNLOAD: &str = "Als Datei herunterladen";
/// The first lines of the downloaded file.
pub const BACKUP_FILE_HEADER: &str =
    "Backup-Codes. Jeder Code funktioniert einmal anstelle Ihres zweiten Faktors. Bewahren Sie sie an einem sicheren Ort auf.\n\n";

// The account page.
pub const ACCOUNT_TITLE: &str = "Sicherheit";
pub fn signed_in_as(email: &str) -> String {
    format!("Angemeldet als {email}")
}
pub const FACTORS_HEADING: &str = "Ihre zweiten Faktoren";
pub const FACTORS_NONE: &str =
    "Sie haben noch keinen zweiten Faktor. Fügen Sie eine Authenticator-App hinzu, um Ihr Konto zu schützen.";
pub const FACTORS_CAPTION: &str = "Zweite Faktoren dieses Kontos";
pub const COL_NAME: &str = "Name";
pub const COL_KIND: &str = "Art";
pub const COL_CREATED: &str = "Hinzugefügt";
pub const COL_LAST_USED: &str = "Zuletzt verwendet";
pub const COL_ACTIONS: &str = "Aktionen";
pub const NEVER: &str = "Nie";
pub const REMOVE: &str = "Entfernen";
pub fn remove_named(name: &str) -> String {
    format!("{name} entfernen")
}
pub fn codes_left(n: i64) -> String {
    match n {
        1 => "1 Code übrig".into(),
        n => format!("{n} Codes übrig"),
    }
}
pub const ADD_TOTP_HEADING: &str = "Authenticator-App";
pub const ADD_TOTP_INTRO: &str =
    "Verwenden Sie eine App wie einen Passwort-Manager oder eine Authenticator-App, um Anmeldecodes zu erzeugen.";
pub const ADD_TOTP: &str = "Authenticator-App hinzufügen";
pub const BACKUP_HEADING: &str = "Backup-Codes";
pub const BACKUP_REGENERATE_INTRO: &str =
    "Neue Codes ersetzen alle bisherigen. Andere angemeldete Geräte werden abgemeldet.";
pub const BACKUP_REGENERATE: &str = "Neue Backup-Codes erzeugen";
pub const PASSKEYS_HEADING: &str = "Passkeys und Sicherheitsschlüssel";
pub const PASSKEYS_INTRO: &str =
    "Mit einem Passkey melden Sie sich per Fingerabdruck, Gesichtserkennung oder Geräte-PIN an, und er ist vor Phishing geschützt. Ein Sicherheitsschlüssel (z. B. ein YubiKey) funktioniert genauso. Jeder davon zählt auch als zweiter Faktor.";
pub const PASSKEYS_NOT_ALLOWED: &str =
    "Passkeys und Sicherheitsschlüssel sind für dieses Konto nicht aktiviert.";
pub const PASSKEY_NAME: &str = "Name des Passkeys (optional)";
pub const ADD_PASSKEY: &str = "Passkey oder Sicherheitsschlüssel hinzufügen";
pub const PASSKEY_NAME_HINT: &str =
    "Damit Sie sie auseinanderhalten können, z. B. „Laptop“ oder „Blauer YubiKey“.";
pub const PASSKEY_SYNCED: &str = "Synchronisierter Passkey";
pub const PASSKEY_DEVICE_BOUND: &str = "Nur auf einem Gerät oder Sicherheitsschlüssel gespeichert";
pub const PASSKEY_CLONE_SUSPECTED: &str =
    "Abgelehnt: Er wurde möglicherweise kopiert. Entfernen Sie ihn und fügen Sie ihn erneut hinzu.";
pub const PASSKEY_TAKEN: &str = "Dieser Passkey oder Sicherheitsschlüssel ist bereits registriert.";
pub const PASSKEY_NOT_ACCEPTED: &str =
    "Der Passkey oder Sicherheitsschlüssel wurde nicht akzeptiert. Beginnen Sie von vorn.";
pub const NOTICE_PASSKEY_ADDED: &str = "Ihr Passkey oder Sicherheitsschlüssel wurde hinzugefügt.";
pub const NOTICE_REMOVED: &str = "Der Faktor wurde entfernt. Ihre anderen Geräte wurden abgemeldet.";
pub const NOTICE_TOTP_ADDED: &str = "Ihre Authenticator-App wurde hinzugefügt.";
pub const MFA_NOT_ENABLED: &str =
    "Fügen Sie zuerst einen zweiten Faktor hinzu: Die Backup-Codes erhalten Sie zusammen damit.";

// Step-up.
pub const STEP_UP_TITLE: &str = "Bestätigen Sie, dass Sie es sind";
pub const STEP_UP_INTRO: &str =
    "Um Ihre zweiten Faktoren zu ändern, ist eine aktuelle Zwei-Schritt-Verifizierung nötig (innerhalb der letzten 15 Minuten). Bestätigen Sie Ihr Passwort und einen zweiten Faktor, um fortzufahren.";
pub const STEP_UP_START: &str = "Identität bestätigen";

// Errors.
pub const FORBIDDEN_TITLE: &str = "Dieses Formular ist abgelaufen";
pub const FORBIDDEN_CSRF: &str =
    "Das Formular wurde nicht von dieser Website gesendet oder ist veraltet. Gehen Sie zurück, laden Sie die Seite neu und versuchen Sie es erneut.";
pub const BAD_REQUEST_TITLE: &str = "Es fehlt etwas";
pub const BAD_REQUEST: &str = "Das Formular war unvollständig. Gehen Sie zurück und versuchen Sie es erneut.";
pub const NOT_FOUND_TITLE: &str = "Nicht gefunden";
pub const NOT_FOUND: &str = "Hier gibt es nichts.";
pub const THROTTLED_TITLE: &str = "Bitte etwas langsamer";
pub const UNAVAILABLE_TITLE: &str = "Ausgelastet";
pub const UNAVAILABLE: &str = "Der Server ist gerade ausgelastet. Versuchen Sie es gleich noch einmal.";
pub const INTERNAL_TITLE: &str = "Etwas ist schiefgelaufen";
pub const INTERNAL: &str = "Bei uns ist etwas schiefgelaufen. Versuchen Sie es später noch einmal.";
pub const GENERIC_TITLE: &str = "Das hat nicht funktioniert";
pub fn request_id(id: &str) -> String {
    format!("Referenz: {id}")
}

/// What a factor kind is called on the pages. Exhaustive: a new kind (WebAuthn) is a
/// compile error here until it has a name.
pub fn kind_name(kind: FactorKind) -> &'static str {
    match kind {
        FactorKind::Totp => "Authenticator-App",
        FactorKind::BackupCodes => "Backup-Codes",
        FactorKind::Sms => "SMS",
        FactorKind::EmailOtp => "E-Mail",
        FactorKind::Webauthn => "Passkey oder Sicherheitsschlüssel",
    }
}

// OpenID Connect: an application's sign-in request, and signing out from an application.
pub const AUTHORIZE_INVALID_TITLE: &str = "Dieser Anmeldelink funktioniert nicht";
pub const AUTHORIZE_INVALID: &str = "Die Anwendung, die Sie hierher geschickt hat, hat eine Anfrage gestellt, die wir nicht annehmen können. Deshalb können wir Sie nicht zu ihr zurückschicken. Kehren Sie zur Anwendung zurück und versuchen Sie es erneut; falls das weiterhin passiert, wenden Sie sich an ihren Betreiber.";
// Sent back to the application as `error_description`, which may only hold printable
// ASCII (RFC 6749 §4.1.2.1): no umlauts or ß here.
pub const AUTHORIZE_TOO_LARGE: &str = "die Anfrage ist zu umfangreich";
pub const FORM_POST_TITLE: &str = "Weiter";
pub const FORM_POST_NOTE: &str = "Sie sind angemeldet. Fahren Sie mit der Anwendung fort.";
pub const LOGOUT_TITLE: &str = "Abmelden";
pub const LOGOUT_CONFIRM: &str = "Möchten Sie sich abmelden?";
pub const LOGOUT_SUBMIT: &str = "Abmelden";
pub const CANCEL_SIGN_IN: &str = "Abbrechen und zurückkehren";

/// "Melden Sie sich an, um mit Acme fortzufahren."
pub fn continue_to(app: &str) -> String {
    format!("Melden Sie sich an, um mit {app} fortzufahren.")
}

/// "Acme bittet Sie, sich hier von Ihrem Konto abzumelden."
pub fn logout_requested_by(app: &str) -> String {
    format!("{app} bittet Sie, sich hier von Ihrem Konto abzumelden.")
}

/// "Weiter zu Acme".
pub fn continue_button(app: &str) -> String {
    format!("Weiter zu {app}")
}

// Sign-up (`/signup`).
pub const SIGNUP_TITLE: &str = "Konto erstellen";
pub const SIGNUP_SUBMIT: &str = "Konto erstellen";
pub const SIGNUP_LINK: &str = "Neues Konto erstellen";
pub const SIGNUP_CLOSED_TITLE: &str = "Registrierung nicht möglich";
pub const SIGNUP_CLOSED: &str =
    "Hier können keine neuen Konten erstellt werden. Bitten Sie den Administrator dieses Dienstes um ein Konto.";
pub const HAVE_ACCOUNT: &str = "Sie haben bereits ein Konto? Anmelden";
pub const NEW_PASSWORD: &str = "Neues Passwort";
pub const PASSWORD_HINT: &str =
    "Mindestens 8 Zeichen. Einige Wörter, die nichts miteinander zu tun haben, ergeben ein starkes Passwort.";
pub const PASSWORD_TOO_SHORT: &str = "Das Passwort muss mindestens 8 Zeichen lang sein.";
pub const PASSWORD_TOO_LONG: &str = "Das Passwort darf höchstens 1024 Zeichen lang sein.";
pub const EMAIL_INVALID: &str = "Geben Sie eine E-Mail-Adresse wie name@example.com ein.";
pub const EMAIL_TAKEN: &str =
    "Es gibt bereits ein Konto mit dieser E-Mail-Adresse. Melden Sie sich an oder setzen Sie Ihr Passwort zurück.";

// Forgotten password (`/password/forgot`, `/password/reset`).
pub const FORGOT_LINK: &str = "Passwort vergessen?";
pub const FORGOT_TITLE: &str = "Passwort zurücksetzen";
pub const FORGOT_INTRO: &str =
    "Geben Sie die E-Mail-Adresse Ihres Kontos ein. Wir senden Ihnen dorthin einen Link und einen Code, mit denen Sie ein neues Passwort festlegen können.";
pub const FORGOT_SUBMIT: &str = "Link zum Zurücksetzen senden";
pub const FORGOT_SENT_TITLE: &str = "Sehen Sie in Ihr E-Mail-Postfach";
pub const FORGOT_SENT: &str =
    "Falls zu dieser Adresse ein Konto existiert, haben wir einen Link und einen 6-stelligen Code dorthin gesendet. Beide funktionieren nur einmal und sind 30 Minuten lang gültig. Es kann eine Minute dauern, bis die E-Mail ankommt.";
pub const HAVE_CODE: &str = "Code aus der E-Mail eingeben";
pub const RESET_TITLE: &str = "Neues Passwort festlegen";
pub const RESET_INTRO_LINK: &str =
    "Legen Sie ein neues Passwort für Ihr Konto fest. Alle Geräte, die damit angemeldet sind, werden abgemeldet.";
pub const RESET_INTRO_CODE: &str =
    "Geben Sie Ihre E-Mail-Adresse, den 6-stelligen Code aus der E-Mail, die wir Ihnen gesendet haben, und ein neues Passwort ein. Alle Geräte, die mit Ihrem Konto angemeldet sind, werden abgemeldet.";
pub const RESET_SUBMIT: &str = "Neues Passwort festlegen";
pub const LINK_CODE_HINT: &str = "Der 6-stellige Code aus der E-Mail, die wir Ihnen gesendet haben.";
pub const TICKET_TITLE: &str = "Bestätigung in zwei Schritten einrichten";
pub const TICKET_LEAD: &str =
    "Ihre Administration bittet Sie, der Anmeldung einen zweiten Schritt hinzuzufügen. Melden Sie sich zunächst mit Ihrem Passwort an.";
pub const TICKET_SUBMIT: &str = "Weiter";
pub const TICKET_INVALID_TITLE: &str = "Dieser Link funktioniert nicht";
pub const TICKET_INVALID: &str =
    "Der Link ist abgelaufen, wurde bereits verwendet oder es wurde inzwischen ein neuerer erstellt. Bitten Sie Ihre Administration um einen neuen oder melden Sie sich an und fügen Sie auf Ihrer Kontoseite einen zweiten Schritt hinzu.";
pub const LINK_INVALID_TITLE: &str = "Dieser Link funktioniert nicht";
pub const LINK_INVALID: &str =
    "Der Link ist abgelaufen, wurde bereits verwendet oder es wurde inzwischen ein neuerer gesendet. Fordern Sie einen neuen an.";
pub const LINK_CODE_INVALID: &str =
    "Dieser Code ist nicht korrekt, abgelaufen oder wurde bereits verwendet. Überprüfen Sie ihn oder fordern Sie eine neue E-Mail an.";
pub const ASK_NEW_RESET: &str = "Neuen Link zum Zurücksetzen senden";
pub const NOTICE_PASSWORD_RESET: &str =
    "Ihr Passwort wurde geändert und alle Geräte wurden abgemeldet. Melden Sie sich mit Ihrem neuen Passwort an.";

// Email verification (`/verify-email`).
pub const VERIFY_TITLE: &str = "E-Mail-Adresse bestätigen";
pub const VERIFY_INTRO_LINK: &str = "Bestätigen Sie, dass diese E-Mail-Adresse Ihnen gehört.";
pub const VERIFY_SUBMIT: &str = "Meine E-Mail-Adresse bestätigen";
pub const VERIFY_INTRO_CODE: &str =
    "Geben Sie Ihre E-Mail-Adresse und den 6-stelligen Code aus der E-Mail ein, die wir Ihnen gesendet haben.";
pub const VERIFY_CODE_SUBMIT: &str = "Bestätigen";
pub const VERIFY_SEND: &str = "Neuen Link senden";
pub const VERIFY_SENT: &str =
    "Wir haben einen Link und einen 6-stelligen Code an Ihre E-Mail-Adresse gesendet. Beide funktionieren nur einmal und sind 24 Stunden lang gültig.";
pub const VERIFY_ALREADY: &str = "Ihre E-Mail-Adresse ist bereits bestätigt.";
pub const NOTICE_EMAIL_VERIFIED: &str = "Ihre E-Mail-Adresse wurde bestätigt.";
pub const TO_ACCOUNT: &str = "Zu Ihrem Konto";

// Remembered devices on the account page.
pub const DEVICES_HEADING: &str = "Gemerkte Geräte";
pub const DEVICES_INTRO: &str =
    "Diese Geräte überspringen den zweiten Schritt, wenn Sie sich mit Ihrem Passwort anmelden. Vergessen Sie jedes, das Sie nicht kennen.";
pub const DEVICES_CAPTION: &str = "Geräte, die den zweiten Schritt überspringen";
pub const COL_DEVICE: &str = "Gerät";
pub const COL_EXPIRES: &str = "Gemerkt bis";
pub const UNNAMED_DEVICE: &str = "Unbenanntes Gerät";
pub const FORGET: &str = "Vergessen";
pub const FORGET_ALL_DEVICES: &str = "Alle Geräte vergessen";
pub const NOTICE_DEVICES_FORGOTTEN: &str = "Vergessen: Diese Geräte fragen wieder nach dem zweiten Schritt.";
pub fn forget_named(name: &str) -> String {
    format!("{name} vergessen")
}
pub const NOTICE_ENROLL_DUE: &str =
    "Ihr Konto braucht bald einen zweiten Schritt bei der Anmeldung. Fügen Sie ihn jetzt unten hinzu: nach der Frist werden Sie bei der Anmeldung danach gefragt.";
