// Package store holds webchat's domain: ids, conversations, users, groups,
// messages, and the sentinel and coded errors. It imports nothing of ours;
// the adapters below it do the I/O: store/sqlgraph (the friend and group
// graph in SQL), store/plane (the Redis message plane: sequence numbers,
// history, per-device delivery, unread counts, rights, limits, the
// long-poll, sessions).
//
// Every method of the adapters that does I/O takes a context first. Errors
// are wrapped with context; callers classify them with errors.Is against
// the sentinel errors below. redis.Nil and sql.ErrNoRows never leave the
// adapters.
package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// UserID identifies a user. Zero is never a valid id.
type UserID int64

// GroupID identifies a group. Zero is never a valid id.
type GroupID int64

// Sentinel errors. Every error the store returns on purpose wraps one of
// these, usually through an *Error that adds a machine-readable code.
var (
	ErrNotFound    = errors.New("not found")
	ErrForbidden   = errors.New("forbidden")
	ErrConflict    = errors.New("conflict")
	ErrInvalid     = errors.New("invalid")
	ErrUnavailable = errors.New("unavailable")
)

// Error is an expected failure with a stable code for API clients
// (snake_case) and a message for a person. It unwraps to its Kind, one of
// the sentinel errors, so errors.Is(err, ErrConflict) works.
type Error struct {
	Kind    error
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Kind }

// Coded errors the store returns.
var (
	ErrUsernameTaken     = &Error{ErrConflict, "username_taken", "That username is taken"}
	ErrUserNotFound      = &Error{ErrNotFound, "user_not_found", "No such user"}
	ErrRequestNotFound   = &Error{ErrNotFound, "request_not_found", "No such friend request"}
	ErrGroupNotFound     = &Error{ErrNotFound, "group_not_found", "No such group"}
	ErrMemberNotFound    = &Error{ErrNotFound, "member_not_found", "No such member"}
	ErrConvNotFound      = &Error{ErrNotFound, "conversation_not_found", "No such conversation"}
	ErrAlreadyFriends    = &Error{ErrConflict, "already_friends", "You are already friends"}
	ErrNotFriends        = &Error{ErrForbidden, "not_friends", "You are not friends with this user"}
	ErrNotMember         = &Error{ErrForbidden, "not_member", "You are not a member of this group"}
	ErrNotAllowed        = &Error{ErrForbidden, "forbidden", "You may not do that"}
	ErrGroupFull         = &Error{ErrConflict, "group_full", "The group is full"}
	ErrAlreadyMember     = &Error{ErrConflict, "already_member", "That user is already a member"}
	ErrOwnerMustTransfer = &Error{ErrConflict, "owner_must_transfer", "The owner cannot leave while others remain; make someone else owner first"}
	ErrSelf              = &Error{ErrInvalid, "self", "You cannot do that to yourself"}
	ErrInviteNotFound    = &Error{ErrNotFound, "invite_not_found", "No such group invitation"}
	// ErrAlreadySent answers a retry whose client_id names a message that
	// is no longer in the Redis window of recent history.
	ErrAlreadySent = &Error{ErrConflict, "already_sent", "This message was sent earlier and is no longer in recent history; reload the conversation to see it"}
)

// User is a person's public profile.
type User struct {
	ID          UserID `json:"id"`
	Username    string `json:"username"`
	DisplayName string `json:"display_name"`
}

// Credentials is what log-in needs of a user.
type Credentials struct {
	User
	PasswordHash []byte
	CreatedAt    int64 // Unix ms
}

// FriendRequest is a pending (or answered) request from one user to another.
type FriendRequest struct {
	ID        int64  `json:"id"`
	From      User   `json:"from"`
	To        User   `json:"to"`
	CreatedAt int64  `json:"created_at"` // Unix ms
	Status    string `json:"-"`          // pending, accepted, declined
}

// Role of a group member, ranked owner > admin > member.
type Role string

const (
	RoleOwner  Role = "owner"
	RoleAdmin  Role = "admin"
	RoleMember Role = "member"
)

// Rank orders roles: a higher rank may remove a lower one.
func (r Role) Rank() int {
	switch r {
	case RoleOwner:
		return 3
	case RoleAdmin:
		return 2
	case RoleMember:
		return 1
	}
	return 0
}

// Group is a group chat.
type Group struct {
	ID          GroupID `json:"id"`
	Name        string  `json:"name"`
	Brief       string  `json:"brief"`
	OwnerID     UserID  `json:"owner_id"`
	MaxMembers  int     `json:"max_members"`
	MemberCount int     `json:"member_count"`
	Conv        string  `json:"conv"`
}

// Member is a user in a group with a role.
type Member struct {
	User
	Role Role `json:"role"`
}

// Conversation kinds.
const (
	TypeSingle = "single"
	TypeGroup  = "group"
)

// Message is one chat message as the API shows it. Conv and Seq identify it.
type Message struct {
	Conv     string `json:"conv"`
	Seq      int64  `json:"seq"`
	From     UserID `json:"from"`
	To       int64  `json:"to"`
	Type     string `json:"type"`
	Body     string `json:"body"`
	TS       int64  `json:"ts"`
	ClientID string `json:"client_id,omitempty"`
}

// Conv is a parsed conversation id: d<lo>-<hi> for two users, g<gid> for a group.
type Conv struct {
	Group  GroupID // non-zero for a group conversation
	Lo, Hi UserID  // for a direct conversation, Lo < Hi
}

// DirectConv returns the conversation of two distinct users.
func DirectConv(a, b UserID) Conv {
	if a > b {
		a, b = b, a
	}
	return Conv{Lo: a, Hi: b}
}

// GroupConv returns the conversation of a group.
func GroupConv(g GroupID) Conv { return Conv{Group: g} }

// IsGroup reports whether c is a group conversation.
func (c Conv) IsGroup() bool { return c.Group != 0 }

// String returns the conversation id as clients and Redis keys spell it.
func (c Conv) String() string {
	if c.Group != 0 {
		return "g" + strconv.FormatInt(int64(c.Group), 10)
	}
	return "d" + strconv.FormatInt(int64(c.Lo), 10) + "-" + strconv.FormatInt(int64(c.Hi), 10)
}

// Has reports whether u is one of the two people of a direct conversation.
func (c Conv) Has(u UserID) bool { return c.Group == 0 && (c.Lo == u || c.Hi == u) }

// Other returns the other person of a direct conversation.
func (c Conv) Other(u UserID) UserID {
	if c.Lo == u {
		return c.Hi
	}
	return c.Lo
}

// ParseConv parses a conversation id strictly: canonical decimal ids without
// sign or leading zeros, lo < hi for direct conversations. Anything else is
// ErrConvNotFound, so a malformed id and an unknown one look the same.
func ParseConv(s string) (Conv, error) {
	if len(s) < 2 || len(s) > 42 {
		return Conv{}, ErrConvNotFound
	}
	switch s[0] {
	case 'g':
		g, ok := parseID(s[1:])
		if !ok {
			return Conv{}, ErrConvNotFound
		}
		return Conv{Group: GroupID(g)}, nil
	case 'd':
		lo, hi, found := strings.Cut(s[1:], "-")
		a, ok1 := parseID(lo)
		b, ok2 := parseID(hi)
		if !found || !ok1 || !ok2 || a >= b {
			return Conv{}, ErrConvNotFound
		}
		return Conv{Lo: UserID(a), Hi: UserID(b)}, nil
	}
	return Conv{}, ErrConvNotFound
}

// parseID parses a positive canonical decimal int64.
func parseID(s string) (int64, bool) {
	if s == "" || s[0] == '0' || len(s) > 19 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n > 0
}

// Unavailable wraps an infrastructure error of the operation op so that
// callers see ErrUnavailable while the cause stays in the chain for logs.
// A call its caller cancelled (a client that hung up) found nothing
// unavailable: it keeps only context.Canceled, so the caller does not take
// it for an outage. The adapters (sqlgraph) wrap their errors with it.
func Unavailable(op string, err error) error {
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: %w", op, err)
	}
	return fmt.Errorf("%s: %w", op, errors.Join(ErrUnavailable, err))
}

// GroupInvite is an invitation to a group for someone who is not a friend
// of the owner or admin adding them: they are not a member until they
// accept it.
type GroupInvite struct {
	ID        int64 `json:"id"`
	Group     Group `json:"group"`
	From      User  `json:"from"`
	To        User  `json:"to"`
	CreatedAt int64 `json:"created_at"`
}

// ReadMarker says that a user has read a conversation up to Seq.
type ReadMarker struct {
	User UserID
	Conv string
	Seq  int64
}

// SearchPos is where a page of search results ends, newest first: the next
// page holds the messages before it.
type SearchPos struct {
	TS   int64
	Conv string
	Seq  int64
}

// IsZero reports whether p is the start (the newest message).
func (p SearchPos) IsZero() bool { return p.TS == 0 && p.Conv == "" && p.Seq == 0 }

// String is the position as an opaque cursor, "<ts>.<seq>.<conv>".
func (p SearchPos) String() string {
	return strconv.FormatInt(p.TS, 10) + "." + strconv.FormatInt(p.Seq, 10) + "." + p.Conv
}

// ParseSearchPos parses a cursor that String made. Anything else is
// ErrInvalid.
func ParseSearchPos(s string) (SearchPos, error) {
	ts, rest, ok1 := strings.Cut(s, ".")
	seq, conv, ok2 := strings.Cut(rest, ".")
	t, okT := parseID(ts)
	n, okS := parseID(seq)
	if !ok1 || !ok2 || !okT || !okS {
		return SearchPos{}, ErrInvalid
	}
	if _, err := ParseConv(conv); err != nil {
		return SearchPos{}, ErrInvalid
	}
	return SearchPos{TS: t, Conv: conv, Seq: n}, nil
}

// UnreadSpan asks how many messages of Conv from others than the reader
// have a seq above the reader's read marker and at most Upto.
type UnreadSpan struct {
	Conv string
	Upto int64
}

// UnreadCount is how many messages are unread and the highest seq counted.
type UnreadCount struct {
	N    int64
	Last int64
}

// What a user chooses to show: Status is online, away or invisible (seen
// by others as offline).
const (
	StatusOnline    = "online"
	StatusAway      = "away"
	StatusInvisible = "invisible"
	// PresenceOffline is what others see of a user with no device polling,
	// or an invisible one.
	PresenceOffline = "offline"
)

// ValidStatus says whether s is a status a user may choose.
func ValidStatus(s string) bool {
	return s == StatusOnline || s == StatusAway || s == StatusInvisible
}

// Prefs are what a user chose to show others.
type Prefs struct {
	Status   string // StatusOnline, StatusAway or StatusInvisible
	Receipts bool   // their reads send receipts
}

// DefaultPrefs are a new user's.
var DefaultPrefs = Prefs{Status: StatusOnline, Receipts: true}
