package main

import (
	"context"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"time"
)

// nchanDriver drives Nchan's long-poll subscriber and HTTP publisher with
// the same scenarios: one channel per user (direct, idle) or per group
// (group; every member subscribes to it). The config is
// loadtest/nchan/nginx.conf. Nchan has no sequence numbers: repeats are
// found by the message id the body carries.
type nchanDriver struct{}

func (nchanDriver) channel(e *engine, u *user) string {
	if e.cfg.Scenario == "group" && u.group >= 0 {
		return fmt.Sprintf("lt%sg%d", e.runID, u.group)
	}
	return fmt.Sprintf("lt%su%d", e.runID, u.idx)
}

// setup has nothing to create: channels exist when first used.
func (nchanDriver) setup(ctx context.Context, e *engine) error {
	// One request to fail early if nothing answers.
	resp, err := doJSON(ctx, e.setHC, "GET", e.cfg.URLs[0]+"/nchan_status", "", nil, nil, 200)
	if err != nil {
		return fmt.Errorf("nchan at %s: %w (is it the config from loadtest/nchan?)", e.cfg.URLs[0], err)
	}
	_ = resp
	return nil
}

func (nchanDriver) settle(context.Context, *engine, *user) error { return nil }

func (d nchanDriver) poll(ctx context.Context, e *engine, u *user) ([]delivery, error) {
	pctx, cancel := context.WithTimeout(ctx, time.Duration(e.cfg.PollTimeout)*time.Second+15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(pctx, "GET", u.base+"/sub/"+d.channel(e, u), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "multipart/mixed") // every waiting message in one answer
	if u.lastMod != "" {
		req.Header.Set("If-Modified-Since", u.lastMod)
		req.Header.Set("If-None-Match", u.etag)
	}
	resp, err := e.pollHC.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case 200:
	case 408, 304: // the subscriber timeout passed: poll again with the same id
		io.Copy(io.Discard, resp.Body)
		return nil, nil
	default:
		b, _ := io.ReadAll(resp.Body)
		return nil, statusError(resp, b)
	}
	var bodies []string
	if boundary, ok := multipartBoundary(resp.Header.Get("Content-Type")); ok {
		mr := multipart.NewReader(resp.Body, boundary)
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, &reqError{kind: "protocol", msg: "multipart: " + err.Error()}
			}
			b, err := io.ReadAll(p)
			if err != nil {
				return nil, err
			}
			bodies = append(bodies, string(b))
		}
	} else {
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return nil, err
		}
		bodies = append(bodies, string(b))
	}
	lm, et := resp.Header.Get("Last-Modified"), resp.Header.Get("Etag")
	if lm == "" {
		return nil, &reqError{kind: "protocol", msg: "subscriber answer without Last-Modified"}
	}
	u.lastMod, u.etag = lm, et
	out := make([]delivery, len(bodies))
	for i, b := range bodies {
		out[i] = delivery{body: b}
	}
	return out, nil
}

// multipartBoundary reads the boundary of a multipart answer. Nchan's
// boundaries hold '/' without quotes, which mime.ParseMediaType refuses.
func multipartBoundary(ct string) (string, bool) {
	if !strings.HasPrefix(strings.ToLower(ct), "multipart/") {
		return "", false
	}
	if _, params, err := mime.ParseMediaType(ct); err == nil && params["boundary"] != "" {
		return params["boundary"], true
	}
	_, b, ok := strings.Cut(ct, "boundary=")
	if !ok {
		return "", false
	}
	b, _, _ = strings.Cut(b, ";")
	return strings.Trim(strings.TrimSpace(b), `"`), true
}

func (d nchanDriver) send(ctx context.Context, e *engine, u *user, dest int, body, _ string) (sendAnswer, error) {
	var ch string
	if e.cfg.Scenario == "group" {
		ch = fmt.Sprintf("lt%sg%d", e.runID, dest)
	} else {
		ch = d.channel(e, e.users[dest])
	}
	req, err := http.NewRequestWithContext(ctx, "POST", u.base+"/pub/"+ch, strings.NewReader(body))
	if err != nil {
		return sendAnswer{}, err
	}
	req.Header.Set("Content-Type", "text/plain")
	resp, err := e.sendHC.Do(req)
	if err != nil {
		return sendAnswer{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	// 201: there were subscribers; 202: queued with none waiting.
	if resp.StatusCode != 201 && resp.StatusCode != 202 {
		return sendAnswer{}, statusError(resp, b)
	}
	return sendAnswer{}, nil
}
