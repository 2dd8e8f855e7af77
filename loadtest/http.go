package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"syscall"
	"time"
)

// newTransport returns a keep-alive HTTP/1.1 transport that may hold one
// connection per user per host: every waiting poll holds one.
func newTransport(conns int) *http.Transport {
	return &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        0, // no total limit
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
		ReadBufferSize:      4 << 10,
		WriteBufferSize:     4 << 10,
	}
}

// reqError is a failed request, with the kind it is counted under.
type reqError struct {
	kind   string
	status int
	code   string // the API's error code, if any
	retry  time.Duration
	msg    string
}

func (e *reqError) Error() string {
	if e.msg != "" {
		return e.kind + ": " + e.msg
	}
	return e.kind
}

// errKind names an error for the error counts.
func errKind(op string, err error) string {
	var re *reqError
	if errors.As(err, &re) {
		return op + "_" + re.kind
	}
	return op + "_" + netKind(err)
}

func netKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "reset"
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return "too_many_open_files"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "no_local_port"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	}
	return "conn"
}

// retryable reports whether a send may be repeated (with the same
// client_id): the server may or may not have stored it.
func retryable(err error) bool {
	var re *reqError
	if errors.As(err, &re) {
		return re.status == 429 || re.status >= 500 || re.kind == "protocol"
	}
	return true // network errors and timeouts
}

// apiError is the API's error answer.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// doJSON sends a request with an optional JSON body and cookie, and decodes
// a JSON answer into out when the status is one of want.
func doJSON(ctx context.Context, hc *http.Client, method, url, cookie string, in, out any, want ...int) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return nil, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp, err
	}
	ok := false
	for _, w := range want {
		ok = ok || resp.StatusCode == w
	}
	if !ok {
		return resp, statusError(resp, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return resp, &reqError{kind: "protocol", status: resp.StatusCode, msg: fmt.Sprintf("%s %s: decode %.200q: %v", method, url, b, err)}
		}
	}
	return resp, nil
}

func statusError(resp *http.Response, b []byte) error {
	e := &reqError{kind: "http_" + strconv.Itoa(resp.StatusCode), status: resp.StatusCode}
	var ae apiError
	if json.Unmarshal(b, &ae) == nil && ae.Error.Code != "" {
		e.code = ae.Error.Code
		e.kind += "_" + ae.Error.Code
	}
	e.msg = fmt.Sprintf("%s %s: %.200s", resp.Request.Method, resp.Request.URL.Path, bytes.TrimSpace(b))
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
		e.retry = time.Duration(s) * time.Second
	}
	return e
}

// cookieHeader turns a response's Set-Cookie headers into a Cookie header.
func cookieHeader(resp *http.Response) string {
	var b bytes.Buffer
	for _, c := range resp.Cookies() {
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString(c.Name + "=" + c.Value)
	}
	return b.String()
}
