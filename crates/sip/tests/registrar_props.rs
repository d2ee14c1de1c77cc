//! Properties of `registrar::decide` over arbitrary requests and stored bindings.

use herald_sip::registrar::*;
use proptest::prelude::*;

const NOW: u64 = 1_700_000_000;

fn uri() -> impl Strategy<Value = String> {
    // A small space so that requests often hit stored contacts, in varying case.
    (
        "(alice|ALICE|bob)",
        "(10.0.0.1|10.0.0.2|Host.example)",
        "(|;transport=tcp|;transport=TCP|;ob)",
    )
        .prop_map(|(user, host, params)| format!("sip:{user}@{host}{params}"))
}

fn binding() -> impl Strategy<Value = Binding> {
    (uri(), 0..7200u64, "(a|b)", 0..5u32).prop_map(|(contact, offset, call_id, cseq)| Binding {
        contact,
        expires_at: NOW - 3600 + offset,
        call_id,
        cseq,
        q: None,
        params: Vec::new(),
    })
}

fn contact() -> impl Strategy<Value = ContactSpec> {
    (
        uri(),
        proptest::option::of(prop_oneof![Just(0u32), 1..100_000u32]),
    )
        .prop_map(|(uri, expires_param)| ContactSpec {
            uri,
            expires_param,
            q: None,
            params: Vec::new(),
        })
}

fn contacts() -> impl Strategy<Value = ContactsSpec> {
    prop_oneof![
        Just(ContactsSpec::Fetch),
        Just(ContactsSpec::Wildcard),
        proptest::collection::vec(contact(), 1..4).prop_map(ContactsSpec::List),
    ]
}

fn request() -> impl Strategy<Value = RegisterRequest> {
    (
        "(a|b)",
        0..5u32,
        proptest::option::of(prop_oneof![Just(0u32), 1..100_000u32]),
        contacts(),
    )
        .prop_map(
            |(call_id, cseq, expires_header, contacts)| RegisterRequest {
                aor: "sip:alice@example.com".to_owned(),
                call_id,
                cseq,
                expires_header,
                contacts,
            },
        )
}

/// Stored bindings as a store keyed by exact contact string would hold them.
fn stored() -> impl Strategy<Value = Vec<Binding>> {
    proptest::collection::vec(binding(), 0..6).prop_map(|mut list| {
        let mut seen = std::collections::HashSet::new();
        list.retain(|b| seen.insert(b.contact.clone()));
        list
    })
}

fn apply(current: &[Binding], changes: &[BindingChange]) -> Vec<Binding> {
    let mut store: Vec<Binding> = current.to_vec();
    for change in changes {
        match change {
            BindingChange::Remove(contact) => store.retain(|b| &b.contact != contact),
            BindingChange::Upsert(binding) => {
                match store.iter_mut().find(|b| b.contact == binding.contact) {
                    Some(slot) => *slot = binding.clone(),
                    None => store.push(binding.clone()),
                }
            }
        }
    }
    store
}

proptest! {
    #[test]
    fn committing_the_changes_yields_the_listed_bindings(req in request(), current in stored()) {
        let config = RegistrarConfig { max_contacts: 4, ..RegistrarConfig::default() };
        if let Outcome::Ok { changes, bindings_after } = decide(&config, &req, &current, NOW) {
            let mut stored = apply(&current, &changes);
            let mut listed = bindings_after.clone();
            stored.sort_by(|a, b| a.contact.cmp(&b.contact));
            listed.sort_by(|a, b| a.contact.cmp(&b.contact));
            prop_assert_eq!(stored, listed);
            let live_before = current.iter().filter(|b| b.is_live(NOW)).count();
            prop_assert!(bindings_after.len() <= config.max_contacts.max(live_before));
            for b in &bindings_after {
                prop_assert!(b.is_live(NOW));
                prop_assert!(b.expires_in(NOW) <= config.max_expires);
            }
        }
    }

    #[test]
    fn refusals_come_with_their_status(req in request(), current in stored()) {
        let outcome = decide(&RegistrarConfig::default(), &req, &current, NOW);
        let code = outcome.status_code();
        prop_assert!([200, 400, 403, 423, 500].contains(&code));
        if let Outcome::IntervalTooBrief { min_expires } = outcome {
            prop_assert_eq!(min_expires, 60);
        }
    }

    #[test]
    fn new_bindings_get_granted_intervals(req in request(), current in stored()) {
        let config = RegistrarConfig::default();
        if let Outcome::Ok { changes, .. } = decide(&config, &req, &current, NOW) {
            for change in changes {
                if let BindingChange::Upsert(b) = change {
                    let granted = b.expires_in(NOW);
                    prop_assert!((config.min_expires..=config.max_expires).contains(&granted));
                    prop_assert_eq!((b.call_id.as_str(), b.cseq), (req.call_id.as_str(), req.cseq));
                }
            }
        }
    }
}
