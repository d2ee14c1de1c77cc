//! REGISTER processing (RFC 3261 §10.3): domain check, digest authentication
//! ([`crate::auth`]), authorization of the user for the address of record, then the binding
//! decision ([`crate::registrar`]). Bindings live in memory (the application persists every
//! change it is told about and restores them at start-up) together with where each phone
//! registered from, so that calls to it reuse its connection and reach it behind NAT.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use rand::RngCore;

use super::{ConnId, Endpoint, Event, Incoming, RequestCtx, Transport};
use crate::auth::{
    AuthFailure, Authenticated, DigestAuthenticator, DigestConfig, DigestCredentials, DigestHash,
    DigestRequest, FailureResponse, Ha1, Realm, ServerSecret,
};
use crate::message::headers::{self, NameAddr};
use crate::message::{HeaderName, Request};
use crate::registrar::{
    self, Binding, ContactEntry, ContactSpec, ContactsSpec, Outcome, RegisterRequest,
    RegistrarConfig,
};
use crate::uas::Checked;

/// A user's digest secrets (HA1 values; never plaintext passwords).
#[derive(Clone)]
pub struct UserCredentials {
    pub md5: Option<Ha1>,
    pub sha256: Option<Ha1>,
}

/// Registrar settings.
#[derive(Clone)]
pub struct RegistrarSettings {
    pub realm: String,
    /// The domain we are registrar for; IP-literal hosts are accepted too.
    pub domain: String,
    pub secret: ServerSecret,
    pub digest: DigestConfig,
    pub min_expires: u32,
    pub max_expires: u32,
    pub default_expires: u32,
    pub max_contacts: usize,
    pub users: Arc<HashMap<String, UserCredentials>>,
}

impl fmt::Debug for RegistrarSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistrarSettings")
            .field("realm", &self.realm)
            .field("domain", &self.domain)
            .field("users", &self.users.len())
            .finish_non_exhaustive()
    }
}

/// A binding with where it was registered from.
#[derive(Clone, Debug)]
struct Registered {
    binding: Binding,
    source: Option<SocketAddr>,
    transport: Option<Transport>,
    conn: Option<ConnId>,
    user_agent: Option<String>,
}

/// Registration state.
pub(crate) struct Registrar {
    settings: Option<Arc<RegistrarSettings>>,
    auth: Option<(DigestAuthenticator, Realm)>,
    bindings: HashMap<String, Vec<Registered>>,
}

impl Registrar {
    pub fn new(settings: Option<RegistrarSettings>) -> Self {
        let auth = settings.as_ref().and_then(|s| {
            let realm = Realm::new(s.realm.clone()).ok()?;
            Some((
                DigestAuthenticator::new(s.secret.clone(), s.digest.clone()),
                realm,
            ))
        });
        Self {
            settings: settings.map(Arc::new),
            auth,
            bindings: HashMap::new(),
        }
    }

    pub fn binding_count(&self) -> usize {
        self.bindings.values().map(Vec::len).sum()
    }

    pub fn restore(&mut self, aor: &str, bindings: Vec<super::Binding>) {
        let list = bindings.into_iter().map(|b| Registered {
            source: b.source,
            transport: b.transport.as_deref().and_then(transport_from_name),
            conn: None,
            user_agent: b.user_agent.clone(),
            binding: Binding {
                contact: b.contact,
                expires_at: b.expires_at,
                call_id: b.call_id,
                cseq: b.cseq,
                q: b.q_milli.and_then(registrar::QValue::from_millis),
                params: Vec::new(),
            },
        });
        self.bindings.insert(aor.to_owned(), list.collect());
    }

    pub fn current(&self, aor: &str, now_secs: u64) -> Vec<super::Binding> {
        self.bindings.get(aor).map_or_else(Vec::new, |list| {
            list.iter()
                .filter(|r| r.binding.is_live(now_secs))
                .map(public_binding)
                .collect()
        })
    }
}

fn transport_from_name(name: &str) -> Option<Transport> {
    Some(match name.to_ascii_lowercase().as_str() {
        "udp" => Transport::Udp,
        "tcp" => Transport::Tcp,
        "tls" => Transport::Tls,
        "ws" => Transport::Ws,
        "wss" => Transport::Wss,
        _ => return None,
    })
}

/// The binding as the application sees (and persists) it.
fn public_binding(r: &Registered) -> super::Binding {
    super::Binding {
        contact: r.binding.contact.clone(),
        expires_at: r.binding.expires_at,
        call_id: r.binding.call_id.clone(),
        cseq: r.binding.cseq,
        q_milli: r.binding.q.map(|q| q.millis()),
        source: r.source,
        transport: r.transport.map(|t| t.via_name().to_ascii_lowercase()),
        user_agent: r.user_agent.clone(),
        conn: r.conn,
    }
}

/// Parses the Contact header fields of a REGISTER.
fn contacts(req: &Request) -> Result<ContactsSpec, &'static str> {
    let mut entries = Vec::new();
    for value in req.headers.list(&HeaderName::Contact) {
        if value == "*" {
            entries.push(ContactEntry::Wildcard);
            continue;
        }
        let na = NameAddr::parse(value).map_err(|e| e.0)?;
        let mut spec = ContactSpec {
            uri: na.uri.to_string(),
            expires_param: None,
            q: None,
            params: Vec::new(),
        };
        for p in na.params {
            match (p.name.to_ascii_lowercase().as_str(), p.value.as_deref()) {
                ("expires", Some(v)) => {
                    spec.expires_param = Some(headers::parse_delta_seconds(v).map_err(|e| e.0)?)
                }
                ("q", Some(v)) => spec.q = Some(v.parse().map_err(|_| "malformed q value")?),
                _ => spec.params.push((p.name, p.value)),
            }
        }
        entries.push(ContactEntry::Contact(spec));
    }
    ContactsSpec::from_entries(entries).map_err(|_| "wildcard Contact with other contacts")
}

impl<R: RngCore> Endpoint<R> {
    pub(super) fn handle_register(
        &mut self,
        now: Instant,
        ctx: RequestCtx,
        req: &Request,
        checked: &Checked,
        incoming: &Incoming<'_>,
    ) {
        let Some(settings) = self.registrar.settings.clone() else {
            return self.respond(
                now,
                &ctx,
                req,
                403,
                Some("Registration not accepted here"),
                &[],
                None,
            );
        };
        let host = checked.to.uri.host.trim_matches(['[', ']']);
        if !host.eq_ignore_ascii_case(&settings.domain) && host.parse::<std::net::IpAddr>().is_err()
        {
            return self.respond(
                now,
                &ctx,
                req,
                404,
                Some("Domain not served here"),
                &[],
                None,
            );
        }
        let now_secs = (self.unix_ms(now) / 1000).max(0) as u64;
        let proof = match self.authenticate(req, &settings, now_secs) {
            Ok(proof) => proof,
            Err(Some((400, _))) => {
                return self.respond(
                    now,
                    &ctx,
                    req,
                    400,
                    Some("Malformed credentials"),
                    &[],
                    None,
                );
            }
            Err(Some((status, stale))) => {
                return self.challenge(now, &ctx, req, status, stale, now_secs);
            }
            Err(None) => return self.respond(now, &ctx, req, 403, None, &[], None),
        };
        if !may_register(proof, checked) {
            return self.respond(
                now,
                &ctx,
                req,
                403,
                Some("Not allowed to register this address"),
                &[],
                None,
            );
        }
        let contacts = match contacts(req) {
            Ok(c) => c,
            Err(reason) => return self.respond(now, &ctx, req, 400, Some(reason), &[], None),
        };
        let expires_header = req
            .headers
            .get(&HeaderName::Expires)
            .and_then(|v| headers::parse_delta_seconds(v).ok());
        // A phone that registers to Herald's address rather than its domain (`sip:alice@
        // 192.0.2.10`) is the same user: bindings are filed under the domain, where calls to
        // the user look for them.
        let aor = if host.eq_ignore_ascii_case(&settings.domain) {
            checked.to.uri.aor()
        } else {
            let user = checked.to.uri.user.clone().unwrap_or_default();
            format!("sip:{user}@{}", settings.domain.to_ascii_lowercase())
        };
        let request = RegisterRequest {
            aor: aor.clone(),
            call_id: checked.call_id.clone(),
            cseq: checked.cseq.seq,
            expires_header,
            contacts,
        };
        let config = RegistrarConfig {
            min_expires: settings.min_expires,
            max_expires: settings.max_expires,
            default_expires: settings.default_expires,
            max_contacts: settings.max_contacts,
        };
        let current: Vec<Binding> = self
            .registrar
            .bindings
            .get(&aor)
            .map_or_else(Vec::new, |l| l.iter().map(|r| r.binding.clone()).collect());
        match registrar::decide(&config, &request, &current, now_secs) {
            Outcome::Ok {
                bindings_after,
                changes,
            } => {
                let changed = !changes.is_empty();
                self.store_bindings(&aor, bindings_after, incoming, req);
                let extra: Vec<_> =
                    self.registrar
                        .bindings
                        .get(&aor)
                        .map_or_else(Vec::new, |list| {
                            list.iter()
                                .map(|r| {
                                    (
                                        HeaderName::Contact,
                                        format!(
                                            "<{}>;expires={}",
                                            r.binding.contact,
                                            r.binding.expires_in(now_secs)
                                        ),
                                    )
                                })
                                .collect()
                        });
                let tag = self.new_tag();
                self.respond(now, &ctx, req, 200, None, &extra, Some(&tag));
                if changed {
                    let bindings = self.registrar.current(&aor, now_secs);
                    let user_agent = req.headers.get(&HeaderName::UserAgent).map(str::to_owned);
                    self.event(Event::Registration {
                        aor,
                        bindings,
                        source: incoming.remote,
                        user_agent,
                    });
                }
            }
            Outcome::IntervalTooBrief { min_expires } => {
                let extra = [(HeaderName::MinExpires, min_expires.to_string())];
                self.respond(now, &ctx, req, 423, None, &extra, None);
            }
            other => {
                let reason = match other {
                    Outcome::BadRequest(_) => "Invalid Contact list",
                    Outcome::OutOfOrder => "CSeq out of order",
                    _ => "Too many contacts",
                };
                self.respond(now, &ctx, req, other.status_code(), Some(reason), &[], None);
            }
        }
    }

    /// Keeps where each binding that this REGISTER (re)created came from.
    fn store_bindings(
        &mut self,
        aor: &str,
        after: Vec<Binding>,
        incoming: &Incoming<'_>,
        req: &Request,
    ) {
        let old = self.registrar.bindings.remove(aor).unwrap_or_default();
        let ua = req.headers.get(&HeaderName::UserAgent).map(str::to_owned);
        let call_id = req.call_id().unwrap_or("");
        let list: Vec<Registered> = after
            .into_iter()
            .map(|binding| {
                let previous = old.iter().find(|r| r.binding.contact == binding.contact);
                match previous {
                    Some(p) if binding.call_id != call_id || p.binding.cseq == binding.cseq => {
                        Registered {
                            binding,
                            ..p.clone()
                        }
                    }
                    _ => Registered {
                        binding,
                        source: Some(incoming.remote),
                        transport: Some(incoming.transport),
                        conn: incoming.conn,
                        user_agent: ua.clone(),
                    },
                }
            })
            .collect();
        if !list.is_empty() {
            self.registrar.bindings.insert(aor.to_owned(), list);
        }
    }

    /// Verifies the request's Digest credentials. `Err(Some((401, stale)))` asks for a
    /// challenge, `Err(None)` means 403.
    fn authenticate(
        &mut self,
        req: &Request,
        settings: &RegistrarSettings,
        now_secs: u64,
    ) -> Result<Authenticated, Option<(u16, bool)>> {
        let Some((auth, realm)) = self.registrar.auth.as_mut() else {
            return Err(None);
        };
        let mut result = Err(Some((401, false)));
        for value in req.headers.get_all(&HeaderName::Authorization) {
            let Ok(creds) = DigestCredentials::parse(value) else {
                continue;
            };
            if creds.realm() != realm.as_str() {
                continue;
            }
            let request = DigestRequest {
                realm,
                method: req.method.as_str(),
                request_uri: &req.uri,
            };
            let users = &settings.users;
            let lookup = |user: &str, hash: DigestHash| {
                let u = users.get(user)?;
                let ha1 = if hash == DigestHash::Md5 {
                    u.md5.as_ref()
                } else {
                    u.sha256.as_ref()
                };
                ha1.cloned()
            };
            result = match auth.verify(&creds, &request, lookup, now_secs) {
                Ok(proof) => Ok(proof),
                Err(failure) => Err(failure_status(&failure)),
            };
            break;
        }
        result
    }

    fn challenge(
        &mut self,
        now: Instant,
        ctx: &RequestCtx,
        req: &Request,
        status: u16,
        stale: bool,
        now_secs: u64,
    ) {
        let Some((auth, realm)) = self.registrar.auth.as_mut() else {
            return;
        };
        let values = auth.challenges(realm, stale, now_secs, &mut self.rng);
        let extra: Vec<_> = values
            .into_iter()
            .map(|v| (HeaderName::WwwAuthenticate, v))
            .collect();
        let tag = self.new_tag();
        self.respond(now, ctx, req, status, None, &extra, Some(&tag));
    }
}

/// Authorization: an authenticated user may register only its own address of record (the To
/// user part). Takes the authentication proof by value: there is no way to get here without it.
fn may_register(proof: Authenticated, checked: &Checked) -> bool {
    let to_user = checked
        .to
        .uri
        .user_decoded()
        .map(|u| String::from_utf8_lossy(&u).into_owned());
    to_user.as_deref() == Some(proof.username())
}

fn failure_status(failure: &AuthFailure) -> Option<(u16, bool)> {
    match failure.response() {
        FailureResponse::Challenge { stale } => Some((401, stale)),
        FailureResponse::Forbidden => None,
        FailureResponse::BadRequest => Some((400, false)),
    }
}
