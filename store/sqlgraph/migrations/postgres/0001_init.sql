-- 0001: the social graph, as migrations/sqlite/0001_init.sql has it. Ids are
-- identity columns: a sequence never hands out a number twice, even after a
-- rollback or a delete, because Redis keys are named after group and user
-- ids (wc:hist:{c:g<gid>}) and a reused id would inherit a deleted group's
-- history and members. GENERATED ALWAYS refuses an id given by hand, which
-- would later collide with the sequence. Times are Unix milliseconds.

CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      TEXT   NOT NULL,
    display_name  TEXT   NOT NULL,
    password_hash BYTEA  NOT NULL,
    created_at    BIGINT NOT NULL,
    -- Uniqueness is on the lower-cased name; the store lower-cases before it
    -- writes, and this check keeps anyone else from writing a mixed-case one.
    CHECK (username = lower(username))
);
CREATE UNIQUE INDEX users_username ON users (username);

-- One row per pair, smaller id first, so a pair cannot be stored twice.
CREATE TABLE friendships (
    user_lo    BIGINT NOT NULL REFERENCES users (id),
    user_hi    BIGINT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_lo, user_hi),
    CHECK (user_lo < user_hi)
);
CREATE INDEX friendships_hi ON friendships (user_hi);

CREATE TABLE friend_requests (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    from_id    BIGINT NOT NULL REFERENCES users (id),
    to_id      BIGINT NOT NULL REFERENCES users (id),
    pair_lo    BIGINT NOT NULL,
    pair_hi    BIGINT NOT NULL,
    status     TEXT   NOT NULL CHECK (status IN ('pending', 'accepted', 'declined')),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CHECK (pair_lo < pair_hi),
    CHECK ((from_id = pair_lo AND to_id = pair_hi) OR (from_id = pair_hi AND to_id = pair_lo))
);
-- At most one pending request per pair, whichever way it points. Under READ
-- COMMITTED two people asking each other at the same moment both find no
-- request and both insert: this index makes the second insert wait for the
-- first to commit and then fail with unique_violation, and RequestFriend
-- tries once more, finding the other's request and accepting it.
CREATE UNIQUE INDEX friend_requests_pending_pair ON friend_requests (pair_lo, pair_hi) WHERE status = 'pending';
CREATE INDEX friend_requests_pending_to ON friend_requests (to_id) WHERE status = 'pending';
CREATE INDEX friend_requests_pending_from ON friend_requests (from_id) WHERE status = 'pending';

CREATE TABLE chat_groups (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        TEXT    NOT NULL,
    brief       TEXT    NOT NULL,
    owner_id    BIGINT  NOT NULL REFERENCES users (id),
    max_members INTEGER NOT NULL CHECK (max_members >= 1),
    created_at  BIGINT  NOT NULL
);

CREATE TABLE group_members (
    group_id  BIGINT NOT NULL REFERENCES chat_groups (id) ON DELETE CASCADE,
    user_id   BIGINT NOT NULL REFERENCES users (id),
    role      TEXT   NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    joined_at BIGINT NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);
-- Exactly one owner per group at any commit: a transfer demotes the old owner
-- before it promotes the new one (a unique index is checked row by row).
CREATE UNIQUE INDEX group_members_one_owner ON group_members (group_id) WHERE role = 'owner';
