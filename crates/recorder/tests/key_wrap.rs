//! Data-key wrapping with age: round trip, refusal of the wrong identity, and interoperability
//! with the `age` command-line tool.

use herald_recorder::age::x25519::Identity;
use herald_recorder::{DataKey, KeyWrapError, RecipientKey, unwrap_data_key, wrap_data_key};

fn identity_and_recipient() -> (Identity, RecipientKey) {
    let identity = Identity::generate();
    let recipient = RecipientKey::from(identity.to_public());
    (identity, recipient)
}

#[test]
fn each_recipient_unwraps_its_own_copy_only() {
    let (alice, alice_key) = identity_and_recipient();
    let (bob, bob_key) = identity_and_recipient();
    let data_key = DataKey::from_bytes(*b"0123456789abcdef0123456789abcdef");
    let wrapped = wrap_data_key(&data_key, &[alice_key.clone(), bob_key.clone()]).expect("wraps");
    assert_eq!(wrapped.len(), 2);
    assert_eq!(wrapped[0].recipient, alice_key.id());
    assert_eq!(wrapped[1].recipient, bob_key.id());
    assert!(wrapped[0].age_file.starts_with(b"age-encryption.org/v1\n"));
    let unwrapped = unwrap_data_key(&wrapped[0].age_file, &alice).expect("alice unwraps");
    assert_eq!(unwrapped.expose_bytes(), data_key.expose_bytes());
    let unwrapped = unwrap_data_key(&wrapped[1].age_file, &bob).expect("bob unwraps");
    assert_eq!(unwrapped.expose_bytes(), data_key.expose_bytes());
    assert!(matches!(
        unwrap_data_key(&wrapped[0].age_file, &bob),
        Err(KeyWrapError::Decrypt(_))
    ));
    assert!(matches!(
        wrap_data_key(&data_key, &[]),
        Err(KeyWrapError::NoRecipients)
    ));
}

#[test]
fn an_age_file_that_is_not_a_data_key_is_refused() {
    let (identity, recipient) = identity_and_recipient();
    let recipient: herald_recorder::age::x25519::Recipient =
        recipient.to_text().parse().expect("recipient");
    for len in [31, 33, 1000] {
        let file = herald_recorder::age::encrypt(&recipient, &vec![7; len]).expect("encrypts");
        assert!(matches!(
            unwrap_data_key(&file, &identity),
            Err(KeyWrapError::NotADataKey)
        ));
    }
    assert!(matches!(
        unwrap_data_key(b"garbage", &identity),
        Err(KeyWrapError::Decrypt(_))
    ));
}

#[test]
fn recipient_text_parses_and_has_a_stable_id() {
    let text = "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj";
    let key = RecipientKey::parse(&format!("  {text}\n")).expect("parses");
    assert_eq!(key.to_text(), text);
    // The first 8 bytes of SHA-256 of the text (`printf %s TEXT | sha256sum`).
    assert_eq!(key.id().to_string(), "6a804773982840fa");
    for bad in [
        "",
        "age1",
        "AGE-SECRET-KEY-1",
        "ssh-ed25519 AAAA",
        &text[..text.len() - 1],
    ] {
        assert!(
            matches!(
                RecipientKey::parse(bad),
                Err(KeyWrapError::NotARecipient(_))
            ),
            "{bad:?}"
        );
    }
}

/// `age -d -i identity.txt wrapped.age` prints the 32 raw data-key bytes.
#[test]
fn the_age_cli_unwraps_a_wrapped_key() {
    let age = std::path::Path::new("/usr/bin/age");
    if !age.exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have the `age` CLI (apt package `age`)"
        );
        eprintln!("skipped: /usr/bin/age not installed (apt-get install age)");
        return;
    }
    let (identity, recipient) = identity_and_recipient();
    let data_key = DataKey::from_bytes([0xa5; 32]);
    let wrapped = wrap_data_key(&data_key, &[recipient]).expect("wraps");
    let dir = tempfile::tempdir().expect("temp dir");
    let identity_path = dir.path().join("identity.txt");
    let wrapped_path = dir.path().join("wrapped.age");
    use herald_recorder::age::secrecy::ExposeSecret;
    std::fs::write(
        &identity_path,
        format!("{}\n", identity.to_string().expose_secret()),
    )
    .expect("write identity");
    std::fs::write(&wrapped_path, &wrapped[0].age_file).expect("write wrapped key");
    let output = std::process::Command::new(age)
        .arg("-d")
        .arg("-i")
        .arg(&identity_path)
        .arg(&wrapped_path)
        .output()
        .expect("runs age");
    assert!(
        output.status.success(),
        "age failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.stdout, data_key.expose_bytes());
}
