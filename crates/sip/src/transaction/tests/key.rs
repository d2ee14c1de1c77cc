//! RFC 3261 §17.1.3 / §17.2.3 matching, the RFC 2543 fallback and CANCEL targeting.

use crate::transaction::{RequestIdentity, TransactionKey};

fn request(method: &'static str) -> RequestIdentity<'static> {
    RequestIdentity {
        method,
        branch: Some("z9hG4bK74bf9"),
        sent_by_host: "pc33.atlanta.example.com",
        sent_by_port: 5060,
        request_uri: "sip:bob@biloxi.example.com",
        call_id: "3848276298220188511@atlanta.example.com",
        from_tag: Some("9fxced76sl"),
        to_tag: None,
        cseq: 1,
        top_via: "SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK74bf9",
    }
}

fn legacy(method: &'static str) -> RequestIdentity<'static> {
    RequestIdentity {
        branch: Some("74bf9"),
        top_via: "SIP/2.0/UDP pc33.atlanta.example.com;branch=74bf9",
        ..request(method)
    }
}

#[test]
fn rfc3261_key_is_branch_sent_by_and_method_with_ack_as_invite() {
    let invite = TransactionKey::server(&request("INVITE"));
    assert!(matches!(invite, TransactionKey::Server(_)));
    assert_eq!(TransactionKey::server(&request("ACK")), invite);
    let shouting = RequestIdentity {
        sent_by_host: "PC33.Atlanta.Example.COM",
        ..request("INVITE")
    };
    assert_eq!(
        TransactionKey::server(&shouting),
        invite,
        "host names are case-insensitive"
    );
    // Fields outside the RFC 3261 key do not matter.
    let other_uri = RequestIdentity {
        request_uri: "sip:x@y",
        cseq: 9,
        ..request("INVITE")
    };
    assert_eq!(TransactionKey::server(&other_uri), invite);

    let other_port = RequestIdentity {
        sent_by_port: 5062,
        ..request("INVITE")
    };
    let other_branch = RequestIdentity {
        branch: Some("z9hG4bK74bfa"),
        ..request("INVITE")
    };
    assert_ne!(TransactionKey::server(&other_port), invite);
    assert_ne!(TransactionKey::server(&other_branch), invite);
    assert_ne!(TransactionKey::server(&request("BYE")), invite);
}

#[test]
fn cancel_is_its_own_transaction_but_finds_its_invite() {
    let invite = TransactionKey::server(&request("INVITE"));
    let cancel = TransactionKey::server(&request("CANCEL"));
    assert_ne!(cancel, invite);
    assert_eq!(cancel.method(), "CANCEL");
    assert_eq!(cancel.cancelled_invite(), Some(invite.clone()));
    assert_eq!(invite.cancelled_invite(), None);
    assert_eq!(
        TransactionKey::server(&request("BYE")).cancelled_invite(),
        None
    );
}

#[test]
fn non_cookie_branches_use_the_rfc_2543_key() {
    let invite = TransactionKey::server(&legacy("INVITE"));
    assert!(matches!(invite, TransactionKey::LegacyServer(_)));
    assert_eq!(invite.branch(), None);
    // The ACK for our non-2xx response carries our To tag; it still matches the INVITE.
    let ack = RequestIdentity {
        to_tag: Some("8321234356"),
        ..legacy("ACK")
    };
    assert_eq!(TransactionKey::server(&ack), invite);
    let no_branch = RequestIdentity {
        branch: None,
        ..legacy("INVITE")
    };
    assert!(matches!(
        TransactionKey::server(&no_branch),
        TransactionKey::LegacyServer(_)
    ));

    for changed in [
        RequestIdentity {
            request_uri: "sip:carol@chicago.example.com",
            ..legacy("INVITE")
        },
        RequestIdentity {
            call_id: "other",
            ..legacy("INVITE")
        },
        RequestIdentity {
            from_tag: Some("other"),
            ..legacy("INVITE")
        },
        RequestIdentity {
            cseq: 2,
            ..legacy("INVITE")
        },
        RequestIdentity {
            top_via: "SIP/2.0/UDP elsewhere;branch=74bf9",
            ..legacy("INVITE")
        },
    ] {
        assert_ne!(TransactionKey::server(&changed), invite);
    }
}

#[test]
fn rfc_2543_cancel_finds_its_invite() {
    let invite = TransactionKey::server(&legacy("INVITE"));
    let cancel = TransactionKey::server(&legacy("CANCEL"));
    assert_ne!(cancel, invite);
    assert_eq!(cancel.cancelled_invite(), Some(invite));
    // Non-INVITE requests keep the To tag in the key.
    let bye = TransactionKey::server(&RequestIdentity {
        to_tag: Some("a"),
        ..legacy("BYE")
    });
    let other_bye = TransactionKey::server(&RequestIdentity {
        to_tag: Some("b"),
        ..legacy("BYE")
    });
    assert_ne!(bye, other_bye);
}

#[test]
fn client_key_is_branch_and_cseq_method() {
    let invite = TransactionKey::client("z9hG4bK1", "INVITE");
    assert_eq!(invite, TransactionKey::client("z9hG4bK1", "INVITE"));
    assert_ne!(invite, TransactionKey::client("z9hG4bK1", "CANCEL"));
    assert_ne!(invite, TransactionKey::client("z9hG4bK2", "INVITE"));
    assert!(!invite.is_server());
    assert_eq!(invite.branch(), Some("z9hG4bK1"));
    assert_eq!(
        TransactionKey::client("z9hG4bK1", "OPTIONS").method(),
        "OPTIONS"
    );
}

#[test]
fn debug_output_hides_addresses_uris_and_call_ids() {
    let printed = format!(
        "{:?} {:?} {:?}",
        TransactionKey::server(&request("INVITE")),
        TransactionKey::server(&legacy("INVITE")),
        request("INVITE"),
    );
    for secret in ["atlanta", "biloxi", "3848276298220188511", "9fxced76sl"] {
        assert!(!printed.contains(secret), "{secret} leaked into {printed}");
    }
    assert!(printed.contains("z9hG4bK74bf9"));
}
