package main

// The loadtest's own copy of the webchat wire format (DESIGN.md, HTTP API).
// It is deliberately not shared with the server: a drift breaks the load
// test loudly (a protocol error) instead of silently following along.

type wUser struct {
	ID          int64  `json:"id"`
	Username    string `json:"username"`
	DisplayName string `json:"display_name"`
}

type wSignup struct {
	Username    string `json:"username"`
	Password    string `json:"password"`
	DisplayName string `json:"display_name"`
}

type wUserAnswer struct {
	User wUser `json:"user"`
}

type wFriendRequestBody struct {
	Username string `json:"username"`
}

type wFriendRequest struct {
	ID        int64 `json:"id"`
	From      wUser `json:"from"`
	To        wUser `json:"to"`
	CreatedAt int64 `json:"created_at"`
}

// wFriendAnswer is the answer to a friend request (request) or to an
// accept, or to a request they had already made (friend).
type wFriendAnswer struct {
	Request *wFriendRequest `json:"request"`
	Friend  *wUser          `json:"friend"`
}

type wCreateGroup struct {
	Name       string `json:"name"`
	Brief      string `json:"brief"`
	MaxMembers int    `json:"max_members"`
}

type wGroup struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	OwnerID     int64  `json:"owner_id"`
	MaxMembers  int    `json:"max_members"`
	MemberCount int    `json:"member_count"`
	Conv        string `json:"conv"`
}

type wGroupAnswer struct {
	Group wGroup `json:"group"`
}

type wAddMember struct {
	Username string `json:"username"`
}

// wMemberAnswer is an add's answer: the member (201, a friend of the one
// adding) or the invitation (202, anyone else), which the invitee accepts.
type wMemberAnswer struct {
	Member struct {
		ID   int64  `json:"id"`
		Role string `json:"role"`
	} `json:"member"`
	Invite *struct {
		ID int64 `json:"id"`
		To struct {
			ID int64 `json:"id"`
		} `json:"to"`
	} `json:"invite"`
}

// wJoined is an accepted invitation's answer.
type wJoined struct {
	Member struct {
		ID int64 `json:"id"`
	} `json:"member"`
}

type wSend struct {
	To       int64  `json:"to"`
	Type     string `json:"type"`
	Body     string `json:"body"`
	ClientID string `json:"client_id"`
}

type wMessage struct {
	Conv     string `json:"conv"`
	Seq      int64  `json:"seq"`
	From     int64  `json:"from"`
	To       int64  `json:"to"`
	Type     string `json:"type"`
	Body     string `json:"body"`
	TS       int64  `json:"ts"`
	ClientID string `json:"client_id"`
}

type wMessageAnswer struct {
	Message wMessage `json:"message"`
}

// wEvent is a poll event; only messages matter to the load test, the
// other types (friend_added, group_updated, read...) are skipped.
type wEvent struct {
	ID      int64     `json:"id"`
	Type    string    `json:"type"`
	Message *wMessage `json:"message"`
}

type wPoll struct {
	Events []wEvent `json:"events"`
	Cursor string   `json:"cursor"`
	Resync bool     `json:"resync"`
}

type wTyping struct {
	Typing bool `json:"typing"`
}

type wRead struct {
	Seq int64 `json:"seq"`
}
