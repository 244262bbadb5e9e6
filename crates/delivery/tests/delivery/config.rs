//! Provider configurations: their JSON shape, validation (every problem at once, no value
//! quoted) and the redacted form the admin API shows.

use latchkey_delivery::config::{EmailProviderConfig, SmsProviderConfig, SmtpTls};
use serde_json::json;

const TWILIO_TOKEN: &str = "f0e1d2c3b4a5968778695a4b3c2d1e0f";
const AWS_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const VONAGE_SECRET: &str = "vonage-secret-9876";
const WEBHOOK_SECRET: &str = "whsec_00112233445566778899aabbccddeeff";
const SMTP_PASSWORD: &str = "smtp-password-4321";

fn sms(value: serde_json::Value) -> SmsProviderConfig {
    serde_json::from_value(value).unwrap()
}

fn all_sms() -> Vec<SmsProviderConfig> {
    vec![
        sms(
            json!({"provider": "twilio", "account_sid": "AC0123456789abcdef0123456789abcdef",
                   "auth_token": TWILIO_TOKEN, "from_number": "+15005550006"}),
        ),
        sms(
            json!({"provider": "aws_sns", "region": "us-east-1", "access_key_id": "AKIAIOSFODNN7EXAMPLE",
                   "secret_access_key": AWS_SECRET}),
        ),
        sms(
            json!({"provider": "vonage", "api_key": "a1b2c3d4", "api_secret": VONAGE_SECRET, "from": "Acme"}),
        ),
        sms(
            json!({"provider": "webhook", "url": "https://sms.acme.test/send?tenant=7", "secret": WEBHOOK_SECRET}),
        ),
        sms(json!({"provider": "console"})),
    ]
}

fn smtp(value: serde_json::Value) -> EmailProviderConfig {
    serde_json::from_value(value).unwrap()
}

#[test]
fn documented_examples_are_valid() {
    for cfg in all_sms() {
        assert_eq!(cfg.validate(), Vec::<String>::new(), "{}", cfg.name());
    }
    let with_login = smtp(
        json!({"provider": "smtp", "host": "smtp.acme.test", "port": 587, "tls": "starttls",
                                 "username": "mailer", "password": SMTP_PASSWORD,
                                 "from": "Acme <no-reply@acme.test>"}),
    );
    assert_eq!(with_login.validate(), Vec::<String>::new());
    let relay = smtp(
        json!({"provider": "smtp", "host": "127.0.0.1", "port": 25, "tls": "none",
                            "username": "local", "password": "local-only",
                            "from": "no-reply@acme.test"}),
    );
    assert_eq!(
        relay.validate(),
        Vec::<String>::new(),
        "clear text is fine to a loopback relay"
    );
    assert_eq!(
        smtp(json!({"provider": "console"})).validate(),
        Vec::<String>::new()
    );
}

#[test]
fn unknown_fields_and_providers_are_refused() {
    let extra =
        json!({"provider": "vonage", "api_key": "k", "api_secret": "s", "from": "Acme", "sender": "x"});
    assert!(serde_json::from_value::<SmsProviderConfig>(extra).is_err());
    let misspelt =
        json!({"provider": "smtp", "host": "h", "port": 25, "tls": "none", "from": "a@b.c", "pasword": "x"});
    assert!(serde_json::from_value::<EmailProviderConfig>(misspelt).is_err());
    let unknown = json!({"provider": "pigeon"});
    assert!(serde_json::from_value::<SmsProviderConfig>(unknown).is_err());
    let bad_tls = json!({"provider": "smtp", "host": "h", "port": 25, "tls": "maybe", "from": "a@b.c"});
    assert!(serde_json::from_value::<EmailProviderConfig>(bad_tls).is_err());
}

#[test]
fn every_problem_is_listed_and_no_secret_quoted() {
    let twilio = sms(
        json!({"provider": "twilio", "account_sid": "SK0123", "auth_token": " pasted-token-1234 ",
                            "from_number": "+0123", "base_url": "ftp://api.twilio.test"}),
    );
    let problems = twilio.validate();
    assert_eq!(problems.len(), 4, "{problems:?}");
    assert!(problems[0].starts_with("account_sid "));
    assert!(problems[1].starts_with("auth_token ") && problems[1].contains("whitespace"));
    assert!(problems[2].starts_with("from_number ") && problems[2].contains("E.164"));
    assert!(problems[3].starts_with("base_url "));
    assert!(
        problems.iter().all(|p| !p.contains("pasted-token")),
        "{problems:?}"
    );

    let sns = sms(
        json!({"provider": "aws_sns", "region": "Europe", "access_key_id": "akia-lower",
                         "secret_access_key": "", "endpoint_url": "https://user:pw@sns.test/?x=1"}),
    );
    let problems = sns.validate();
    assert_eq!(problems.len(), 5, "{problems:?}");
    assert!(problems[0].starts_with("region "));
    assert!(problems[1].starts_with("access_key_id "));
    assert!(problems[2].starts_with("secret_access_key "));
    assert!(problems[3].contains("user name or password") && problems[4].contains("query"));
    assert!(problems.iter().all(|p| !p.contains("pw@")), "{problems:?}");

    let vonage =
        sms(json!({"provider": "vonage", "api_key": "", "api_secret": "s", "from": "A Long Sender Name"}));
    let problems = vonage.validate();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].starts_with("api_key ") && problems[1].starts_with("from "));

    let webhook = sms(json!({"provider": "webhook", "url": "sms.acme.test/send", "secret": "short-secret"}));
    let problems = webhook.validate();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].starts_with("url ") && problems[1].starts_with("secret "));
    assert!(!problems[1].contains("short-secret"));

    let mail = smtp(
        json!({"provider": "smtp", "host": "smtp://mail.acme.test", "port": 0, "tls": "none",
                           "password": "hunter2hunter2", "from": "Acme no-reply@"}),
    );
    let problems = mail.validate();
    assert_eq!(problems.len(), 4, "{problems:?}");
    assert!(problems[0].starts_with("host ") && problems[1].starts_with("port "));
    assert!(problems[2].starts_with("from ") && problems[3].contains("together"));
    assert!(problems.iter().all(|p| !p.contains("hunter2")), "{problems:?}");

    let clear = smtp(
        json!({"provider": "smtp", "host": "mail.acme.test", "port": 25, "tls": "none",
                            "username": "u", "password": "p", "from": "a@acme.test"}),
    );
    let problems = clear.validate();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("clear text"));
}

#[test]
fn phone_numbers_regions_and_senders_follow_their_formats() {
    let twilio_from = |from: &str| {
        sms(
            json!({"provider": "twilio", "account_sid": "AC0123456789abcdef0123456789abcdef",
                   "auth_token": "t", "from_number": from}),
        )
        .validate()
        .is_empty()
    };
    for good in ["+14155552671", "+447700900123", "+12345678", "+123456789012345"] {
        assert!(twilio_from(good), "{good}");
    }
    for bad in [
        "14155552671",
        "+1234567",
        "+1234567890123456",
        "+04155552671",
        "+1 415 555 2671",
        "+１４１５５５５２６７１",
    ] {
        assert!(!twilio_from(bad), "{bad}");
    }
    let region = |r: &str| {
        sms(
            json!({"provider": "aws_sns", "region": r, "access_key_id": "AKIAIOSFODNN7EXAMPLE",
                   "secret_access_key": "s"}),
        )
        .validate()
        .is_empty()
    };
    for good in [
        "us-east-1",
        "eu-central-1",
        "ap-southeast-2",
        "us-gov-west-1",
        "cn-north-1",
    ] {
        assert!(region(good), "{good}");
    }
    for bad in ["", "us-east", "US-EAST-1", "useast1", "u-east-1", "us-east-1a"] {
        assert!(!region(bad), "{bad}");
    }
    let vonage_from = |from: &str| {
        sms(json!({"provider": "vonage", "api_key": "k", "api_secret": "s", "from": from}))
            .validate()
            .is_empty()
    };
    for good in ["Acme", "AcmeAuth123", "Acme Auth", "14155550100", "+14155550100"] {
        assert!(vonage_from(good), "{good}");
    }
    for bad in ["", "AcmeAuthentication", " Acme", "Acme!", "+Acme"] {
        assert!(!vonage_from(bad), "{bad}");
    }
}

#[test]
fn redacted_keeps_the_shape_and_hides_secrets() {
    let shown: Vec<serde_json::Value> = all_sms().iter().map(SmsProviderConfig::redacted).collect();
    assert_eq!(
        shown[0],
        json!({"provider": "twilio", "account_sid": "AC0123456789abcdef0123456789abcdef",
               "auth_token": "****1e0f", "from_number": "+15005550006"})
    );
    assert_eq!(
        shown[1],
        json!({"provider": "aws_sns", "region": "us-east-1", "access_key_id": "AKIAIOSFODNN7EXAMPLE",
               "secret_access_key": "****EKEY"})
    );
    assert_eq!(
        shown[2],
        json!({"provider": "vonage", "api_key": "a1b2c3d4", "api_secret": "****9876", "from": "Acme"})
    );
    assert_eq!(
        shown[3],
        json!({"provider": "webhook", "url": "https://sms.acme.test/send?tenant=7", "secret": "****eeff"})
    );
    assert_eq!(shown[4], json!({"provider": "console"}));
    for (secret, shown) in [
        (TWILIO_TOKEN, &shown[0]),
        (AWS_SECRET, &shown[1]),
        (VONAGE_SECRET, &shown[2]),
    ] {
        assert!(!shown.to_string().contains(secret), "{secret} in {shown}");
    }

    let mail = smtp(
        json!({"provider": "smtp", "host": "smtp.acme.test", "port": 465, "tls": "tls",
                           "username": "mailer", "password": SMTP_PASSWORD, "from": "no-reply@acme.test"}),
    );
    assert_eq!(
        mail.redacted(),
        json!({"provider": "smtp", "host": "smtp.acme.test", "port": 465, "tls": "tls",
               "username": "mailer", "password": "****4321", "from": "no-reply@acme.test"})
    );
    // Eight characters or fewer: not even the tail is shown.
    let short = smtp(json!({"provider": "smtp", "host": "h", "port": 25, "tls": "none",
                            "username": "u", "password": "12345678", "from": "a@b.c"}));
    assert_eq!(short.redacted()["password"], "****");
    let anonymous = EmailProviderConfig::Smtp {
        host: "h".into(),
        port: 25,
        tls: SmtpTls::None,
        username: None,
        password: None,
        from: "a@b.c".into(),
    };
    assert!(anonymous.redacted().get("password").is_none());
}

#[test]
fn sns_sender_settings_are_checked_and_shown() {
    let with = |extra: serde_json::Value| {
        let mut value = json!({"provider": "aws_sns", "region": "us-east-1",
                               "access_key_id": "AKIAIOSFODNN7EXAMPLE", "secret_access_key": AWS_SECRET});
        value
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        sms(value)
    };
    let good = with(json!({"origination_number": "+18005550100", "sender_id": "AcmeAuth"}));
    assert_eq!(good.validate(), Vec::<String>::new());
    assert_eq!(
        good.redacted(),
        json!({"provider": "aws_sns", "region": "us-east-1", "access_key_id": "AKIAIOSFODNN7EXAMPLE",
               "secret_access_key": "****EKEY", "origination_number": "+18005550100", "sender_id": "AcmeAuth"})
    );
    for id in ["A", "Acme1", "ACME2FA", "AcmeAuth123"] {
        assert!(with(json!({"sender_id": id})).validate().is_empty(), "{id}");
    }
    for id in [
        "",
        "AcmeAuthentication",
        "Acme Auth",
        "12345",
        "Acme-Auth",
        "Äcme",
    ] {
        let problems = with(json!({"sender_id": id})).validate();
        assert_eq!(problems.len(), 1, "{id}: {problems:?}");
        assert!(problems[0].starts_with("sender_id "), "{problems:?}");
    }
    for number in ["18005550100", "+0800555", "+1 800 555 0100", ""] {
        let problems = with(json!({"origination_number": number})).validate();
        assert_eq!(problems.len(), 1, "{number}: {problems:?}");
        assert!(problems[0].starts_with("origination_number "), "{problems:?}");
    }
}

#[test]
fn internal_destinations_are_refused_at_configuration_time() {
    use latchkey_delivery::Destinations;
    let providers = |base: &str| {
        vec![
            sms(
                json!({"provider": "twilio", "account_sid": "AC0123456789abcdef0123456789abcdef",
                       "auth_token": TWILIO_TOKEN, "from_number": "+15005550006", "base_url": base}),
            ),
            sms(
                json!({"provider": "aws_sns", "region": "us-east-1", "access_key_id": "AKIAIOSFODNN7EXAMPLE",
                       "secret_access_key": AWS_SECRET, "endpoint_url": base}),
            ),
            sms(
                json!({"provider": "vonage", "api_key": "a1b2c3d4", "api_secret": VONAGE_SECRET,
                       "from": "Acme", "base_url": base}),
            ),
            sms(
                json!({"provider": "webhook", "url": format!("{base}/send?tenant=7"), "secret": WEBHOOK_SECRET}),
            ),
        ]
    };
    for base in [
        "http://127.0.0.1:8080",
        "http://127.1",
        "http://[::1]:9000",
        "http://[::ffff:127.0.0.1]",
        "http://10.0.0.1",
        "http://169.254.169.254",
        "http://0.0.0.0:80",
        "https://localhost",
        "https://sms.localhost",
    ] {
        for cfg in providers(base) {
            assert_eq!(cfg.validate(), Vec::<String>::new(), "{base}");
            let problems = cfg.destination_problems(Destinations::PublicOnly);
            assert_eq!(problems.len(), 1, "{base} {}", cfg.name());
            assert!(problems[0].contains("allow_private_destinations"), "{problems:?}");
            assert!(
                !problems[0].contains(base),
                "the value is not quoted: {problems:?}"
            );
            assert!(cfg.destination_problems(Destinations::AllowPrivate).is_empty());
        }
    }
    for base in [
        "https://api.twilio.com",
        "https://8.8.8.8",
        "https://[2606:4700:4700::1111]",
    ] {
        for cfg in providers(base) {
            assert!(
                cfg.destination_problems(Destinations::PublicOnly).is_empty(),
                "{base}"
            );
        }
    }
    for cfg in all_sms() {
        assert!(
            cfg.destination_problems(Destinations::PublicOnly).is_empty(),
            "{}",
            cfg.name()
        );
    }

    let relay = |host: &str| {
        smtp(json!({"provider": "smtp", "host": host, "port": 25, "tls": "none", "from": "a@acme.test"}))
    };
    for host in [
        "127.0.0.1",
        "::1",
        "[::1]",
        "localhost",
        "127.1",
        "0x7f000001",
        "169.254.169.254",
        "10.1.2.3",
    ] {
        let problems = relay(host).destination_problems(Destinations::PublicOnly);
        assert_eq!(problems.len(), 1, "{host}");
        assert!(problems[0].starts_with("host "), "{problems:?}");
        assert!(relay(host)
            .destination_problems(Destinations::AllowPrivate)
            .is_empty());
    }
    for host in ["smtp.acme.test", "8.8.8.8"] {
        assert!(
            relay(host)
                .destination_problems(Destinations::PublicOnly)
                .is_empty(),
            "{host}"
        );
    }
}
