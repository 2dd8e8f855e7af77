package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// A page of another site that navigates the browser to /api/poll (the Lax
// session cookie goes with a top-level navigation) is refused, 403, and
// the person's own tab goes on receiving: before, that navigation
// superseded the tab's poll and the next message waited for a click.
func TestBrowserPollFromAnotherSiteIsRefused(t *testing.T) {
	srv := startServer(t)
	br := startBrowser(t)
	a := srv.apiSignup(t, "alice", "Alice")
	b := srv.apiSignup(t, "bob", "Bob")
	a.befriend(b, "bob")
	conv := dmConv(a.ID, b.ID)
	bob := newPerson(t, br, srv, "bob")
	bob.login("bob")
	bob.openConv(conv)
	waitGauge(t, srv, 1)

	// The other site: "localhost" is another site than "127.0.0.1".
	target := srv.URL + "/api/poll?timeout=1"
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!doctype html><title>cats</title><script>location.href = %q</script>`, target)
	}))
	defer evil.Close()
	evilURL := strings.Replace(evil.URL, "127.0.0.1", "localhost", 1)

	tab := bob.newTab("the other site")
	tab.do(chromedp.Navigate(evilURL))
	tab.wait(uiSettle, "the navigation to the poll", `location.href.startsWith(`+jsString(srv.URL+"/api/poll")+`) && document.readyState === 'complete' && document.body.textContent.length > 0`)

	bob.wait(uiSettle, "bob's tab still polling", `document.documentElement.dataset.poll === 'leader' && document.getElementById('banner').hidden`)
	a.send(b.ID, "still here")
	bob.waitMessage(conv, "still here", "Alice")
	if body := evalJS[string](tab, `document.body.textContent`); !strings.Contains(body, "cross_origin") {
		t.Fatalf("the navigation was answered %q, want the 403 cross_origin", body)
	}
}
