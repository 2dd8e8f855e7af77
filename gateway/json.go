package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxBody is the largest request body accepted (413 above it).
const maxBody = 64 << 10

// decode reads exactly one JSON object into dst: at most maxBody bytes,
// valid UTF-8 (Go's decoder would silently replace invalid bytes), no
// unknown fields, no wrong types. The error names the field.
func decode(w http.ResponseWriter, r *http.Request, dst any) error {
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	return decodeBytes(body, dst)
}

// readBody reads the request body, at most maxBody bytes.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, badRequest("invalid_body", "The request could not be read")
	}
	return body, nil
}

func decodeBytes(body []byte, dst any) error {
	if !utf8.Valid(body) {
		return badRequest("invalid_json", "The request is not valid UTF-8 text")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("invalid_json", "The request must be exactly one JSON object")
	}
	return nil
}

func jsonError(err error) error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syn):
		return badRequest("invalid_json", fmt.Sprintf("The request is not valid JSON (at byte %d)", syn.Offset))
	case errors.As(err, &typ):
		if typ.Field == "" {
			return badRequest("invalid_json", "The request must be a JSON object")
		}
		return badRequest("invalid_field", fieldLabel(typ.Field)+" must be "+jsonKind(typ.Type.Kind().String()))
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("invalid_json", "The request is empty or cut short")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// Not a field of ours, so it has no label: quoted as sent.
		return badRequest("unknown_field", "The request has a field this server does not know: "+strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return badRequest("invalid_json", "The request is not valid JSON")
}

func jsonKind(k string) string {
	switch k {
	case "int", "int64", "int32", "uint", "uint64", "float64", "ptr":
		return "a number"
	case "string":
		return "text"
	case "bool":
		return "true or false"
	}
	return "of another type"
}

// missing returns a 400 naming (by its label) the first required field
// that is absent; fields are pairs of the JSON name and the decoded value.
func missing(fields ...any) error {
	for i := 0; i+1 < len(fields); i += 2 {
		name := fields[i].(string)
		switch v := fields[i+1].(type) {
		case *string:
			if v == nil {
				return badRequest("missing_field", fieldLabel(name)+" is required")
			}
		case *int64:
			if v == nil {
				return badRequest("missing_field", fieldLabel(name)+" is required")
			}
		case *bool:
			if v == nil {
				return badRequest("missing_field", fieldLabel(name)+" is required")
			}
		}
	}
	return nil
}

// fieldLabels name the API's fields and query parameters as a person knows
// them (the page's own labels where it has one), for error messages: the
// browser shows a message as it is, and people never see the JSON.
var fieldLabels = map[string]string{
	"username":     "Username",
	"password":     "Password",
	"display_name": "Display name",
	"name":         "Group name",
	"brief":        "About",
	"max_members":  "Max members",
	"role":         "Role",
	"status":       "Status",
	"typing":       "Typing",
	"receipts":     "Read receipts",
	"to":           "Recipient",
	"type":         "Conversation type",
	"body":         "Message",
	"client_id":    "Message retry id",
	"seq":          "Message number",
	"timeout":      "Poll timeout",
	"before":       "Page start",
	"limit":        "Page size",
}

// fieldLabel is the label of an API field; a field without one (a new one)
// reads as words: "max_members" as "Max members".
func fieldLabel(field string) string {
	if l, ok := fieldLabels[field]; ok {
		return l
	}
	l := strings.ReplaceAll(field, "_", " ")
	if l == "" || l[0] < 'a' || l[0] > 'z' {
		return l
	}
	return string(l[0]-'a'+'A') + l[1:]
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"internal","message":"Something went wrong on our side"}}`)
	}
	writeRaw(w, status, b)
}

// writeRaw answers JSON already encoded (messages and events come from
// Redis as JSON and are never re-encoded).
func writeRaw(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
