package gateway

import (
	"strings"
	"testing"
	"unicode/utf8"

	"webchat/store"
)

// FuzzDecode feeds untrusted bytes to every request decoder and to the
// send validation: nothing may panic, and what is accepted must be sane.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"to":2,"type":"single","body":"hi","client_id":"c1"}`,
		`{"to":"2","type":"single","body":"hi"}`,
		`{"to":1e400,"type":"group","body":"x"}`,
		`{"username":"alice","password":"password1","display_name":"A"}`,
		`{"name":"g","brief":"b","max_members":2000}`,
		`{"role":"admin"}`, `{"seq":-1}`, `[[[[[]]]]]`, `{"body":"\u0000"}`, "{\"body\":\"\xff\"}",
		`{"to":2,"type":"single","body":"hi"}{}`, ``, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var send sendRequest
		if decodeBytes(data, &send) == nil {
			if conv, err := send.validate(7); err == nil {
				b := *send.Body
				if !utf8.ValidString(b) || strings.ContainsRune(b, 0) || strings.TrimSpace(b) == "" || utf8.RuneCountInString(b) > maxBodyChars {
					t.Fatalf("accepted body %q", b)
				}
				if *send.To <= 0 || (conv.Group == 0 && conv.Lo >= conv.Hi) {
					t.Fatalf("accepted to=%d conv=%+v", *send.To, conv)
				}
			}
		}
		for _, dst := range []any{&signupRequest{}, &loginRequest{}, &usernameRequest{}, &createGroupRequest{},
			&setRoleRequest{}, &readRequest{}} {
			if err := decodeBytes(data, dst); err == nil && !utf8.Valid(data) {
				t.Fatalf("accepted invalid UTF-8 into %T", dst)
			}
		}
	})
}

// FuzzParseCursor: a cursor is accepted only in its canonical form, with
// an epoch or (from before epochs) without.
func FuzzParseCursor(f *testing.F) {
	for _, s := range []string{"abcd-0", "abcd-42", "abcd-042", "abcd--1", "abcd-", "-1", "abcd-99999999999999999999",
		"other-1", "abcd-1-2", "abcd-mh3x9k-7", "abcd-MH-7", "abcd--7", "abcd-e-07"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, c string) {
		dev, epoch, n, err := parseCursor(c)
		if err != nil || c == "" {
			return
		}
		want := formatCursor(dev, epoch, n)
		if epoch == "" {
			want = dev + "-" + itoa(n)
		}
		if n < 0 || want != c {
			t.Fatalf("accepted %q as %q %d", c, epoch, n)
		}
	})
}

// FuzzParseConv: a conversation id is accepted only in its canonical form.
func FuzzParseConv(f *testing.F) {
	for _, s := range []string{"d1-2", "d2-1", "d01-2", "g7", "g0", "g-1", "d1-1", "x", "d9223372036854775807-1", "g9223372036854775808"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := store.ParseConv(s)
		if err != nil {
			return
		}
		if c.String() != s {
			t.Fatalf("accepted %q, canonical %q", s, c.String())
		}
		if c.Group == 0 && !(0 < c.Lo && c.Lo < c.Hi) || c.Group < 0 {
			t.Fatalf("accepted %q as %+v", s, c)
		}
	})
}
