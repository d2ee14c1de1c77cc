-- Herald schema, version 2: encrypted call recordings, the keys they are wrapped to, and
-- legal holds.
--
-- Portable like 0001: TEXT and BIGINT only, times in unix milliseconds (UTC), booleans as
-- BIGINT 0/1. Never edit this file once released; later changes go into new numbered files.
--
-- The audio itself is never here: a recording's ciphertext lives in a blob (a file or an S3
-- object, `recordings.blob`), and the random data key that opens it lives here, wrapped to each
-- active recorder key (`recording_keys`). Deleting those rows makes every copy of the blob
-- unreadable, backups included (crypto-shredding); a legal hold blocks that.

-- Recipient public keys new recordings are wrapped to: every key with retired_at NULL.
-- Rotation adds a key and retires the old one; a retired key still opens old recordings.
CREATE TABLE recorder_keys (
    id         TEXT   NOT NULL PRIMARY KEY, -- short fingerprint of the public key
    public_key TEXT   NOT NULL UNIQUE,      -- age X25519 recipient, `age1...`
    label      TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT
);

-- One row per recording. `call_id` names calls.id without a foreign key: the call record may be
-- written after the recording starts (call writes are batched) and may later be anonymised or
-- purged, while the recording row (and its erasure trail) must stay.
CREATE TABLE recordings (
    id              TEXT   NOT NULL PRIMARY KEY, -- 32 hex digits
    call_id         TEXT,
    caller          TEXT   NOT NULL,
    callee          TEXT   NOT NULL,
    blob            TEXT   NOT NULL,             -- where the ciphertext is (a location URL)
    codec           TEXT   NOT NULL,
    sample_rate     BIGINT NOT NULL,
    channels        TEXT   NOT NULL,             -- e.g. 'caller,herald'
    started_at      BIGINT NOT NULL,
    ended_at        BIGINT,
    duration_ms     BIGINT,
    segments        BIGINT,
    bytes           BIGINT,
    state           TEXT   NOT NULL
        CHECK (state IN ('recording', 'complete', 'interrupted', 'erased')),
    consent         TEXT   NOT NULL,             -- 'accepted', 'objected', 'not-asked', ...
    retention_class TEXT   NOT NULL,
    expires_at      BIGINT,                      -- NULL while recording or unknown
    digest          TEXT,                        -- hex, NULL until sealed
    node_key        TEXT,                        -- the node key that signs the trailer
    erased_at       BIGINT,
    erased_by       TEXT,
    erase_reason    TEXT
);

CREATE INDEX recordings_by_started_at ON recordings (started_at);
CREATE INDEX recordings_by_state ON recordings (state);
CREATE INDEX recordings_by_expires_at ON recordings (expires_at);
CREATE INDEX recordings_by_call_id ON recordings (call_id);

-- A recording's data key wrapped to one recorder key: base64 of an age file. Deleted on erasure.
CREATE TABLE recording_keys (
    recording_id TEXT NOT NULL REFERENCES recordings (id),
    key_id       TEXT NOT NULL,
    wrapped      TEXT NOT NULL,
    PRIMARY KEY (recording_id, key_id)
);

-- Stretches not recorded (PCI input, hold, opt-out, API pause), `seq` from 1 per recording.
-- Positions count samples from the start of the recording.
CREATE TABLE recording_gaps (
    recording_id   TEXT   NOT NULL REFERENCES recordings (id),
    seq            BIGINT NOT NULL,
    started_at     BIGINT NOT NULL,
    ended_at       BIGINT,                       -- NULL while the gap is open
    start_position BIGINT NOT NULL,
    end_position   BIGINT,
    reason         TEXT   NOT NULL,
    actor          TEXT   NOT NULL,
    PRIMARY KEY (recording_id, seq)
);

-- Disclosure evidence: which prompt was played, in which language, whether it played to the
-- end, and what the caller chose (never digits). `seq` from 1 per recording.
CREATE TABLE recording_evidence (
    recording_id TEXT   NOT NULL REFERENCES recordings (id),
    seq          BIGINT NOT NULL,
    at           BIGINT NOT NULL,
    prompt       TEXT   NOT NULL,
    language     TEXT   NOT NULL,
    completed    BIGINT NOT NULL CHECK (completed IN (0, 1)),
    choice       TEXT,
    PRIMARY KEY (recording_id, seq)
);

-- Legal holds: a recording is held while any of its holds has released_at NULL. Held
-- recordings neither expire nor can be erased.
CREATE TABLE legal_holds (
    id             TEXT   NOT NULL PRIMARY KEY,
    recording_id   TEXT   NOT NULL REFERENCES recordings (id),
    case_ref       TEXT   NOT NULL,
    reason         TEXT   NOT NULL,
    placed_by      TEXT   NOT NULL,
    placed_at      BIGINT NOT NULL,
    released_at    BIGINT,
    released_by    TEXT,
    release_reason TEXT
);

CREATE INDEX legal_holds_by_recording ON legal_holds (recording_id);
