//! One test per rule of RFC 3261 §10.3 as implemented by `registrar::decide`.

use herald_sip::registrar::*;

const NOW: u64 = 1_700_000_000;
const CALL_ID: &str = "a84b4c76e66710@pc33.example.com";

fn config() -> RegistrarConfig {
    RegistrarConfig::default()
}

fn contact(uri: &str) -> ContactSpec {
    ContactSpec {
        uri: uri.to_owned(),
        expires_param: None,
        q: None,
        params: Vec::new(),
    }
}

fn contact_expiring(uri: &str, expires: u32) -> ContactSpec {
    ContactSpec {
        expires_param: Some(expires),
        ..contact(uri)
    }
}

fn request(cseq: u32, expires_header: Option<u32>, contacts: ContactsSpec) -> RegisterRequest {
    RegisterRequest {
        aor: "sip:alice@example.com".to_owned(),
        call_id: CALL_ID.to_owned(),
        cseq,
        expires_header,
        contacts,
    }
}

fn binding(uri: &str, expires_at: u64, call_id: &str, cseq: u32) -> Binding {
    Binding {
        contact: uri.to_owned(),
        expires_at,
        call_id: call_id.to_owned(),
        cseq,
        q: None,
        params: Vec::new(),
    }
}

fn ok(outcome: Outcome) -> (Vec<BindingChange>, Vec<Binding>) {
    match outcome {
        Outcome::Ok {
            changes,
            bindings_after,
        } => (changes, bindings_after),
        other => panic!("expected 200, got {other:?}"),
    }
}

fn contacts_of(bindings: &[Binding]) -> Vec<(&str, u32)> {
    bindings
        .iter()
        .map(|b| (b.contact.as_str(), b.expires_in(NOW)))
        .collect()
}

#[test]
fn fetch_lists_live_bindings_and_changes_nothing() {
    let current = [binding("sip:alice@10.0.0.1", NOW + 100, "other", 1)];
    let (changes, after) = ok(decide(
        &config(),
        &request(1, None, ContactsSpec::Fetch),
        &current,
        NOW,
    ));
    assert!(changes.is_empty());
    assert_eq!(contacts_of(&after), [("sip:alice@10.0.0.1", 100)]);
    let (changes, after) = ok(decide(
        &config(),
        &request(1, None, ContactsSpec::Fetch),
        &[],
        NOW,
    ));
    assert!(changes.is_empty() && after.is_empty());
}

#[test]
fn expired_bindings_are_removed_and_never_listed() {
    let current = [
        binding("sip:alice@10.0.0.1", NOW, "old", 1),
        binding("sip:alice@10.0.0.2", NOW + 1, "other", 1),
    ];
    let (changes, after) = ok(decide(
        &config(),
        &request(1, None, ContactsSpec::Fetch),
        &current,
        NOW,
    ));
    assert_eq!(
        changes,
        [BindingChange::Remove("sip:alice@10.0.0.1".to_owned())]
    );
    assert_eq!(contacts_of(&after), [("sip:alice@10.0.0.2", 1)]);
}

#[test]
fn expired_binding_with_same_call_id_does_not_block() {
    let current = [binding("sip:alice@10.0.0.1", NOW - 5, CALL_ID, 50)];
    let list = ContactsSpec::List(vec![contact("sip:alice@10.0.0.1")]);
    let (changes, after) = ok(decide(
        &config(),
        &request(2, Some(600), list),
        &current,
        NOW,
    ));
    assert_eq!(contacts_of(&after), [("sip:alice@10.0.0.1", 600)]);
    assert_eq!(
        changes.len(),
        2,
        "remove the expired row, upsert the new one: {changes:?}"
    );
}

#[test]
fn new_contact_takes_default_then_header_then_param() {
    let cfg = RegistrarConfig {
        default_expires: 1800,
        ..config()
    };
    let list = || ContactsSpec::List(vec![contact("sip:alice@10.0.0.1")]);
    let (_, after) = ok(decide(&cfg, &request(1, None, list()), &[], NOW));
    assert_eq!(contacts_of(&after), [("sip:alice@10.0.0.1", 1800)]);
    let (_, after) = ok(decide(&cfg, &request(1, Some(300), list()), &[], NOW));
    assert_eq!(contacts_of(&after), [("sip:alice@10.0.0.1", 300)]);
    let with_param = ContactsSpec::List(vec![contact_expiring("sip:alice@10.0.0.1", 120)]);
    let (changes, after) = ok(decide(&cfg, &request(1, Some(300), with_param), &[], NOW));
    assert_eq!(contacts_of(&after), [("sip:alice@10.0.0.1", 120)]);
    assert_eq!(changes, [BindingChange::Upsert(after[0].clone())]);
    assert_eq!(
        (
            after[0].call_id.as_str(),
            after[0].cseq,
            after[0].expires_at
        ),
        (CALL_ID, 1, NOW + 120)
    );
}

#[test]
fn several_contacts_in_one_request_keep_q_and_params() {
    let mut desk = contact_expiring("sip:alice@10.0.0.1;transport=tcp", 600);
    desk.q = "0.7".parse().ok();
    desk.params = vec![
        (
            "+sip.instance".to_owned(),
            Some("\"<urn:uuid:1>\"".to_owned()),
        ),
        ("ob".to_owned(), None),
    ];
    let mobile = contact("sip:alice@192.0.2.7:5070");
    let list = ContactsSpec::List(vec![desk.clone(), mobile]);
    let (changes, after) = ok(decide(&config(), &request(1, Some(900), list), &[], NOW));
    assert_eq!(
        contacts_of(&after),
        [
            ("sip:alice@10.0.0.1;transport=tcp", 600),
            ("sip:alice@192.0.2.7:5070", 900)
        ]
    );
    assert_eq!(after[0].q.map(QValue::millis), Some(700));
    assert_eq!(after[0].params, desk.params);
    assert_eq!(changes.len(), 2);
}

#[test]
fn refresh_with_higher_cseq_updates() {
    let current = [binding("sip:alice@10.0.0.1", NOW + 10, CALL_ID, 7)];
    let list = ContactsSpec::List(vec![contact("sip:alice@10.0.0.1")]);
    let (changes, after) = ok(decide(
        &config(),
        &request(8, Some(3600), list),
        &current,
        NOW,
    ));
    assert_eq!(contacts_of(&after), [("sip:alice@10.0.0.1", 3600)]);
    assert_eq!(after[0].cseq, 8);
    assert_eq!(changes, [BindingChange::Upsert(after[0].clone())]);
}

#[test]
fn another_call_id_replaces_regardless_of_cseq() {
    let current = [binding(
        "sip:alice@10.0.0.1",
        NOW + 10,
        "before-reboot",
        900,
    )];
    let list = ContactsSpec::List(vec![contact("sip:alice@10.0.0.1")]);
    let (_, after) = ok(decide(
        &config(),
        &request(1, Some(600), list),
        &current,
        NOW,
    ));
    assert_eq!((after[0].call_id.as_str(), after[0].cseq), (CALL_ID, 1));
}

#[test]
fn same_call_id_with_cseq_not_higher_is_out_of_order() {
    let current = [
        binding("sip:alice@10.0.0.1", NOW + 10, CALL_ID, 7),
        binding("sip:alice@10.0.0.2", NOW + 10, "other", 1),
    ];
    for cseq in [7, 6] {
        let list = ContactsSpec::List(vec![
            contact("sip:alice@10.0.0.2"),
            contact("sip:alice@10.0.0.1"),
        ]);
        let outcome = decide(&config(), &request(cseq, Some(600), list), &current, NOW);
        assert_eq!(outcome, Outcome::OutOfOrder);
        assert_eq!(outcome.status_code(), 500);
    }
    // A different contact under the same Call-ID is not blocked by the stored CSeq.
    let list = ContactsSpec::List(vec![contact("sip:alice@10.0.0.3")]);
    assert_eq!(
        decide(&config(), &request(7, Some(600), list), &current, NOW).status_code(),
        200
    );
}

#[test]
fn zero_expires_removes_one_binding() {
    let current = [
        binding("sip:alice@10.0.0.1", NOW + 10, CALL_ID, 1),
        binding("sip:alice@10.0.0.2", NOW + 10, "other", 1),
    ];
    let by_param = ContactsSpec::List(vec![contact_expiring("sip:alice@10.0.0.1", 0)]);
    let (changes, after) = ok(decide(
        &config(),
        &request(2, Some(3600), by_param),
        &current,
        NOW,
    ));
    assert_eq!(
        changes,
        [BindingChange::Remove("sip:alice@10.0.0.1".to_owned())]
    );
    assert_eq!(contacts_of(&after), [("sip:alice@10.0.0.2", 10)]);
    let by_header = ContactsSpec::List(vec![contact("sip:alice@10.0.0.1")]);
    let (changes, _) = ok(decide(
        &config(),
        &request(2, Some(0), by_header),
        &current,
        NOW,
    ));
    assert_eq!(
        changes,
        [BindingChange::Remove("sip:alice@10.0.0.1".to_owned())]
    );
}

#[test]
fn zero_expires_for_unknown_contact_is_a_no_op() {
    let list = ContactsSpec::List(vec![contact_expiring("sip:alice@10.0.0.9", 0)]);
    let (changes, after) = ok(decide(&config(), &request(1, None, list), &[], NOW));
    assert!(changes.is_empty() && after.is_empty());
}

#[test]
fn wildcard_removes_everything() {
    let current = [
        binding("sip:alice@10.0.0.1", NOW + 10, CALL_ID, 3),
        binding("sip:alice@10.0.0.2", NOW + 10, "other", 99),
    ];
    let (changes, after) = ok(decide(
        &config(),
        &request(4, Some(0), ContactsSpec::Wildcard),
        &current,
        NOW,
    ));
    assert!(after.is_empty());
    assert_eq!(
        changes,
        [
            BindingChange::Remove("sip:alice@10.0.0.1".to_owned()),
            BindingChange::Remove("sip:alice@10.0.0.2".to_owned()),
        ]
    );
    assert_eq!(
        decide(
            &config(),
            &request(3, Some(0), ContactsSpec::Wildcard),
            &current,
            NOW
        ),
        Outcome::OutOfOrder,
        "same Call-ID with CSeq not higher aborts the wildcard too"
    );
}

#[test]
fn wildcard_needs_expires_zero_and_to_stand_alone() {
    for expires in [None, Some(3600)] {
        let outcome = decide(
            &config(),
            &request(1, expires, ContactsSpec::Wildcard),
            &[],
            NOW,
        );
        assert_eq!(
            outcome,
            Outcome::BadRequest(BadRegister::WildcardWithoutZeroExpires)
        );
        assert_eq!(outcome.status_code(), 400);
    }
    let mixed = vec![
        ContactEntry::Wildcard,
        ContactEntry::Contact(contact("sip:alice@10.0.0.1")),
    ];
    assert_eq!(
        ContactsSpec::from_entries(mixed),
        Err(BadRegister::WildcardWithOtherContacts)
    );
    let twice = vec![ContactEntry::Wildcard, ContactEntry::Wildcard];
    assert_eq!(
        ContactsSpec::from_entries(twice),
        Err(BadRegister::WildcardWithOtherContacts)
    );
    assert_eq!(
        ContactsSpec::from_entries(vec![ContactEntry::Wildcard]),
        Ok(ContactsSpec::Wildcard)
    );
    assert_eq!(
        ContactsSpec::from_entries(Vec::new()),
        Ok(ContactsSpec::Fetch)
    );
}

#[test]
fn too_brief_interval_is_423_for_the_whole_request() {
    let list = ContactsSpec::List(vec![
        contact("sip:alice@10.0.0.1"),
        contact_expiring("sip:alice@10.0.0.2", 30),
    ]);
    let outcome = decide(&config(), &request(1, Some(600), list), &[], NOW);
    assert_eq!(outcome, Outcome::IntervalTooBrief { min_expires: 60 });
    assert_eq!(outcome.status_code(), 423);
    let header_only = ContactsSpec::List(vec![contact("sip:alice@10.0.0.1")]);
    assert_eq!(
        decide(&config(), &request(1, Some(59), header_only), &[], NOW).status_code(),
        423
    );
    let param_beats_header = ContactsSpec::List(vec![contact_expiring("sip:alice@10.0.0.1", 60)]);
    assert_eq!(
        decide(
            &config(),
            &request(1, Some(30), param_beats_header),
            &[],
            NOW
        )
        .status_code(),
        200
    );
}

#[test]
fn long_interval_is_clamped_to_max() {
    let list = ContactsSpec::List(vec![
        contact_expiring("sip:alice@10.0.0.1", 86_400),
        contact("sip:alice@10.0.0.2"),
    ]);
    let (_, after) = ok(decide(
        &config(),
        &request(1, Some(u32::MAX), list),
        &[],
        NOW,
    ));
    assert_eq!(
        contacts_of(&after),
        [("sip:alice@10.0.0.1", 3600), ("sip:alice@10.0.0.2", 3600)]
    );
}

#[test]
fn contact_limit() {
    let cfg = RegistrarConfig {
        max_contacts: 2,
        ..config()
    };
    let current = [
        binding("sip:alice@10.0.0.1", NOW + 10, "a", 1),
        binding("sip:alice@10.0.0.2", NOW + 10, "b", 1),
    ];
    let third = ContactsSpec::List(vec![contact("sip:alice@10.0.0.3")]);
    let outcome = decide(&cfg, &request(1, Some(600), third), &current, NOW);
    assert_eq!(outcome, Outcome::TooManyContacts { max: 2 });
    assert_eq!(outcome.status_code(), 403);
    let refresh = ContactsSpec::List(vec![contact("sip:alice@10.0.0.2")]);
    assert_eq!(
        decide(&cfg, &request(1, Some(600), refresh), &current, NOW).status_code(),
        200
    );
    let swap = ContactsSpec::List(vec![
        contact_expiring("sip:alice@10.0.0.1", 0),
        contact("sip:alice@10.0.0.3"),
    ]);
    let (changes, after) = ok(decide(&cfg, &request(1, Some(600), swap), &current, NOW));
    assert_eq!(
        contacts_of(&after),
        [("sip:alice@10.0.0.2", 10), ("sip:alice@10.0.0.3", 600)]
    );
    assert_eq!(changes.len(), 2);
    // Over a lowered limit: refreshing is fine, growing is not.
    let lowered = RegistrarConfig {
        max_contacts: 1,
        ..config()
    };
    let refresh = ContactsSpec::List(vec![contact("sip:alice@10.0.0.2")]);
    assert_eq!(
        decide(&lowered, &request(1, Some(600), refresh), &current, NOW).status_code(),
        200
    );
    let third = ContactsSpec::List(vec![contact("sip:alice@10.0.0.3")]);
    assert_eq!(
        decide(&lowered, &request(1, Some(600), third), &current, NOW).status_code(),
        403
    );
}

#[test]
fn equivalent_uri_spelled_differently_replaces_the_stored_one() {
    let current = [binding(
        "sip:alice@PC33.example.com;transport=TCP",
        NOW + 10,
        CALL_ID,
        1,
    )];
    let list = ContactsSpec::List(vec![contact("sip:alice@pc33.example.com;transport=tcp")]);
    let (changes, after) = ok(decide(
        &config(),
        &request(2, Some(600), list),
        &current,
        NOW,
    ));
    assert_eq!(
        contacts_of(&after),
        [("sip:alice@pc33.example.com;transport=tcp", 600)]
    );
    assert_eq!(
        changes,
        [
            BindingChange::Remove("sip:alice@PC33.example.com;transport=TCP".to_owned()),
            BindingChange::Upsert(after[0].clone()),
        ]
    );
    // A user part differing in case is another contact.
    let list = ContactsSpec::List(vec![contact("sip:Alice@pc33.example.com;transport=tcp")]);
    let (_, after) = ok(decide(
        &config(),
        &request(3, Some(600), list),
        &current,
        NOW,
    ));
    assert_eq!(after.len(), 2);
}

#[test]
fn later_equivalent_contact_in_the_same_request_wins() {
    let list = ContactsSpec::List(vec![
        contact_expiring("sip:alice@10.0.0.1", 600),
        contact_expiring("sip:alice@10.0.0.1", 0),
    ]);
    let (changes, after) = ok(decide(&config(), &request(1, None, list), &[], NOW));
    assert!(changes.is_empty() && after.is_empty());
}

#[test]
fn debug_output_hides_addresses() {
    let current = [binding(
        "sip:+15551234567@198.51.100.7",
        NOW + 10,
        "secret-call-id@198.51.100.7",
        1,
    )];
    let req = request(
        2,
        Some(600),
        ContactsSpec::List(vec![contact("sip:+15551234567@198.51.100.8")]),
    );
    let outcome = decide(&config(), &req, &current, NOW);
    let logged = format!("{req:?} {outcome:?} {current:?}");
    for secret in [
        "5551234567",
        "198.51.100",
        "alice",
        "secret-call-id",
        "pc33",
    ] {
        assert!(!logged.contains(secret), "{secret} leaked: {logged}");
    }
}
