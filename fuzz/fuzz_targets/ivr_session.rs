//! A VoiceXML session (`herald_ivr::Interpreter`) driven by an `arbitrary` operation sequence
//! in virtual time, against a small application of our own or a document the fuzzer writes.
//!
//! Input layout (decoded with `arbitrary`; `cargo fuzz fmt ivr_session <file>` prints it): a
//! [`Session`]: the first document (one of [`DOCUMENTS`] or fuzzer text), whether later
//! fetches are answered at once from the application by URI (as a platform would) or left to
//! the operations, then up to [`MAX_OPS`] [`Op`]s: any of the sixteen DTMF keys, prompts
//! done, jumps to the input deadline, time passing, hang-up, transfer and record results, and
//! answers to outstanding fetches (a document, a text, an error, or what the URI serves).
//!
//! The application (`http://ivr.test/`): `main.vxml` (application root `root.vxml` with a
//! `<link>` and catch handlers; a block, a digits field with catch/reprompt, `<filled>` with
//! if/elseif/throw/goto/submit, a subdialog with `<param>`), `sub.vxml` (a boolean field that
//! returns), `menu.vxml` (a menu with implicit and explicit DTMF choices, a transfer, a
//! record), `check.vxml` (`<script src>`, `<data>`, `<foreach>` with `<mark>`, an external
//! and an inline SRGS grammar, `<clear>`), `herald.vxml` (Herald's recording, consent,
//! language, evidence and secure input) and `loop.vxml` (a goto loop that the step limit
//! ends).
//!
//! Asserts:
//! * no panic, whatever the documents and the order of events;
//! * `Output::Finished` exactly when `is_finished()`, and nothing is output after it;
//! * after `handle_timeout(now)` the next deadline is not in the past;
//! * once the caller hung up (or the document disconnected), after every operation the
//!   session is finished or waiting only on a fetch (no input, no deadline);
//! * the work is bounded: a small `max_steps`, a small script budget and heap, at most
//!   [`MAX_OPS`] operations plus a bounded wind-down that answers every fetch.

#![no_main]

use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use herald_ivr::{
    Document, FetchError, FetchId, FetchKind, FetchRequest, Fetched, Interpreter, Key, Output,
    RecordOutcome, ScriptLimits, SessionConfig, TransferOutcome,
};
use libfuzzer_sys::fuzz_target;

/// The origin of virtual time, read once per process; runs only add offsets to it.
static BASE: LazyLock<Instant> = LazyLock::new(Instant::now);

const BASE_URI: &str = "http://ivr.test/";
/// Where a session from fuzzer text starts.
const FUZZ_URI: &str = "http://ivr.test/fuzz.vxml";
const MAX_OPS: usize = 64;
/// Fetches answered at once (with `auto_fetch`) per batch of outputs; more wait for an `Op`.
const AUTO_FETCHES: usize = 8;
/// Wind-down rounds after the final hang-up.
const WIND_DOWN: usize = 16;
const KEY_GAP: Duration = Duration::from_millis(100);

const ROOT: &str = r#"<?xml version="1.0"?>
<vxml version="2.1" xmlns="http://www.w3.org/2001/vxml">
  <var name="visits" expr="0"/>
  <property name="interdigittimeout" value="2s"/>
  <link dtmf="*9" next="menu.vxml"/>
  <catch event="error.badfetch">
    <log label="root">fetch failed: <value expr="_message"/></log>
    <exit expr="_event"/>
  </catch>
  <catch event="connection.disconnect.hangup">
    <log>caller left after <value expr="visits"/> visits</log>
  </catch>
</vxml>"#;

const MAIN: &str = r##"<?xml version="1.0"?>
<vxml version="2.1" xmlns="http://www.w3.org/2001/vxml" application="root.vxml">
  <var name="tries" expr="0"/>
  <script>function twice(n) { return n * 2; }</script>
  <form id="start">
    <block>
      <assign name="application.visits" expr="application.visits + 1"/>
      <prompt bargein="false">Welcome.<break time="200ms"/></prompt>
    </block>
    <field name="pin" type="digits?length=4">
      <prompt timeout="2s">Enter your four digit code.</prompt>
      <catch event="noinput nomatch">
        <assign name="tries" expr="tries + 1"/>
        <if cond="tries &gt; 2"><goto next="menu.vxml"/><else/><reprompt/></if>
      </catch>
      <filled>
        <if cond="pin == '0000'"><throw event="herald.bad" message="all zeros"/>
        <elseif cond="pin == '1234'"/><goto next="#more"/>
        <else/><submit next="check.vxml" namelist="pin tries"/>
        </if>
      </filled>
    </field>
  </form>
  <form id="more">
    <subdialog name="res" src="sub.vxml">
      <param name="n" expr="twice(3)"/>
      <filled>
        <log label="sub">answer <value expr="res.answer"/></log>
        <goto next="herald.vxml"/>
      </filled>
    </subdialog>
    <catch event="herald.sub.silent"><goto next="menu.vxml#main"/></catch>
  </form>
  <catch event="herald.bad">
    <prompt>Not that one: <value expr="_message"/>.</prompt>
    <disconnect/>
  </catch>
</vxml>"##;

const SUB: &str = r#"<?xml version="1.0"?>
<vxml version="2.1" xmlns="http://www.w3.org/2001/vxml">
  <form id="ask">
    <var name="n" expr="0"/>
    <var name="answer"/>
    <field name="ok" type="boolean">
      <prompt>Press 1 for yes, 2 for no, about <value expr="n"/> items.</prompt>
      <filled><assign name="answer" expr="ok ? n : -n"/><return namelist="answer"/></filled>
      <nomatch><return event="herald.sub.silent" message="nomatch"/></nomatch>
    </field>
    <noinput><return event="herald.sub.silent"/></noinput>
  </form>
</vxml>"#;

const MENU: &str = r##"<?xml version="1.0"?>
<vxml version="2.1" xmlns="http://www.w3.org/2001/vxml" application="root.vxml">
  <menu id="main" dtmf="true">
    <prompt>Sales, support, loop, back or done. <enumerate/></prompt>
    <choice next="#sales">sales</choice>
    <choice next="#support">support</choice>
    <choice dtmf="0" next="loop.vxml">loop</choice>
    <choice dtmf="*" next="main.vxml">back</choice>
    <choice dtmf="#" event="herald.done">done</choice>
    <noinput>Please choose. <reprompt/></noinput>
    <nomatch count="2"><exit expr="'nomatch'"/></nomatch>
  </menu>
  <form id="sales">
    <transfer name="xfer" dest="sip:sales@example.com" bridge="true" connecttimeout="10s" maxtime="60s">
      <prompt>Connecting.</prompt>
      <filled><log expr="xfer"/><exit expr="xfer"/></filled>
    </transfer>
    <catch event="error.connection"><goto next="#support"/></catch>
  </form>
  <form id="support">
    <record name="msg" beep="true" maxtime="30s" finalsilence="2s" dtmfterm="true">
      <prompt>Leave a message after the tone.</prompt>
      <filled><exit expr="msg$.duration"/></filled>
      <noinput><goto next="#sales"/></noinput>
    </record>
    <catch event="error.unsupported"><exit expr="'no recorder'"/></catch>
  </form>
  <catch event="herald.done"><exit expr="'done'"/></catch>
</vxml>"##;

const CHECK: &str = r#"<?xml version="1.0"?>
<vxml version="2.1" xmlns="http://www.w3.org/2001/vxml">
  <script src="lib.js"/>
  <form id="check">
    <block>
      <data name="acct" src="account.xml"/>
      <var name="items" expr="['a', 'b', 'c']"/>
      <foreach item="it" array="items">
        <log expr="it + double(2)"/>
        <prompt><value expr="it"/><mark name="seen"/></prompt>
      </foreach>
      <log expr="acct.documentElement.getAttribute('id')"/>
    </block>
    <field name="choice">
      <grammar src="choice.grxml" type="application/srgs+xml"/>
      <prompt>Choose.</prompt>
      <filled>
        <log expr="choice"/>
        <if cond="choice == 'again'"><clear namelist="choice"/></if>
      </filled>
    </field>
    <field name="code">
      <grammar mode="dtmf" version="1.0" root="r" tag-format="semantics/1.0">
        <rule id="r">
          <one-of>
            <item>1 2<tag>out = 'twelve';</tag></item>
            <item repeat="2-3">#</item>
            <item><ruleref special="GARBAGE"/> 0</item>
          </one-of>
        </rule>
      </grammar>
      <property name="termchar" value="D"/>
      <filled><exit expr="code"/></filled>
    </field>
  </form>
</vxml>"#;

const HERALD: &str = r##"<?xml version="1.0"?>
<vxml version="2.1" xmlns="http://www.w3.org/2001/vxml" xmlns:herald="urn:herald:ivr">
  <form id="disclose">
    <block>
      <herald:language value="de-DE"/>
      <prompt herald:evidence="disclosure-1" bargein="false">Calls are recorded. Press 9 to object.</prompt>
      <herald:recording action="start" reason="disclosed"/>
    </block>
    <field name="objection" type="digits?length=1">
      <prompt timeout="1s">Press 9 now to object.</prompt>
      <filled>
        <if cond="objection == '9'">
          <herald:consent decision="opted-out"/>
          <herald:recording action="stop" reason="objected"/>
        <else/>
          <herald:consent expr="'accepted'"/>
        </if>
      </filled>
      <noinput><herald:consent decision="accepted"/><assign name="objection" expr="'none'"/></noinput>
    </field>
    <field name="card" type="digits?minlength=4;maxlength=16" herald:secure="true">
      <property name="termchar" value="#"/>
      <prompt>Card number, then pound.</prompt>
      <filled><log label="card">card <value expr="card"/></log><goto next="menu.vxml"/></filled>
    </field>
  </form>
</vxml>"##;

const LOOP: &str = r##"<?xml version="1.0"?>
<vxml version="2.1" xmlns="http://www.w3.org/2001/vxml">
  <var name="hops" expr="0"/>
  <form id="a">
    <block>
      <assign name="hops" expr="hops + 1"/>
      <if cond="hops % 50 == 0"><goto next="main.vxml"/></if>
      <goto next="#b"/>
    </block>
  </form>
  <form id="b"><block><goto next="#a"/></block></form>
</vxml>"##;

const LIB_JS: &str = "function double(n) { return n * 2; }\nvar libLoaded = true;\n";

const CHOICE_GRXML: &str = r#"<?xml version="1.0"?>
<grammar mode="dtmf" version="1.0" root="c" xmlns="http://www.w3.org/2001/06/grammar" tag-format="semantics/1.0-literals">
  <rule id="c" scope="public">
    <one-of>
      <item>1<tag>again</tag></item>
      <item>2<tag>on</tag></item>
      <item>3 3<tag>done</tag></item>
    </one-of>
  </rule>
</grammar>"#;

const ACCOUNT_XML: &str =
    r#"<?xml version="1.0"?><account id="42"><balance currency="EUR">12.50</balance></account>"#;

/// The VoiceXML documents a session may start from, with their names under [`BASE_URI`].
const DOCUMENTS: &[(&str, &str)] = &[
    ("main.vxml", MAIN),
    ("menu.vxml", MENU),
    ("sub.vxml", SUB),
    ("check.vxml", CHECK),
    ("herald.vxml", HERALD),
    ("loop.vxml", LOOP),
    ("root.vxml", ROOT),
];

/// Everything else the application serves.
const RESOURCES: &[(&str, &str)] = &[
    ("lib.js", LIB_JS),
    ("choice.grxml", CHOICE_GRXML),
    ("account.xml", ACCOUNT_XML),
];

/// Texts a fetch may be answered with, whatever it asked for.
const TEXTS: &[&str] = &[
    LIB_JS,
    CHOICE_GRXML,
    ACCOUNT_XML,
    "throw new Error('boom');",
    "while (true) {}",
    "var big = []; for (;;) big.push(new Array(100000));",
    r##"<grammar mode="dtmf" root="r"><rule id="r">1 <ruleref uri="#r"/></rule></grammar>"##,
    "<grammar mode=\"dtmf\"><rule id=\"r\">12</rule></grammar>",
    "not xml <",
    "",
];

const TRANSFER_ERRORS: &[&str] = &[
    "error.connection.noresource",
    "error.connection.baddestination",
    "error.connection.noroute",
    "error.connection.noauthorization",
    "bogus",
];

#[derive(Arbitrary, Debug)]
struct Session {
    first: Source,
    /// Answer later fetches at once from the application, by URI.
    auto_fetch: bool,
    ops: Vec<Op>,
}

/// A VoiceXML document: one of [`DOCUMENTS`], or fuzzer text.
#[derive(Arbitrary, Debug)]
enum Source {
    Embedded(u8),
    Text(String),
}

#[derive(Arbitrary, Debug)]
enum Op {
    /// One key (modulo 16), 100 ms after the last event.
    Key(u8),
    /// Four keys in a row.
    Keys([u8; 4]),
    PromptsDone,
    /// Jump to the input deadline, plus a little, and fire it.
    Timeout {
        late_millis: u8,
    },
    /// Let time pass (4 ms units); a deadline that passes fires.
    Advance {
        quarter_millis: u16,
    },
    Hangup,
    Transfer {
        outcome: Transfer,
        seconds: u8,
    },
    Record(Record),
    /// Answer the n-th outstanding fetch (or, with none outstanding, send a stray answer).
    Fetch {
        nth: u8,
        answer: Answer,
    },
}

#[derive(Arbitrary, Debug)]
enum Answer {
    /// What the application serves at that URI (404 if nothing).
    ByUri,
    Document(Source),
    /// One of [`TEXTS`].
    Text(u8),
    Timeout,
    Status(u16),
    Failed,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Transfer {
    Busy,
    NoAnswer,
    NetworkBusy,
    NearEndDisconnect,
    FarEndDisconnect,
    NetworkDisconnect,
    MaxTimeDisconnect,
    Unknown,
    Error(u8),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Record {
    Recorded {
        millis: u16,
        size: u16,
        termchar: Option<u8>,
        max_time: bool,
    },
    Silence,
    Unsupported,
}

fn key(n: u8) -> Key {
    Key::ALL[usize::from(n % 16)]
}

fn transfer_outcome(transfer: Transfer) -> TransferOutcome {
    match transfer {
        Transfer::Busy => TransferOutcome::Busy,
        Transfer::NoAnswer => TransferOutcome::NoAnswer,
        Transfer::NetworkBusy => TransferOutcome::NetworkBusy,
        Transfer::NearEndDisconnect => TransferOutcome::NearEndDisconnect,
        Transfer::FarEndDisconnect => TransferOutcome::FarEndDisconnect,
        Transfer::NetworkDisconnect => TransferOutcome::NetworkDisconnect,
        Transfer::MaxTimeDisconnect => TransferOutcome::MaxTimeDisconnect,
        Transfer::Unknown => TransferOutcome::Unknown,
        Transfer::Error(n) => TransferOutcome::Error(
            TRANSFER_ERRORS[usize::from(n) % TRANSFER_ERRORS.len()].to_owned(),
        ),
    }
}

fn record_outcome(record: Record) -> RecordOutcome {
    match record {
        Record::Recorded {
            millis,
            size,
            termchar,
            max_time,
        } => RecordOutcome::Recorded {
            duration: Duration::from_millis(u64::from(millis)),
            size: u64::from(size),
            termchar: termchar.map(|n| key(n).as_char()),
            max_time,
        },
        Record::Silence => RecordOutcome::Silence,
        Record::Unsupported => RecordOutcome::Unsupported,
    }
}

impl Source {
    /// The document's text and the URI a session starting from it begins at.
    fn document(&self) -> (&str, String) {
        match self {
            Source::Embedded(n) => {
                let (name, text) = DOCUMENTS[usize::from(*n) % DOCUMENTS.len()];
                (text, format!("{BASE_URI}{name}"))
            }
            Source::Text(text) => (text, FUZZ_URI.to_owned()),
        }
    }
}

fn parse_document(uri: &str, text: &str) -> Result<Fetched, FetchError> {
    match Document::parse(uri, text) {
        Ok(document) => Ok(Fetched::Document(Arc::new(document))),
        Err(error) => Err(FetchError::Failed(error.to_string())),
    }
}

/// What the application serves for `request`, as a platform would answer it.
fn serve(request: &FetchRequest) -> Result<Fetched, FetchError> {
    let name = request.uri.strip_prefix(BASE_URI).unwrap_or("");
    let text = DOCUMENTS
        .iter()
        .chain(RESOURCES)
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text);
    match (text, request.kind) {
        (None, _) => Err(FetchError::Status(404)),
        (Some(text), FetchKind::Document) => parse_document(&request.uri, text),
        (Some(text), _) => Ok(Fetched::Text(text.to_owned())),
    }
}

fn answer(request: &FetchRequest, answer: &Answer) -> Result<Fetched, FetchError> {
    match answer {
        Answer::ByUri => serve(request),
        Answer::Document(source) => parse_document(&request.uri, source.document().0),
        Answer::Text(n) => Ok(Fetched::Text(
            TEXTS[usize::from(*n) % TEXTS.len()].to_owned(),
        )),
        Answer::Timeout => Err(FetchError::Timeout),
        Answer::Status(code) => Err(FetchError::Status(*code)),
        Answer::Failed => Err(FetchError::Failed("connection refused".to_owned())),
    }
}

struct Harness {
    ivr: Interpreter,
    now: Instant,
    auto_fetch: bool,
    /// Fetches asked for and not answered yet, oldest first.
    pending: Vec<FetchRequest>,
    /// The newest fetch, until it is answered: the one the session can be waiting on.
    waiting: Option<FetchId>,
    hung_up: bool,
    /// `Output::Finished` came out.
    finished: bool,
}

impl Harness {
    fn new(uri: &str, auto_fetch: bool) -> Self {
        let config = SessionConfig {
            limits: ScriptLimits {
                memory: 8 << 20,
                budget: 200,
            },
            max_steps: 500,
            language: Some("en-US".to_owned()),
            session: vec![
                (
                    "connection.remote.uri".to_owned(),
                    "sip:+4930123456@example.com".to_owned(),
                ),
                (
                    "connection.local.uri".to_owned(),
                    "sip:ivr@herald".to_owned(),
                ),
            ],
            ..SessionConfig::default()
        };
        let ivr = Interpreter::new(config, uri).expect("a session starts within its limits");
        Self {
            ivr,
            now: *BASE,
            auto_fetch,
            pending: Vec::new(),
            waiting: None,
            hung_up: false,
            finished: false,
        }
    }

    /// Collects outputs, answering fetches at once if `auto_fetch`.
    fn drain(&mut self) {
        let mut auto = 0;
        while let Some(output) = self.ivr.poll_output() {
            assert!(!self.finished, "{output:?} came out after Finished");
            match output {
                Output::Fetch(request) => {
                    self.waiting = Some(request.id);
                    if self.auto_fetch && auto < AUTO_FETCHES {
                        auto += 1;
                        let result = serve(&request);
                        self.waiting = None;
                        self.ivr.handle_fetched(self.now, request.id, result);
                    } else {
                        self.pending.push(request);
                    }
                }
                Output::Disconnect => self.hung_up = true,
                Output::Finished(_) => {
                    assert!(
                        self.ivr.is_finished(),
                        "Finished came out but the session is not finished"
                    );
                    self.finished = true;
                }
                Output::Play(_)
                | Output::StopPrompts
                | Output::Listen { .. }
                | Output::Recording { .. }
                | Output::Path(_)
                | Output::Log { .. }
                | Output::Transfer(_)
                | Output::Record(_) => {}
            }
        }
    }

    fn check(&self) {
        assert!(
            !self.finished || self.ivr.is_finished(),
            "the session finished, then came back to life"
        );
        if self.ivr.is_finished() {
            assert!(self.finished, "finished without Output::Finished");
            assert_eq!(
                self.ivr.poll_timeout(),
                None,
                "a finished session has a deadline"
            );
        }
        if self.hung_up && !self.ivr.is_finished() {
            assert!(
                self.waiting.is_some(),
                "after the hang-up the session is neither finished nor waiting on a fetch"
            );
            assert_eq!(
                self.ivr.poll_timeout(),
                None,
                "after the hang-up the session still has an input deadline"
            );
        }
    }

    fn timeout(&mut self) {
        self.ivr.handle_timeout(self.now);
        self.drain();
        if let Some(at) = self.ivr.poll_timeout() {
            assert!(
                at >= self.now,
                "poll_timeout {:?} in the past after handle_timeout",
                self.now - at
            );
        }
    }

    /// Moves the clock on, firing the input deadline first if it passes (as a platform's
    /// timer would).
    fn advance(&mut self, step: Duration) {
        let target = self.now + step;
        // A zero `timeout` can re-arm at `now`: a few rounds, then let time move on.
        for _ in 0..4 {
            match self.ivr.poll_timeout() {
                Some(at) if at <= target => {
                    self.now = self.now.max(at);
                    self.timeout();
                }
                _ => break,
            }
        }
        self.now = target;
    }

    fn apply(&mut self, op: &Op) {
        match op {
            Op::Key(n) => self.key(key(*n)),
            Op::Keys(keys) => {
                for n in keys {
                    self.key(key(*n));
                }
            }
            Op::PromptsDone => self.ivr.handle_prompts_done(self.now),
            Op::Timeout { late_millis } => {
                if let Some(at) = self.ivr.poll_timeout() {
                    self.now = self.now.max(at);
                }
                self.now += Duration::from_millis(u64::from(*late_millis));
                self.timeout();
            }
            Op::Advance { quarter_millis } => {
                self.advance(Duration::from_millis(u64::from(*quarter_millis) * 4))
            }
            Op::Hangup => {
                self.ivr.handle_hangup(self.now);
                self.hung_up = true;
            }
            Op::Transfer { outcome, seconds } => self.ivr.handle_transfer(
                self.now,
                transfer_outcome(*outcome),
                Duration::from_secs(u64::from(*seconds)),
            ),
            Op::Record(record) => self.ivr.handle_record(self.now, record_outcome(*record)),
            Op::Fetch { nth, answer: how } => {
                if self.pending.is_empty() {
                    // A stray answer (a duplicate, or for a fetch long gone) is ignored.
                    let id = FetchId(u64::from(*nth) + 1_000);
                    self.ivr
                        .handle_fetched(self.now, id, Err(FetchError::Timeout));
                } else {
                    let request = self.pending.remove(usize::from(*nth) % self.pending.len());
                    let result = answer(&request, how);
                    self.answered(request, result);
                }
            }
        }
        self.drain();
        self.check();
    }

    fn key(&mut self, key: Key) {
        self.advance(KEY_GAP);
        self.ivr.handle_key(self.now, key);
        self.drain();
    }

    fn answered(&mut self, request: FetchRequest, result: Result<Fetched, FetchError>) {
        if self.waiting == Some(request.id) {
            self.waiting = None;
        }
        self.ivr.handle_fetched(self.now, request.id, result);
    }

    /// The caller hangs up; the fetch the session waits on is answered (by URI and with an
    /// error, in turns) for a bounded number of rounds; then every stale fetch is answered.
    fn wind_down(&mut self) {
        self.ivr.handle_hangup(self.now);
        self.hung_up = true;
        self.drain();
        self.check();
        for round in 0..WIND_DOWN {
            if self.ivr.is_finished() {
                break;
            }
            let Some(index) = self
                .pending
                .iter()
                .rposition(|r| Some(r.id) == self.waiting)
            else {
                break;
            };
            let request = self.pending.remove(index);
            let result = if round % 2 == 0 {
                serve(&request)
            } else {
                Err(FetchError::Status(503))
            };
            self.answered(request, result);
            self.drain();
            self.check();
        }
        assert!(
            self.ivr.is_finished() || self.waiting.is_some(),
            "after the hang-up the session is neither finished nor waiting on a fetch"
        );
        // Stale fetches (all but the one waited on): their answers must change nothing.
        for request in std::mem::take(&mut self.pending) {
            if Some(request.id) == self.waiting {
                continue;
            }
            self.ivr
                .handle_fetched(self.now, request.id, Err(FetchError::Timeout));
            if let Some(output) = self.ivr.poll_output() {
                panic!("an answer to a stale fetch produced {output:?}");
            }
        }
    }

    /// Answers the session's first fetch with `text`, whatever `auto_fetch` says.
    fn start(&mut self, text: &str) {
        match self.ivr.poll_output() {
            Some(Output::Fetch(request)) => {
                let result = parse_document(&request.uri, text);
                self.ivr.handle_fetched(self.now, request.id, result);
            }
            other => panic!("the session began with {other:?}, not the first fetch"),
        }
        self.drain();
        self.check();
    }
}

fuzz_target!(|session: Session| {
    let (text, uri) = session.first.document();
    let mut harness = Harness::new(&uri, session.auto_fetch);
    harness.start(text);
    for op in session.ops.iter().take(MAX_OPS) {
        harness.apply(op);
    }
    harness.wind_down();
});
