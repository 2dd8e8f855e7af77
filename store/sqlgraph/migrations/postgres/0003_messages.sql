-- Every message, kept for good. Redis holds the newest of each conversation
-- for speed; nodes archive messages here in batches (store/plane's
-- archiver), idempotently: a row is never written twice, so the same
-- batch may be archived again after a node died before it said so.
CREATE TABLE messages (
    conv      TEXT   NOT NULL,
    seq       BIGINT NOT NULL,
    sender    BIGINT NOT NULL,
    recipient BIGINT NOT NULL, -- the friend's user id, or the group id
    type      TEXT   NOT NULL CHECK (type IN ('single', 'group')),
    body      TEXT   NOT NULL,
    client_id TEXT   NOT NULL DEFAULT '',
    ts        BIGINT NOT NULL, -- Unix ms, the server's
    PRIMARY KEY (conv, seq)
);

-- Search: a trigram index (pg_trgm) serves ILIKE '%q%', which finds
-- substrings in any script (你好 inside 大家你好啊), case-insensitively.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX messages_body_trgm ON messages USING gin (body gin_trgm_ops);

-- How far each person has read each conversation, so that unread counts
-- come back when Redis loses them. Only ever raised.
CREATE TABLE read_markers (
    user_id BIGINT NOT NULL,
    conv    TEXT   NOT NULL,
    seq     BIGINT NOT NULL,
    PRIMARY KEY (user_id, conv)
);
