-- Invitations to a group for people who are not friends of the one adding
-- them: they become members only when they accept.
CREATE TABLE group_invites (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    group_id   BIGINT NOT NULL REFERENCES chat_groups (id) ON DELETE CASCADE,
    from_id    BIGINT NOT NULL REFERENCES users (id),
    to_id      BIGINT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL
);
-- One invitation per person and group: asking again answers the same one.
CREATE UNIQUE INDEX group_invites_group_to ON group_invites (group_id, to_id);
CREATE INDEX group_invites_to ON group_invites (to_id);
