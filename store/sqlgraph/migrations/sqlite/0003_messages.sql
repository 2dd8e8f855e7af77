-- Every message, kept for good. Redis holds the newest of each conversation
-- for speed; nodes archive messages here in batches (store/plane's
-- archiver), idempotently: a row is never written twice, so the same
-- batch may be archived again after a node died before it said so.
CREATE TABLE messages (
    conv      TEXT    NOT NULL,
    seq       INTEGER NOT NULL,
    sender    INTEGER NOT NULL,
    recipient INTEGER NOT NULL, -- the friend's user id, or the group id
    type      TEXT    NOT NULL CHECK (type IN ('single', 'group')),
    body      TEXT    NOT NULL,
    client_id TEXT    NOT NULL DEFAULT '',
    ts        INTEGER NOT NULL, -- Unix ms, the server's
    PRIMARY KEY (conv, seq)
);

-- Search: a trigram index finds substrings in any script (你好 inside
-- 大家你好啊), case-insensitively for Latin. It is external content over
-- messages, kept in step by the triggers, so a body changed or removed
-- (a recall) leaves the index too.
-- detail=none and columnsize=0 keep no positions or sizes: a LIKE is
-- checked against the row itself, and search does not rank, so the index
-- costs about a third less to keep up.
CREATE VIRTUAL TABLE messages_fts USING fts5(
    body, content = 'messages', content_rowid = 'rowid', tokenize = 'trigram',
    detail = none, columnsize = 0
);
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, body) VALUES (new.rowid, new.body);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.rowid, old.body);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.rowid, old.body);
    INSERT INTO messages_fts (rowid, body) VALUES (new.rowid, new.body);
END;

-- How far each person has read each conversation, so that unread counts
-- come back when Redis loses them. Only ever raised.
CREATE TABLE read_markers (
    user_id INTEGER NOT NULL,
    conv    TEXT    NOT NULL,
    seq     INTEGER NOT NULL,
    PRIMARY KEY (user_id, conv)
);
