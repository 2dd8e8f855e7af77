package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"webchat/store"
)

// apiError is an error the gateway answers as it is.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.message }

func badRequest(code, msg string) error { return &apiError{http.StatusBadRequest, code, msg} }

var (
	errUnauthorized  = &apiError{http.StatusUnauthorized, "unauthorized", "log in first"}
	errBadCreds      = &apiError{http.StatusUnauthorized, "invalid_credentials", "wrong username or password"}
	errDraining      = &apiError{http.StatusServiceUnavailable, "draining", "this node is shutting down; try again"}
	errTooManyPolls  = &apiError{http.StatusServiceUnavailable, "overloaded", "too many waiting polls on this node; try again"}
	errSuperseded    = &apiError{http.StatusConflict, "superseded", "a newer poll from this device took over"}
	errInvalidCursor = badRequest("invalid_cursor", "the cursor is malformed or belongs to another device")
	errNotFound      = &apiError{http.StatusNotFound, "not_found", "no such resource"}
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
	status, code, msg := http.StatusInternalServerError, "internal", "something went wrong on our side"
	switch {
	case errors.As(err, &ae):
		status, code, msg = ae.status, ae.code, ae.message
	case errors.As(err, &rl):
		w.Header().Set("Retry-After", itoa(int64(rl.retryAfter)))
		status, code, msg = http.StatusTooManyRequests, "rate_limited", "too many requests; slow down"
	case errors.As(err, &mbe):
		status, code, msg = http.StatusRequestEntityTooLarge, "too_large", "the request body is too large"
	case errors.As(err, &se):
		status, code, msg = kindStatus(se.Kind), se.Code, se.Message
	case errors.Is(err, store.ErrUnavailable):
		status, code, msg = http.StatusServiceUnavailable, "unavailable", "the service is temporarily unavailable; try again"
	case errors.Is(err, store.ErrNotFound):
		status, code, msg = http.StatusNotFound, "not_found", "no such resource"
	case errors.Is(err, store.ErrForbidden):
		status, code, msg = http.StatusForbidden, "forbidden", "you may not do that"
	case errors.Is(err, store.ErrConflict):
		status, code, msg = http.StatusConflict, "conflict", "that conflicts with the current state"
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
