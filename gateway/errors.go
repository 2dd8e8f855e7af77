package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"webchat/store"
)

// apiError is an error the gateway answers as it is. Its message is for a
// person (the browser shows it): a sentence that names what they see
// (fieldLabel), never an API field; clients that branch read the code.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.message }

func badRequest(code, msg string) error { return &apiError{http.StatusBadRequest, code, msg} }

var (
	errUnauthorized        = &apiError{http.StatusUnauthorized, "unauthorized", "Log in first"}
	errBadCreds            = &apiError{http.StatusUnauthorized, "invalid_credentials", "Wrong username or password"}
	errDraining            = &apiError{http.StatusServiceUnavailable, "draining", "This server is restarting; try again"}
	errTooManyPolls        = &apiError{http.StatusServiceUnavailable, "overloaded", "This server is too busy to wait for new messages; try again"}
	errSuperseded          = &apiError{http.StatusConflict, "superseded", "Another tab or window of this browser now receives the messages"}
	errInvalidCursor       = badRequest("invalid_cursor", "This page lost its place in the message stream; reload it")
	errPollFromAnotherSite = &apiError{http.StatusForbidden, "cross_origin", "Polls come from the chat page itself, not from a link or another site"}
	errNotFound            = &apiError{http.StatusNotFound, "not_found", "Not found"}
)

// rateLimited is a 429 with the seconds to wait.
type rateLimited struct{ retryAfter int }

func (e *rateLimited) Error() string { return "rate limited" }

// writeError maps err to a status and {"error": {"code", "message"}}. Only
// an unexpected 5xx is logged, once, with the request id; a client that
// hung up is not an error.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var (
		ae  *apiError
		se  *store.Error
		rl  *rateLimited
		mbe *http.MaxBytesError
	)
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		// The client hung up, whatever the error wraps besides: nobody
		// reads an answer, and it is not the node's failure.
		return
	}
	status, code, msg := http.StatusInternalServerError, "internal", "Something went wrong on our side"
	switch {
	case errors.As(err, &ae):
		status, code, msg = ae.status, ae.code, ae.message
	case errors.As(err, &rl):
		w.Header().Set("Retry-After", itoa(int64(rl.retryAfter)))
		status, code, msg = http.StatusTooManyRequests, "rate_limited", "Too many requests; slow down"
	case errors.As(err, &mbe):
		status, code, msg = http.StatusRequestEntityTooLarge, "too_large", "That is too large to send"
	case errors.As(err, &se):
		status, code, msg = kindStatus(se.Kind), se.Code, se.Message
	case errors.Is(err, store.ErrUnavailable):
		status, code, msg = http.StatusServiceUnavailable, "unavailable", "The service is unavailable for a moment; try again"
	case errors.Is(err, store.ErrNotFound):
		status, code, msg = http.StatusNotFound, "not_found", "Not found"
	case errors.Is(err, store.ErrForbidden):
		status, code, msg = http.StatusForbidden, "forbidden", "You may not do that"
	case errors.Is(err, store.ErrConflict):
		status, code, msg = http.StatusConflict, "conflict", "That changed meanwhile; reload and try again"
	}
	if status >= 500 && code != "draining" && code != "overloaded" {
		s.log.LogAttrs(r.Context(), slog.LevelError, "request failed",
			slog.String("request_id", requestID(r.Context())), slog.String("method", r.Method),
			slog.String("path", r.URL.Path), slog.Int("status", status), slog.Any("err", err))
	}
	if status == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, status, errorBody{errorDetail{code, msg}})
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func kindStatus(kind error) int {
	switch kind {
	case store.ErrNotFound:
		return http.StatusNotFound
	case store.ErrForbidden:
		return http.StatusForbidden
	case store.ErrConflict:
		return http.StatusConflict
	case store.ErrInvalid:
		return http.StatusBadRequest
	case store.ErrUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}
