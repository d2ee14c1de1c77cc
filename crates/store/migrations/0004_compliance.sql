-- Herald schema, version 4: what the compliance API needs. A hash-chained audit log, the
-- subject index (keyed hashes of identifiers pointing at calls), data subject requests, and
-- two-person release of legal holds.
--
-- Portable like 0001: TEXT and BIGINT only, times in unix milliseconds (UTC), JSON as TEXT.
-- Never edit this file once released; later changes go into new numbered files.

-- The audit log: one row per audited action, never updated or deleted by Herald. Each row's
-- `hash` is SHA-256 over the previous row's hash and this row's columns (see
-- herald_store::audit_entry_hash), so changing, removing or inserting a row breaks the chain.
-- `seq` counts from 1 without gaps; `detail` is JSON text, hashed exactly as stored.
CREATE TABLE audit_log (
    seq       BIGINT NOT NULL PRIMARY KEY,
    at        BIGINT NOT NULL,
    actor     TEXT   NOT NULL,
    role      TEXT   NOT NULL,
    action    TEXT   NOT NULL,
    target    TEXT   NOT NULL,
    purpose   TEXT,
    outcome   TEXT   NOT NULL,
    detail    TEXT   NOT NULL,
    prev_hash TEXT   NOT NULL, -- hex; the genesis hash (64 zeros) for seq 1
    hash      TEXT   NOT NULL  -- hex
);

CREATE INDEX audit_log_by_target ON audit_log (target);
CREATE INDEX audit_log_by_action ON audit_log (action);

-- The head of the chain: its last seq and hash, signed by the node that appended it. Exactly
-- one row; appenders lock it, which serialises them on every node sharing the database, and
-- it tells a truncated log (tail rows deleted) from a short one.
CREATE TABLE audit_head (
    id        BIGINT NOT NULL PRIMARY KEY CHECK (id = 1),
    seq       BIGINT NOT NULL,
    hash      TEXT   NOT NULL,
    node_key  TEXT   NOT NULL, -- the id of the key that signed; '' before the first entry
    signature TEXT   NOT NULL  -- hex; '' before the first entry
);

INSERT INTO audit_head (id, seq, hash, node_key, signature)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000', '', '');

-- The subject index: keyed hashes (HMAC, computed by the server) of a caller's normalised
-- phone number, e-mail address or name, each pointing at a call. Never the identifiers
-- themselves: without the key the index says nothing about anybody.
CREATE TABLE subjects (
    kind    TEXT   NOT NULL CHECK (kind IN ('phone', 'email', 'name')),
    hash    TEXT   NOT NULL, -- hex
    call_id TEXT   NOT NULL, -- calls.id, no foreign key: like recordings.call_id
    at      BIGINT NOT NULL,
    PRIMARY KEY (kind, hash, call_id)
);

CREATE INDEX subjects_by_call_id ON subjects (call_id);

-- Data subject requests (access/export, rectification, erasure) and how they went:
-- pending -> running -> done, refused or failed. A crash leaves requests running; the server
-- puts them back to pending at start-up. `parameters` and `result` are JSON text; parameters
-- may hold personal data (a rectified value) and are cleared when the request finishes.
CREATE TABLE dsr_requests (
    id           TEXT   NOT NULL PRIMARY KEY,
    kind         TEXT   NOT NULL CHECK (kind IN ('export', 'update', 'delete')),
    state        TEXT   NOT NULL
        CHECK (state IN ('pending', 'running', 'done', 'refused', 'failed')),
    subject_kind TEXT   NOT NULL CHECK (subject_kind IN ('phone', 'email', 'name')),
    subject_hash TEXT   NOT NULL,
    parameters   TEXT   NOT NULL,
    requested_by TEXT   NOT NULL,
    reason       TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    deadline_at  BIGINT NOT NULL,
    started_at   BIGINT,
    completed_at BIGINT,
    result       TEXT,
    error        TEXT
);

CREATE INDEX dsr_requests_by_state ON dsr_requests (state);
CREATE INDEX dsr_requests_by_created_at ON dsr_requests (created_at);

-- Two-person release of legal holds: the first person's request, until a second, different
-- person releases the hold (released_by then names both, `first+second`).
ALTER TABLE legal_holds ADD COLUMN release_requested_by TEXT;
ALTER TABLE legal_holds ADD COLUMN release_requested_at BIGINT;
ALTER TABLE legal_holds ADD COLUMN release_request_reason TEXT;
