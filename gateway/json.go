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
		return nil, badRequest("invalid_body", "could not read the request body")
	}
	return body, nil
}

func decodeBytes(body []byte, dst any) error {
	if !utf8.Valid(body) {
		return badRequest("invalid_json", "the request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("invalid_json", "the request body must hold exactly one JSON object")
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
		return badRequest("invalid_json", fmt.Sprintf("malformed JSON at byte %d", syn.Offset))
	case errors.As(err, &typ):
		if typ.Field == "" {
			return badRequest("invalid_json", "the request body must be a JSON object")
		}
		return badRequest("invalid_field", fmt.Sprintf("%s must be %s", typ.Field, jsonKind(typ.Type.Kind().String())))
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("invalid_json", "the request body is empty or cut short")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return badRequest("unknown_field", "unknown field "+strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return badRequest("invalid_json", "malformed JSON")
}

func jsonKind(k string) string {
	switch k {
	case "int", "int64", "int32", "uint", "uint64", "float64", "ptr":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	}
	return "of another type"
}

// missing returns a 400 naming the first required field that is absent.
func missing(fields ...any) error {
	for i := 0; i+1 < len(fields); i += 2 {
		name := fields[i].(string)
		switch v := fields[i+1].(type) {
		case *string:
			if v == nil {
				return badRequest("missing_field", name+" is required")
			}
		case *int64:
			if v == nil {
				return badRequest("missing_field", name+" is required")
			}
		}
	}
	return nil
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"internal","message":"could not encode the answer"}}`)
	}
	writeRaw(w, status, b)
}

// The constant header values every answer carries, shared rather than
// allocated per answer: net/http only reads them, and Header.Add would
// append to a copy (length and capacity are 1).
var (
	hdrJSON    = []string{"application/json"}
	hdrNoStore = []string{"no-store"}
)

// writeRaw answers JSON already encoded (messages and events come from
// Redis as JSON and are never re-encoded).
func writeRaw(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h["Content-Type"] = hdrJSON
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	h["Cache-Control"] = hdrNoStore
	w.WriteHeader(status)
	w.Write(b)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
