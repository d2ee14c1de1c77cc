-- Herald schema, version 3: the public keys of the nodes that sign recordings.
--
-- Each node signs the trailer of every recording it finishes (or recovers) with its Ed25519
-- key; the public halves are kept here, so a recording's signature can be verified on any
-- host that shares the database, without any private key. Same portability rules as 0001.

CREATE TABLE node_keys (
    id         TEXT   NOT NULL PRIMARY KEY,
    public_key TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);
