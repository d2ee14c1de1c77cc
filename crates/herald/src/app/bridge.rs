//! Transfers and bridges: the B2BUA side of the call application.
//!
//! A VoiceXML `<transfer>` (or an agent's REFER) names a destination ([`super::destination`]).
//! Herald places outbound legs to it (an agent group's members one after another or all at
//! once, a user's phone, a number over a trunk), plays ringback to the caller while they ring,
//! and bridges the first leg that answers to the caller's stream on the same media worker:
//! audio is relayed, transcoded only when the legs' codecs differ. The caller's stream keeps
//! its recording tap, so the recording stays one stereo file: the caller left, what the
//! caller hears (the IVR, then the agent) right.
//!
//! ```text
//!  <transfer> ──> Ringing (legs, ring timeouts, connecttimeout) ──answer──> Bridged
//!                    │  every leg busy / unanswered / out of time                │
//!                    └──> outcome to the IVR (busy, noanswer)        BYE either side
//!                                                                    (far_end / hang-up)
//! ```
//!
//! On hold (a re-INVITE with `sendonly`/`inactive` from either side) the relay stops, the held
//! party hears the group's hold music or silence, and the recording has a `hold` gap.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use herald_ivr::{TransferOutcome, TransferRequest};
use herald_media::codec::CodecKind;
use herald_sdp::SessionDescription;
use herald_sip::endpoint::{CallRef, ClientCredentials, EndCause, OutboundCall, Target, Transport};
use herald_sip::message::HeaderName;
use rand::RngCore;

use super::destination::{Destination, Directory};
use super::ivr::Pause;
use super::media::{CallMedia, build_stream};
use super::phones::PhoneProfile;
use super::{CallApp, Ep};
use crate::media::worker::{Command, StreamKey};

/// Who owns the recording pause of a hold: neither the document nor the API can end it.
pub(super) const HOLD_ACTOR: &str = "bridge";

/// A transfer in progress for a caller.
#[derive(Debug)]
pub(super) struct Transfer {
    dest: Destination,
    bridge: bool,
    started: Instant,
    /// The transfer's `connecttimeout`: no new leg after it, ringing ones are cancelled.
    deadline: Instant,
    max_time: Option<Duration>,
    /// Legs ringing now.
    ringing: Vec<CallRef>,
    /// Agents already rung for this transfer.
    tried: HashSet<String>,
    busy_seen: bool,
    /// The leg that answered.
    answered: Option<CallRef>,
    answered_at: Option<Instant>,
    /// The agent leg that asked for this transfer with REFER (it stays bridged until the
    /// new leg answers, and then gets the final NOTIFY and a BYE).
    referrer: Option<CallRef>,
}

/// One outbound leg.
pub(super) struct Leg {
    pub caller: CallRef,
    /// The agent rung (a username), or `None` for a number over a trunk.
    pub agent: Option<String>,
    pub media: CallMedia,
    offer: SessionDescription,
    pub stream: Option<StreamKey>,
    pub answered: bool,
    pub on_hold: bool,
    wrap_up: Option<Duration>,
    /// The leg asked for a transfer with REFER: its BYE no longer ends the caller's bridge.
    pub referring: bool,
    /// What the call record calls this leg: `agent:alice`, `number`.
    pub label: String,
}

/// What a leg ended as, for the transfer.
enum Attempt {
    Busy,
    NoAnswer,
    Failed,
}

impl CallApp {
    /// The document asked for a transfer.
    pub(super) fn start_transfer(
        &mut self,
        ep: &mut Ep,
        now: Instant,
        call: CallRef,
        request: TransferRequest,
    ) {
        let at = ep.unix_ms(now);
        let Some(live) = self.calls.get(&call) else {
            return;
        };
        let id = live.id.clone();
        let has_stream = live.media.as_ref().is_some_and(|m| m.stream.is_some());
        let resolved = self.directory().resolve(&request.dest);
        let dest = match resolved {
            Ok(dest) if has_stream => dest,
            Ok(_) => return self.transfer_error(ep, now, call, "error.connection.noresource"),
            Err(refused) => {
                let detail = serde_json::json!({ "refused": refused.as_str() });
                self.writer.event(&id, at, "transfer-refused", detail);
                return self.transfer_error(ep, now, call, "error.connection.baddestination");
            }
        };
        let detail = serde_json::json!({
            "to": dest_label(&dest),
            "bridge": request.bridge,
            "strategy": match &dest {
                Destination::Group(g) => self.board.group(g).map(|g| g.strategy.as_str()),
                _ => None,
            },
        });
        self.writer.event(&id, at, "transfer", detail);
        let timeout = if request.connect_timeout.is_zero() {
            Duration::from_secs(30)
        } else {
            request.connect_timeout
        };
        let transfer = Transfer {
            dest,
            bridge: request.bridge,
            started: now,
            deadline: now + timeout,
            max_time: request.max_time,
            ringing: Vec::new(),
            tried: HashSet::new(),
            busy_seen: false,
            answered: None,
            answered_at: None,
            referrer: None,
        };
        self.bridge_timers.insert((transfer.deadline, call));
        if let Some(live) = self.calls.get_mut(&call) {
            live.transfer = Some(transfer);
        }
        self.ring_next(ep, now, call);
    }

    fn transfer_error(&mut self, ep: &mut Ep, now: Instant, call: CallRef, event: &str) {
        if let Some(ivr) = self.ivr_mut(call) {
            ivr.interpreter().handle_transfer(
                now,
                TransferOutcome::Error(event.into()),
                Duration::ZERO,
            );
        }
        self.pump_ivr(ep, now, call);
    }

    fn directory(&self) -> Directory<'_> {
        Directory {
            domain: &self.directory.domain,
            groups: &self.directory.groups,
            users: &self.directory.users,
            trunks: &self.directory.trunks,
        }
    }

    /// Rings whoever is next for the caller's transfer, or ends it when nobody is left.
    fn ring_next(&mut self, ep: &mut Ep, now: Instant, call: CallRef) {
        let Some(transfer) = self.calls.get(&call).and_then(|l| l.transfer.as_ref()) else {
            return;
        };
        if transfer.answered.is_some() || !transfer.ringing.is_empty() {
            return;
        }
        if now >= transfer.deadline {
            let outcome = unanswered_outcome(transfer);
            return self.finish_transfer(ep, now, call, outcome);
        }
        let dest = transfer.dest.clone();
        let tried = transfer.tried.clone();
        let busy_seen = transfer.busy_seen;
        let targets: Vec<Option<String>> = match &dest {
            Destination::Group(group) => {
                let members = self.board.group(group).map(|g| g.members.clone());
                let registered: HashSet<String> = members
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|user| !self.bindings_of(ep, now, user).is_empty())
                    .collect();
                let is_registered = |user: &str| registered.contains(user);
                match self.board.pick(group, now, is_registered, &tried) {
                    Ok(users) => users.into_iter().map(Some).collect(),
                    Err(why) => {
                        let outcome = match why {
                            super::agents::Unavailable::AllBusy => TransferOutcome::Busy,
                            super::agents::Unavailable::NoneReachable if busy_seen => {
                                TransferOutcome::Busy
                            }
                            super::agents::Unavailable::NoneReachable => TransferOutcome::NoAnswer,
                        };
                        return self.finish_transfer(ep, now, call, outcome);
                    }
                }
            }
            Destination::User(user) if tried.contains(user) => {
                let outcome = if busy_seen {
                    TransferOutcome::Busy
                } else {
                    TransferOutcome::NoAnswer
                };
                return self.finish_transfer(ep, now, call, outcome);
            }
            Destination::User(user) => vec![Some(user.clone())],
            Destination::Number { .. } if !tried.is_empty() => {
                let outcome = if busy_seen {
                    TransferOutcome::Busy
                } else {
                    TransferOutcome::NoAnswer
                };
                return self.finish_transfer(ep, now, call, outcome);
            }
            Destination::Number { .. } => vec![None],
        };
        for agent in targets {
            self.place_leg(ep, now, call, &dest, agent);
        }
        let left = self
            .calls
            .get(&call)
            .and_then(|l| l.transfer.as_ref())
            .is_some_and(|t| t.ringing.is_empty() && t.answered.is_none());
        if left {
            // Nobody could be rung (no phone, no port): try the next one.
            self.ring_next(ep, now, call);
        }
    }

    /// Current registrations of a user.
    fn bindings_of(&self, ep: &Ep, now: Instant, user: &str) -> Vec<herald_sip::endpoint::Binding> {
        ep.bindings(&format!("sip:{user}@{}", self.directory.domain), now)
    }

    /// Places one leg: to `agent`'s phone, or to the trunk of a number.
    fn place_leg(
        &mut self,
        ep: &mut Ep,
        now: Instant,
        call: CallRef,
        dest: &Destination,
        agent: Option<String>,
    ) {
        if let (Some(user), Some(t)) = (
            &agent,
            self.calls.get_mut(&call).and_then(|l| l.transfer.as_mut()),
        ) {
            t.tried.insert(user.clone());
        }
        if let (Destination::Number { .. }, Some(t)) = (
            dest,
            self.calls.get_mut(&call).and_then(|l| l.transfer.as_mut()),
        ) {
            t.tried.insert("#number".into());
        }
        let Some(plan) = self.leg_plan(ep, now, call, dest, agent.as_deref()) else {
            return;
        };
        let Some(sockets) = self.ports.allocate() else {
            tracing::warn!("RTP port range exhausted; cannot place a transfer leg");
            return;
        };
        let session_id = self.rng.next_u64() >> 1;
        let mut policy = self.settings.policy.clone();
        let srtp = plan.srtp && policy.srtp != herald_sdp::SrtpPolicy::Disabled;
        policy.srtp = if srtp {
            herald_sdp::SrtpPolicy::Required
        } else {
            herald_sdp::SrtpPolicy::Disabled
        };
        let mut media = CallMedia::new_with_suites(
            sockets,
            plan.local.ip(),
            session_id,
            &policy,
            srtp,
            plan.profile.sdes_suites,
            &mut self.rng,
        );
        let offer = media.offer(&policy);
        let leg = ep.invite(
            now,
            OutboundCall {
                target: plan.target,
                local: plan.local,
                request_uri: plan.request_uri,
                from: plan.from,
                to: plan.to,
                sdp: Bytes::from(offer.to_string()),
                headers: plan.headers,
                credentials: plan.credentials,
            },
        );
        let label = match &agent {
            Some(user) => format!("agent:{user}"),
            None => "number".to_owned(),
        };
        let wrap_up = match dest {
            Destination::Group(group) => self.board.group(group).map(|g| g.wrap_up),
            _ => None,
        };
        if let Some(user) = &agent {
            self.board.seize(user);
        }
        let ring_timeout = match dest {
            Destination::Group(group) => self.board.group(group).map(|g| g.ring_timeout),
            _ => None,
        };
        let Some(live) = self.calls.get_mut(&call) else {
            return;
        };
        let Some(transfer) = live.transfer.as_mut() else {
            return;
        };
        transfer.ringing.push(leg);
        let give_up = ring_timeout.map_or(transfer.deadline, |t| (now + t).min(transfer.deadline));
        self.bridge_timers.insert((give_up, leg));
        let id = live.id.clone();
        self.legs.insert(
            leg,
            Leg {
                caller: call,
                agent,
                media,
                offer,
                stream: None,
                answered: false,
                on_hold: false,
                wrap_up,
                referring: false,
                label: label.clone(),
            },
        );
        let detail = serde_json::json!({ "to": label, "profile": plan.profile.name });
        self.writer
            .event(&id, ep.unix_ms(now), "leg-ringing", detail);
    }

    /// Where and how a leg's INVITE goes.
    fn leg_plan(
        &self,
        ep: &Ep,
        now: Instant,
        call: CallRef,
        dest: &Destination,
        agent: Option<&str>,
    ) -> Option<LegPlan> {
        let live = self.calls.get(&call)?;
        let caller = &live.identity;
        let domain = &self.directory.domain;
        let from = if caller.private || caller.number.is_empty() {
            "\"Anonymous\" <sip:anonymous@anonymous.invalid>".to_owned()
        } else {
            format!("\"{0}\" <sip:{0}@{domain}>", caller.number)
        };
        match (dest, agent) {
            (_, Some(user)) => {
                let binding = self
                    .bindings_of(ep, now, user)
                    .into_iter()
                    .max_by_key(|b| (b.q_milli.unwrap_or(1000), b.expires_at))?;
                let transport = match binding.transport.as_deref() {
                    Some("tcp") => Transport::Tcp,
                    Some("tls") => Transport::Tls,
                    Some("ws") => Transport::Ws,
                    Some("wss") => Transport::Wss,
                    _ => Transport::Udp,
                };
                let addr = binding.source?;
                let local = self.local_address(transport, addr)?;
                let profile = super::phones::profile_for(binding.user_agent.as_deref());
                let srtp_allowed = transport == Transport::Tls || self.settings.srtp_over_plain_sip;
                let srtp = srtp_allowed && self.directory.srtp_users.contains(user);
                Some(LegPlan {
                    target: Target {
                        transport,
                        addr,
                        conn: binding.conn,
                    },
                    local,
                    request_uri: binding.contact.clone(),
                    from,
                    to: format!("<sip:{user}@{domain}>"),
                    headers: Vec::new(),
                    credentials: None,
                    profile,
                    srtp,
                })
            }
            (Destination::Number { trunk, e164 }, None) => {
                let config = self.directory.trunks.get(*trunk)?;
                let target = self.trunk_targets.get(*trunk).copied().flatten()?;
                let local = self.local_address(target.transport, target.addr)?;
                let host = target.addr;
                let dialled = config.numbering.dial(e164);
                let mut headers = Vec::new();
                if !caller.number.is_empty() {
                    headers.push((
                        HeaderName::Other("P-Asserted-Identity".into()),
                        format!("<sip:{}@{domain}>", caller.number),
                    ));
                }
                if caller.private {
                    headers.push((HeaderName::Other("Privacy".into()), "id".to_owned()));
                }
                let credentials = match (&config.username, &config.password) {
                    (Some(username), Some(password)) => Some(ClientCredentials {
                        username: username.clone(),
                        password: password.expose().to_owned(),
                    }),
                    _ => None,
                };
                Some(LegPlan {
                    target,
                    local,
                    request_uri: format!("sip:{dialled}@{host};user=phone"),
                    from,
                    to: format!("<sip:{dialled}@{host};user=phone>"),
                    headers,
                    credentials,
                    profile: super::phones::profile_for(None),
                    srtp: false,
                })
            }
            _ => None,
        }
    }

    /// Our address on a transport, as a peer at `peer` reaches it.
    pub(super) fn local_address(
        &self,
        transport: Transport,
        peer: SocketAddr,
    ) -> Option<SocketAddr> {
        let listener = self
            .local_addresses
            .iter()
            .find(|l| l.transport == transport)?;
        if listener.per_peer {
            let ip = crate::sip_io::route_source(peer)?;
            return Some(SocketAddr::new(ip, listener.addr.port()));
        }
        Some(listener.addr)
    }

    /// 180/183 on a leg: ringback for the caller (the agent's early media when it sends some).
    pub(super) fn leg_progress(&mut self, now: Instant, leg: CallRef, sdp: Option<Bytes>) {
        let Some(l) = self.legs.get(&leg) else {
            return;
        };
        let caller = l.caller;
        if let Some(sdp) = sdp {
            return self.leg_media(now, leg, &sdp, false);
        }
        self.play_ringback(caller);
    }

    /// Plays ringback on the caller's stream (the IVR's prompts have ended by now).
    fn play_ringback(&mut self, caller: CallRef) {
        let Some(live) = self.calls.get_mut(&caller) else {
            return;
        };
        if live.hearing_ringback {
            return;
        }
        if live.ivr.as_ref().is_some_and(super::ivr::IvrCall::busy) {
            live.ringback_wanted = true;
            return;
        }
        live.ringback_wanted = false;
        let Some(stream) = live.media.as_ref().and_then(|m| m.stream) else {
            return;
        };
        let Some((codec, ptime)) = live.ivr.as_ref().and_then(|i| i.media) else {
            return;
        };
        if let Some(prompt) = self.prompts.ringback(codec, ptime) {
            live.hearing_ringback = true;
            live.bridge_audio += 1;
            self.engine.command(
                stream,
                Command::Play {
                    key: stream,
                    prompt,
                    barge_in: false,
                },
            );
        }
    }

    /// Stops ringback or hold music on the caller's stream.
    fn stop_caller_audio(&mut self, caller: CallRef) {
        let Some(live) = self.calls.get_mut(&caller) else {
            return;
        };
        let stream = live.media.as_ref().and_then(|m| m.stream);
        if (live.hearing_ringback || live.hearing_hold_music)
            && let Some(stream) = stream
        {
            self.engine.command(stream, Command::Stop { key: stream });
        }
        live.hearing_ringback = false;
        live.hearing_hold_music = false;
        live.ringback_wanted = false;
    }

    /// A prompt finished on the caller's stream: when it was the bridge's (ringback, hold
    /// music), it loops unless stopped, and `true` says the IVR has nothing to do with it.
    pub(super) fn bridge_audio_finished(&mut self, caller: CallRef, interrupted: bool) -> bool {
        let Some(live) = self.calls.get_mut(&caller) else {
            return false;
        };
        if live.bridge_audio == 0 {
            return false;
        }
        live.bridge_audio -= 1;
        if interrupted {
            return true;
        }
        if live.hearing_ringback {
            live.hearing_ringback = false;
            self.play_ringback(caller);
        } else if live.hearing_hold_music {
            live.hearing_hold_music = false;
            self.play_hold_music(caller);
        }
        true
    }

    /// The IVR's prompts have played: an answered leg is connected now, or ringback starts.
    pub(super) fn after_ivr_prompts(&mut self, caller: CallRef) {
        let Some(live) = self.calls.get_mut(&caller) else {
            return;
        };
        if live.ivr.as_ref().is_some_and(super::ivr::IvrCall::busy) {
            return;
        }
        if live.connect_when_quiet {
            live.connect_when_quiet = false;
            if let Some(leg) = live.bridged {
                self.connect(caller, leg);
            }
            return;
        }
        let ringing = live.ringback_wanted && live.bridged.is_none() && live.transfer.is_some();
        if ringing {
            self.play_ringback(caller);
        }
    }

    /// Connects the caller to a leg now, or once the IVR's prompts have played.
    fn connect_when_prompts_done(&mut self, caller: CallRef, leg: CallRef) {
        let Some(live) = self.calls.get_mut(&caller) else {
            return;
        };
        if live.ivr.as_ref().is_some_and(super::ivr::IvrCall::busy) {
            live.connect_when_quiet = true;
            return;
        }
        self.connect(caller, leg);
    }

    /// The leg answered: its media is bridged to the caller, the other legs are cancelled.
    pub(super) fn leg_answered(
        &mut self,
        ep: &mut Ep,
        now: Instant,
        leg: CallRef,
        sdp: Option<Bytes>,
    ) {
        let Some(l) = self.legs.get_mut(&leg) else {
            // Not a leg we know any more (the caller left meanwhile): hang it up.
            return ep.hangup(now, leg);
        };
        l.answered = true;
        let caller = l.caller;
        let label = l.label.clone();
        let taken = self
            .calls
            .get(&caller)
            .and_then(|c| c.transfer.as_ref())
            .is_none_or(|t| t.answered.is_some());
        if taken {
            // Another leg answered first (ring-all), or the transfer is over.
            return ep.hangup(now, leg);
        }
        let Some(sdp) = sdp else {
            // A 2xx without SDP to our offer breaks RFC 3264: nothing to bridge.
            return ep.hangup(now, leg);
        };
        if self.legs.get(&leg).is_some_and(|l| l.stream.is_none()) {
            self.leg_media(now, leg, &sdp, true);
        }
        if self.legs.get(&leg).is_none_or(|l| l.stream.is_none()) {
            return ep.hangup(now, leg);
        }
        let Some(live) = self.calls.get_mut(&caller) else {
            return ep.hangup(now, leg);
        };
        let Some(transfer) = live.transfer.as_mut() else {
            return ep.hangup(now, leg);
        };
        transfer.answered = Some(leg);
        transfer.answered_at = Some(now);
        transfer.ringing.retain(|l| *l != leg);
        let others = std::mem::take(&mut transfer.ringing);
        let referrer = transfer.referrer.take();
        let blind = !transfer.bridge;
        let id = live.id.clone();
        live.bridged = Some(leg);
        self.bridge_timers.retain(|(_, c)| *c != leg);
        if let Some(max) = self
            .calls
            .get(&caller)
            .and_then(|c| c.transfer.as_ref())
            .and_then(|t| t.max_time)
        {
            self.bridge_timers.insert((now + max, leg));
        }
        for other in others {
            ep.hangup(now, other);
        }
        self.stop_caller_audio(caller);
        self.connect_when_prompts_done(caller, leg);
        let detail = serde_json::json!({ "to": label });
        self.writer.event(&id, ep.unix_ms(now), "bridged", detail);
        if let Some(old) = referrer {
            // The REFER that asked for this leg succeeded: tell the agent who sent it, and
            // end their leg.
            ep.refer_progress(now, old, 200);
            if let Some(old_leg) = self.legs.get_mut(&old) {
                old_leg.referring = false;
            }
            ep.hangup(now, old);
        }
        if blind {
            // A blind transfer hands the caller over: the document's session ends now.
            if let Some(ivr) = self.ivr_mut(caller) {
                ivr.interpreter()
                    .handle_transfer(now, TransferOutcome::Unknown, Duration::ZERO);
            }
            self.pump_ivr(ep, now, caller);
        }
    }

    /// Applies a leg's answer (final or early) and opens its stream beside the caller's.
    fn leg_media(&mut self, now: Instant, leg: CallRef, sdp: &[u8], final_answer: bool) {
        let Some(l) = self.legs.get_mut(&leg) else {
            return;
        };
        let caller = l.caller;
        let negotiated = SessionDescription::parse(sdp)
            .ok()
            .and_then(|answer| herald_sdp::accept_answer(&l.offer, &answer).ok());
        let Some(audio) = negotiated else {
            let id = self
                .calls
                .get(&caller)
                .map(|c| c.id.clone())
                .unwrap_or_default();
            let detail = serde_json::json!({ "to": l.label, "final": final_answer });
            self.writer.event(&id, 0, "leg-sdp-rejected", detail);
            return;
        };
        if l.stream.is_some() {
            // Early media already runs on this stream; the final answer may move it.
            l.media.negotiated = Some(audio);
            if let (Some(key), Some(update)) = (l.stream, l.media.update()) {
                self.engine.command(
                    key,
                    Command::Update {
                        key,
                        update: Box::new(update),
                    },
                );
            }
            return;
        }
        l.media.negotiated = Some(audio.clone());
        let Some(socket) = l.media.socket.take() else {
            return;
        };
        let rtcp = l.media.rtcp_socket.take().filter(|_| !audio.rtcp_mux);
        let prompts = &mut self.prompts;
        let silence = |codec: CodecKind, ptime: Duration| prompts.silence(codec, ptime);
        let Ok(stream) = build_stream(&audio, &self.settings, silence, &mut self.rng, now) else {
            return;
        };
        let beside = self
            .calls
            .get(&caller)
            .and_then(|c| c.media.as_ref())
            .and_then(|m| m.stream);
        let key = match beside {
            Some(beside) => self.engine.open_beside(socket, rtcp, stream, beside),
            None => self.engine.open(socket, rtcp, stream),
        };
        l.stream = Some(key);
        self.leg_streams.insert(key, leg);
        if !final_answer {
            // Early media: the caller hears what the far end plays until it answers.
            self.stop_caller_audio(caller);
            self.connect_when_prompts_done(caller, leg);
        }
    }

    /// Relays audio both ways between the caller's stream and the leg's.
    fn connect(&mut self, caller: CallRef, leg: CallRef) {
        let a = self
            .calls
            .get(&caller)
            .and_then(|c| c.media.as_ref())
            .and_then(|m| m.stream);
        let b = self.legs.get(&leg).and_then(|l| l.stream);
        if let (Some(a), Some(b)) = (a, b)
            && !self.engine.bridge(a, b)
        {
            tracing::warn!("a call's legs are on different media workers; they cannot be bridged");
        }
    }

    fn disconnect(&mut self, caller: CallRef, leg: CallRef) {
        let a = self
            .calls
            .get(&caller)
            .and_then(|c| c.media.as_ref())
            .and_then(|m| m.stream);
        let leg_has_stream = self.legs.get(&leg).is_some_and(|l| l.stream.is_some());
        if let (Some(a), true) = (a, leg_has_stream) {
            self.engine.unbridge(a);
        }
    }

    /// A leg ended (answered or not).
    pub(super) fn leg_ended(
        &mut self,
        ep: &mut Ep,
        now: Instant,
        leg: CallRef,
        cause: EndCause,
        status: Option<u16>,
    ) {
        self.bridge_timers.retain(|(_, c)| *c != leg);
        let Some(l) = self.legs.remove(&leg) else {
            return;
        };
        if let Some(key) = l.stream {
            self.engine.command(key, Command::Close { key });
        }
        if let Some(user) = &l.agent {
            self.board.release(
                user,
                now,
                l.answered.then_some(l.wrap_up.unwrap_or_default()),
            );
        }
        let caller = l.caller;
        let Some(live) = self.calls.get_mut(&caller) else {
            return;
        };
        let id = live.id.clone();
        let at = ep.unix_ms(now);
        if live.bridged == Some(leg) {
            live.bridged = None;
            let by_far_end = cause == EndCause::CallerBye;
            let detail = serde_json::json!({
                "to": l.label,
                "by": if by_far_end { "agent" } else { "herald" },
            });
            self.writer.event(&id, at, "bridge-ended", detail);
            if l.on_hold {
                self.end_hold_gap(caller);
            }
            let Some(live) = self.calls.get_mut(&caller) else {
                return;
            };
            if l.referring {
                // The agent left after asking for a transfer: the caller waits for the new
                // leg with ringback.
                self.play_ringback(caller);
                return;
            }
            let transfer = live.transfer.take();
            if live.ended {
                return;
            }
            if by_far_end {
                live.ended_by_agent = true;
            }
            let duration = transfer
                .as_ref()
                .and_then(|t| t.answered_at)
                .map_or(Duration::ZERO, |a| now.saturating_duration_since(a));
            let max_time = cause == EndCause::LocalHangup
                && transfer
                    .as_ref()
                    .and_then(|t| t.max_time)
                    .is_some_and(|m| duration >= m);
            let outcome = match () {
                () if max_time => TransferOutcome::MaxTimeDisconnect,
                () if by_far_end => TransferOutcome::FarEndDisconnect,
                () => TransferOutcome::NetworkDisconnect,
            };
            if transfer.is_some_and(|t| t.bridge) {
                self.stop_caller_audio(caller);
                if let Some(ivr) = self.ivr_mut(caller) {
                    ivr.interpreter().handle_transfer(now, outcome, duration);
                }
                self.pump_ivr(ep, now, caller);
            } else if !self.calls.get(&caller).is_some_and(|c| c.ended) {
                // After a blind transfer the caller's call ends with the far end.
                ep.hangup(now, caller);
            }
            return;
        }
        let Some(transfer) = live.transfer.as_mut() else {
            return;
        };
        if !transfer.ringing.contains(&leg) {
            return;
        }
        transfer.ringing.retain(|c| *c != leg);
        let attempt = match (cause, status) {
            (_, Some(486 | 600 | 603)) => Attempt::Busy,
            (EndCause::LocalHangup, Some(200)) => Attempt::NoAnswer,
            (EndCause::LocalHangup | EndCause::Unanswered, Some(408 | 480 | 487) | None) => {
                Attempt::NoAnswer
            }
            _ => Attempt::Failed,
        };
        let (event, busy) = match attempt {
            Attempt::Busy => ("leg-busy", true),
            Attempt::NoAnswer => ("leg-no-answer", false),
            Attempt::Failed => ("leg-failed", false),
        };
        transfer.busy_seen |= busy;
        let referrer = transfer.referrer;
        let detail = serde_json::json!({ "to": l.label, "status": status });
        self.writer.event(&id, at, event, detail);
        let _ = referrer;
        self.ring_next(ep, now, caller);
    }

    /// Ends a transfer that got no answer; its outcome goes to the document.
    fn finish_transfer(
        &mut self,
        ep: &mut Ep,
        now: Instant,
        call: CallRef,
        outcome: TransferOutcome,
    ) {
        self.bridge_timers.retain(|(_, c)| *c != call);
        let Some(live) = self.calls.get_mut(&call) else {
            return;
        };
        let Some(transfer) = live.transfer.take() else {
            return;
        };
        let id = live.id.clone();
        for leg in &transfer.ringing {
            ep.hangup(now, *leg);
        }
        self.stop_caller_audio(call);
        let detail = serde_json::json!({ "outcome": outcome.as_str() });
        self.writer
            .event(&id, ep.unix_ms(now), "transfer-ended", detail);
        if let Some(referrer) = transfer.referrer {
            // An agent's REFER failed: they learn why, and the caller stays with them if
            // their leg is still up.
            let status = match outcome {
                TransferOutcome::Busy => 486,
                TransferOutcome::NoAnswer => 480,
                _ => 503,
            };
            ep.refer_progress(now, referrer, status);
            if let Some(l) = self.legs.get_mut(&referrer) {
                l.referring = false;
                if let Some(live) = self.calls.get_mut(&call) {
                    live.bridged = Some(referrer);
                }
                self.connect(call, referrer);
                return;
            }
            // Their leg is gone too: the bridge is over for the document.
            if let Some(ivr) = self.ivr_mut(call) {
                ivr.interpreter().handle_transfer(
                    now,
                    TransferOutcome::FarEndDisconnect,
                    Duration::ZERO,
                );
            }
            return self.pump_ivr(ep, now, call);
        }
        if let Some(ivr) = self.ivr_mut(call) {
            let waited = now.saturating_duration_since(transfer.started);
            ivr.interpreter().handle_transfer(now, outcome, waited);
        }
        self.pump_ivr(ep, now, call);
    }

    /// Ring timeouts, connect timeouts and bridge time limits that are due.
    pub(super) fn bridge_timeouts(&mut self, ep: &mut Ep, now: Instant) {
        while let Some(&(at, call)) = self.bridge_timers.first() {
            if at > now {
                break;
            }
            self.bridge_timers.pop_first();
            if self.legs.contains_key(&call) {
                // A leg rang too long (CANCEL; its end moves the transfer on), or a bridge
                // reached the transfer's maxtime (BYE).
                ep.hangup(now, call);
            } else if let Some(transfer) = self.calls.get(&call).and_then(|c| c.transfer.as_ref())
                && transfer.answered.is_none()
            {
                let outcome = unanswered_outcome(transfer);
                self.finish_transfer(ep, now, call, outcome);
            }
        }
    }

    /// The caller's call ended: every leg of it ends too.
    pub(super) fn caller_gone(&mut self, ep: &mut Ep, now: Instant, call: CallRef) {
        if let Some(live) = self.calls.get_mut(&call)
            && !live.ended
            && let Some(leg) = live.bridged.take()
        {
            let label = self.legs.get(&leg).map(|l| l.label.clone());
            let detail = serde_json::json!({ "to": label, "by": "caller" });
            self.writer
                .event(&live.id, ep.unix_ms(now), "bridge-ended", detail);
        }
        let legs: Vec<CallRef> = self
            .legs
            .iter()
            .filter(|(_, l)| l.caller == call)
            .map(|(c, _)| *c)
            .collect();
        for leg in legs {
            ep.hangup(now, leg);
        }
        self.bridge_timers.retain(|(_, c)| *c != call);
    }

    /// A re-INVITE or UPDATE on a leg (the agent holds or resumes, or refreshes).
    pub(super) fn leg_offer(
        &mut self,
        ep: &mut Ep,
        now: Instant,
        leg: CallRef,
        offer: Option<Bytes>,
    ) {
        let Some(l) = self.legs.get_mut(&leg) else {
            return ep.reject_offer(
                now,
                leg,
                herald_sip::endpoint::FinalStatus::NOT_ACCEPTABLE_HERE,
            );
        };
        let result = match &offer {
            Some(o) => l.media.answer(o, &self.settings.policy),
            None => Ok(l.media.offer(&self.settings.policy)),
        };
        let sdp = match result {
            Ok(sdp) => sdp,
            Err(status) => {
                let status = herald_sip::endpoint::FinalStatus::new(status)
                    .unwrap_or(herald_sip::endpoint::FinalStatus::NOT_ACCEPTABLE_HERE);
                return ep.reject_offer(now, leg, status);
            }
        };
        let held = offer.is_some()
            && l.media
                .negotiated
                .as_ref()
                .is_some_and(|a| a.remote_on_hold);
        if let (Some(key), Some(update)) = (l.stream, l.media.update()) {
            self.engine.command(
                key,
                Command::Update {
                    key,
                    update: Box::new(update),
                },
            );
        }
        ep.answer_offer(now, leg, Bytes::from(sdp.to_string()));
        let Some(l) = self.legs.get_mut(&leg) else {
            return;
        };
        if held == l.on_hold {
            return;
        }
        l.on_hold = held;
        let caller = l.caller;
        let label = l.label.clone();
        let bridged = self
            .calls
            .get(&caller)
            .is_some_and(|c| c.bridged == Some(leg));
        if !bridged {
            return;
        }
        let id = self
            .calls
            .get(&caller)
            .map(|c| c.id.clone())
            .unwrap_or_default();
        let kind = if held { "hold" } else { "resume" };
        let detail = serde_json::json!({ "by": label });
        self.writer.event(&id, ep.unix_ms(now), kind, detail);
        if held {
            self.disconnect(caller, leg);
            self.start_hold_gap(caller);
            self.play_hold_music(caller);
        } else {
            self.stop_caller_audio(caller);
            self.end_hold_gap(caller);
            self.connect(caller, leg);
        }
    }

    /// The caller held or resumed while bridged: the relay stops or starts again, and the
    /// recording has a hold gap.
    pub(super) fn caller_hold_changed(&mut self, call: CallRef, held: bool) {
        let Some(leg) = self.calls.get(&call).and_then(|c| c.bridged) else {
            return;
        };
        if held {
            self.disconnect(call, leg);
            self.start_hold_gap(call);
        } else {
            self.end_hold_gap(call);
            self.connect(call, leg);
        }
    }

    fn play_hold_music(&mut self, caller: CallRef) {
        let group =
            self.calls
                .get(&caller)
                .and_then(|c| match c.transfer.as_ref().map(|t| &t.dest) {
                    Some(Destination::Group(g)) => Some(g.clone()),
                    _ => None,
                });
        let Some(music) =
            group.and_then(|g| self.board.group(&g).and_then(|g| g.hold_music.clone()))
        else {
            return; // silence
        };
        let Some(live) = self.calls.get_mut(&caller) else {
            return;
        };
        let Some(stream) = live.media.as_ref().and_then(|m| m.stream) else {
            return;
        };
        let Some((codec, ptime)) = live.ivr.as_ref().and_then(|i| i.media) else {
            return;
        };
        let language = live.ivr.as_ref().and_then(|i| i.last_language.clone());
        let Ok(prompt) = self
            .prompts
            .encoded_localized(&music, language.as_deref(), codec, ptime)
        else {
            return;
        };
        live.hearing_hold_music = true;
        live.bridge_audio += 1;
        self.engine.command(
            stream,
            Command::Play {
                key: stream,
                prompt,
                barge_in: false,
            },
        );
    }

    /// A hold gap in the caller's recording, owned by the bridge.
    fn start_hold_gap(&mut self, call: CallRef) {
        let Some(ivr) = self.ivr_mut(call) else {
            return;
        };
        let state = &mut ivr.recording;
        let was_paused = !state.paused.is_empty();
        if state.paused.iter().any(|p| p.actor == HOLD_ACTOR) {
            return;
        }
        state.pause(Pause {
            by_api: false,
            actor: HOLD_ACTOR.to_owned(),
            reason: "hold".to_owned(),
        });
        let active = state.active;
        if active && !was_paused {
            self.pause_recording(call, "hold", HOLD_ACTOR);
        }
    }

    fn end_hold_gap(&mut self, call: CallRef) {
        let Some(ivr) = self.ivr_mut(call) else {
            return;
        };
        let state = &mut ivr.recording;
        let before = state.paused.len();
        state.paused.retain(|p| p.actor != HOLD_ACTOR);
        let removed = state.paused.len() != before;
        if removed && state.paused.is_empty() && state.active {
            self.resume_recording(call, HOLD_ACTOR);
        }
    }

    /// An agent asked for a transfer with REFER (already accepted with 202).
    pub(super) fn leg_refer(&mut self, ep: &mut Ep, now: Instant, leg: CallRef, refer_to: &str) {
        let Some(l) = self.legs.get(&leg) else {
            // A caller cannot transfer themselves anywhere: only agents' legs may REFER.
            if let Some(live) = self.calls.get(&leg) {
                let detail = serde_json::json!({ "by": "caller", "refused": "not-an-agent" });
                self.writer
                    .event(&live.id, ep.unix_ms(now), "refer-refused", detail);
            }
            return ep.refer_progress(now, leg, 403);
        };
        let caller = l.caller;
        let bridged = self
            .calls
            .get(&caller)
            .is_some_and(|c| c.bridged == Some(leg));
        let target = refer_to
            .trim()
            .trim_start_matches('<')
            .split('>')
            .next()
            .unwrap_or("")
            .to_owned();
        let resolved = self.directory().resolve(&target);
        let id = self
            .calls
            .get(&caller)
            .map(|c| c.id.clone())
            .unwrap_or_default();
        let at = ep.unix_ms(now);
        let dest = match resolved {
            Ok(dest) if bridged => dest,
            Ok(_) => return ep.refer_progress(now, leg, 481),
            Err(refused) => {
                let detail = serde_json::json!({ "by": l.label, "refused": refused.as_str() });
                self.writer.event(&id, at, "refer-refused", detail);
                return ep.refer_progress(now, leg, 403);
            }
        };
        let detail = serde_json::json!({ "by": l.label, "to": dest_label(&dest) });
        self.writer.event(&id, at, "refer", detail);
        if let Some(l) = self.legs.get_mut(&leg) {
            l.referring = true;
        }
        let bridge = self
            .calls
            .get(&caller)
            .and_then(|c| c.transfer.as_ref())
            .is_none_or(|t| t.bridge);
        let transfer = Transfer {
            dest,
            bridge,
            started: now,
            deadline: now + Duration::from_secs(30),
            max_time: None,
            ringing: Vec::new(),
            tried: self
                .legs
                .get(&leg)
                .and_then(|l| l.agent.clone())
                .into_iter()
                .collect(),
            busy_seen: false,
            answered: None,
            answered_at: None,
            referrer: Some(leg),
        };
        self.bridge_timers.insert((transfer.deadline, caller));
        if let Some(live) = self.calls.get_mut(&caller) {
            live.transfer = Some(transfer);
        }
        self.ring_next(ep, now, caller);
    }

    /// A digit pressed on an agent's phone: its method goes to the call record (never the
    /// digit); the caller's document does not hear it.
    pub(super) fn leg_digit(&mut self, ep: &Ep, now: Instant, leg: CallRef, method: &str) {
        let Some(l) = self.legs.get(&leg) else {
            return;
        };
        let Some(live) = self.calls.get(&l.caller) else {
            return;
        };
        let detail = serde_json::json!({ "by": l.label, "method": method });
        self.writer
            .event(&live.id, ep.unix_ms(now), "leg-dtmf", detail);
    }
}

/// How a leg is placed.
struct LegPlan {
    target: Target,
    local: SocketAddr,
    request_uri: String,
    from: String,
    to: String,
    headers: Vec<(HeaderName, String)>,
    credentials: Option<ClientCredentials>,
    profile: &'static PhoneProfile,
    srtp: bool,
}

fn unanswered_outcome(transfer: &Transfer) -> TransferOutcome {
    if transfer.busy_seen && transfer.answered.is_none() {
        TransferOutcome::Busy
    } else {
        TransferOutcome::NoAnswer
    }
}

/// A destination as the call record names it (never a phone number).
fn dest_label(dest: &Destination) -> String {
    match dest {
        Destination::Group(g) => format!("queue:{g}"),
        Destination::User(u) => format!("agent:{u}"),
        Destination::Number { .. } => "number".to_owned(),
    }
}
