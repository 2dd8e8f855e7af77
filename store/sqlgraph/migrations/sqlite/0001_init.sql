-- 0001: the social graph. Ids use AUTOINCREMENT so a deleted row's id is
-- never handed out again: Redis keys are named after group and user ids
-- (wc:hist:{c:g<gid>}), and a reused id would inherit a deleted group's
-- history and members.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT    NOT NULL,
    display_name  TEXT    NOT NULL,
    password_hash BLOB    NOT NULL,
    created_at    INTEGER NOT NULL,
    -- Uniqueness is on the lower-cased name; the store lower-cases before it
    -- writes, and this check keeps anyone else from writing a mixed-case one.
    CHECK (username = lower(username))
);
CREATE UNIQUE INDEX users_username ON users (username);

-- One row per pair, smaller id first, so a pair cannot be stored twice.
CREATE TABLE friendships (
    user_lo    INTEGER NOT NULL REFERENCES users (id),
    user_hi    INTEGER NOT NULL REFERENCES users (id),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (user_lo, user_hi),
    CHECK (user_lo < user_hi)
);
CREATE INDEX friendships_hi ON friendships (user_hi);

CREATE TABLE friend_requests (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    from_id    INTEGER NOT NULL REFERENCES users (id),
    to_id      INTEGER NOT NULL REFERENCES users (id),
    pair_lo    INTEGER NOT NULL,
    pair_hi    INTEGER NOT NULL,
    status     TEXT    NOT NULL CHECK (status IN ('pending', 'accepted', 'declined')),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    CHECK (pair_lo < pair_hi),
    CHECK ((from_id = pair_lo AND to_id = pair_hi) OR (from_id = pair_hi AND to_id = pair_lo))
);
-- At most one pending request per pair, whichever way it points: two people
-- asking each other at the same moment cannot both leave a pending request.
CREATE UNIQUE INDEX friend_requests_pending_pair ON friend_requests (pair_lo, pair_hi) WHERE status = 'pending';
CREATE INDEX friend_requests_pending_to ON friend_requests (to_id) WHERE status = 'pending';
CREATE INDEX friend_requests_pending_from ON friend_requests (from_id) WHERE status = 'pending';

CREATE TABLE chat_groups (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL,
    brief       TEXT    NOT NULL,
    owner_id    INTEGER NOT NULL REFERENCES users (id),
    max_members INTEGER NOT NULL CHECK (max_members >= 1),
    created_at  INTEGER NOT NULL
);

CREATE TABLE group_members (
    group_id  INTEGER NOT NULL REFERENCES chat_groups (id) ON DELETE CASCADE,
    user_id   INTEGER NOT NULL REFERENCES users (id),
    role      TEXT    NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    joined_at INTEGER NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);
-- Exactly one owner per group at any commit: a transfer demotes the old owner
-- before it promotes the new one.
CREATE UNIQUE INDEX group_members_one_owner ON group_members (group_id) WHERE role = 'owner';
