-- Herald schema, version 1: calls, their event trail, and SIP registrations.
--
-- This file runs unchanged on SQLite and PostgreSQL. Keep it portable:
-- TEXT for strings and ids, BIGINT for integers and for times (unix
-- milliseconds, UTC), no JSON/UUID/TIMESTAMP/SERIAL types, no booleans, no
-- floats. Later schema changes go into new numbered files; never edit this one
-- (its checksum is recorded in _sqlx_migrations).

CREATE TABLE calls (
    id           TEXT   NOT NULL PRIMARY KEY,
    sip_call_id  TEXT   NOT NULL,
    from_uri     TEXT   NOT NULL,
    to_uri       TEXT   NOT NULL,
    caller       TEXT   NOT NULL,
    callee       TEXT   NOT NULL,
    source       TEXT   NOT NULL,
    transport    TEXT   NOT NULL,
    route        TEXT   NOT NULL,
    state        TEXT   NOT NULL
        CHECK (state IN ('ringing', 'answered', 'ended', 'failed')),
    started_at   BIGINT NOT NULL,
    answered_at  BIGINT,
    ended_at     BIGINT,
    hangup_cause TEXT,
    final_status BIGINT,
    user_agent   TEXT
);

CREATE INDEX calls_by_started_at ON calls (started_at);
CREATE INDEX calls_by_sip_call_id ON calls (sip_call_id);

-- One row per thing that happened in a call, in insertion order: `seq` counts
-- from 1 within a call (assigned by the store, see Store::add_call_event).
CREATE TABLE call_events (
    call_id TEXT   NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    seq     BIGINT NOT NULL,
    at      BIGINT NOT NULL,
    kind    TEXT   NOT NULL,
    detail  TEXT   NOT NULL,
    PRIMARY KEY (call_id, seq)
);

CREATE INDEX call_events_by_at ON call_events (at);

CREATE TABLE registrations (
    aor         TEXT   NOT NULL,
    contact_uri TEXT   NOT NULL,
    expires_at  BIGINT NOT NULL,
    transport   TEXT   NOT NULL,
    source      TEXT   NOT NULL,
    user_agent  TEXT,
    call_id     TEXT   NOT NULL,
    cseq        BIGINT NOT NULL,
    q_milli     BIGINT CHECK (q_milli BETWEEN 0 AND 1000),
    instance_id TEXT,
    reg_id      BIGINT,
    PRIMARY KEY (aor, contact_uri)
);

CREATE INDEX registrations_by_expires_at ON registrations (expires_at);
