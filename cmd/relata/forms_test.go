package main_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// formsChromium finds Debian's chromium (or another Chrome) for the browser tests, or skips the
// test when there is none. RELATA_CHROMIUM names a binary explicitly.
func formsChromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("RELATA_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium binary: install Debian's chromium (apt-get install -y chromium) to run the browser tests; .ci/run does")
	return ""
}

// newFormsBrowser starts headless Chromium and returns a context for chromedp.
func newFormsBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(formsChromium(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1000, 1100),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // start the browser now, without a timeout
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// TestContactFormInBrowser fills the example "Contact us" form in headless Chromium, the
// way a visitor does, against the real binary with the example data and workflows: a
// server-side error is shown and focused, then the corrected form is accepted. The contact,
// its consent and the submission are stored, the example workflows create the call task and
// queue the welcome email, and the script the visitor typed never runs.
func TestContactFormInBrowser(t *testing.T) {
	t.Parallel()
	ctx := newFormsBrowser(t)
	data := t.TempDir()
	if o, err := run(t, "superuser", "upsert", "root@example.com", "root-password-1", "--dir", data); err != nil {
		t.Fatalf("superuser upsert: %v\n%s", err, o)
	}
	s := startServer(t, data, "--demo")

	var dialogs atomic.Int32
	if err := chromedp.Listen(ctx, func(ev any) {
		if _, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			dialogs.Add(1)
		}
	}); err != nil {
		t.Fatal(err)
	}
	tctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(tctx, actions...); err != nil {
			t.Fatalf("%s: %v\nserver log:\n%s", what, err, s.logs)
		}
	}
	evalJS := func(expr string) string {
		t.Helper()
		v, err := chromedp.Run(tctx, chromedp.Evaluate[string](expr))
		if err != nil {
			t.Fatalf("evaluate %s: %v", expr, err)
		}
		return v
	}

	step("open the form", chromedp.Navigate(s.url+"/forms/contact-us"), chromedp.WaitVisible(chromedp.CSS("#f-full_name")))
	if got := evalJS(`document.title`); got != "Contact us" {
		t.Errorf("title = %q", got)
	}
	if os.Getenv("RELATA_SCREENSHOTS") == "1" {
		png, err := chromedp.Run(tctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(repoRoot, "docs", "form-contact-us.png")
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(out, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", out)
	}

	const message = `<script>alert("pwned")</script> Please call me about pricing.`
	step("fill in the form",
		chromedp.SendKeys(chromedp.CSS("#f-full_name"), "<b>Grace</b> Hopper"),
		chromedp.SendKeys(chromedp.CSS("#f-email"), "grace.hopper@navy.example"),
		chromedp.SendKeys(chromedp.CSS("#f-message"), message),
		chromedp.Click(chromedp.CSS("#f-_consent")),
		chromedp.Sleep(3200*time.Millisecond), // the form's minimum fill time is 3 s
		chromedp.Click(chromedp.CSS("button.rf-submit")),
		chromedp.WaitVisible(chromedp.CSS("#rf-summary")),
	)
	if got := evalJS(`document.activeElement ? document.activeElement.id : ""`); got != "f-full_name" {
		t.Errorf("focus after the error is on %q; want the first field with an error, f-full_name", got)
	}
	if got := evalJS(`document.getElementById("f-full_name-error").textContent`); !strings.Contains(got, "must not contain HTML tags") {
		t.Errorf("error of the name = %q", got)
	}
	if got := evalJS(`document.getElementById("f-full_name").getAttribute("aria-describedby")`); got != "f-full_name-error" {
		t.Errorf("aria-describedby = %q", got)
	}
	if got := evalJS(`document.getElementById("f-message").value`); got != message {
		t.Errorf("the message came back as %q; want it as typed", got)
	}

	evalJS(`document.getElementById("f-full_name").value = ""`)
	step("correct the name and send",
		chromedp.SendKeys(chromedp.CSS("#f-full_name"), "Grace Hopper"),
		chromedp.Click(chromedp.CSS("button.rf-submit")),
		chromedp.WaitVisible(chromedp.CSS("#rf-success")),
	)
	if got := evalJS(`document.getElementById("rf-success").textContent`); !strings.Contains(got, "Thank you! Your message has reached our team.") {
		t.Errorf("success message = %q", got)
	}
	if n := dialogs.Load(); n != 0 {
		t.Errorf("%d JavaScript dialogs opened: the typed script ran", n)
	}

	tok, _ := s.login(t, "_superusers", "root@example.com", "root-password-1")
	var contacts list
	s.api(t, http.MethodGet, "/api/collections/contacts/records?filter="+urlEscape(`email = "grace.hopper@navy.example"`), tok, nil, &contacts)
	if contacts.TotalItems != 1 {
		t.Fatalf("contacts with the email = %d; want 1", contacts.TotalItems)
	}
	c := contacts.Items[0]
	id, _ := c["id"].(string)
	if c["full_name"] != "Grace Hopper" || c["source"] != "website" || c["message"] != message || c["lifecycle_stage"] != "lead" {
		t.Errorf("contact = %v", c)
	}
	var consents list
	s.api(t, http.MethodGet, "/api/collections/consents/records?filter="+urlEscape(`contact = "`+id+`"`), tok, nil, &consents)
	if consents.TotalItems != 1 || consents.Items[0]["version"] != "2026-01" || consents.Items[0]["client_ip"] != "127.0.0.1" ||
		!strings.Contains(fmt.Sprint(consents.Items[0]["user_agent"]), "Chrome") {
		t.Errorf("consents = %+v", consents)
	}
	var subs list
	s.api(t, http.MethodGet, "/api/collections/form_submissions/records?filter="+urlEscape(`record_id = "`+id+`"`), tok, nil, &subs)
	if subs.TotalItems != 1 || subs.Items[0]["form"] != "contact-us" || subs.Items[0]["action"] != "created" {
		t.Errorf("form submissions = %+v", subs)
	}
	// The form assigns web leads round robin across the sales team: the lead has a sales
	// owner, and the call task is theirs.
	owner, _ := c["owner"].(string)
	var ownerRec map[string]any
	if owner == "" {
		t.Errorf("the web lead has no owner; the contact-us form assigns one")
	} else if s.api(t, http.MethodGet, "/api/collections/users/records/"+owner, tok, nil, &ownerRec); ownerRec["role"] != "sales" {
		t.Errorf("the web lead's owner %s has role %v; want sales", owner, ownerRec["role"])
	}
	// The example workflows (record_created, source "website") run in the background.
	formsEventually(t, "the call task of web-lead-call-task, for the lead's owner", func() bool {
		var tasks list
		s.api(t, http.MethodGet, "/api/collections/activities/records?filter="+
			urlEscape(`contact = "`+id+`" && type = "call" && subject = "Call new web lead Grace Hopper" && owner = "`+owner+`" && owner != ""`), tok, nil, &tasks)
		return tasks.TotalItems == 1
	})
	formsEventually(t, "the welcome email of web-lead-welcome-email in the outbox", func() bool {
		var emails list
		s.api(t, http.MethodGet, "/api/collections/emails/records?filter="+
			urlEscape(`record_id = "`+id+`" && subject = "Welcome, Grace Hopper"`), tok, nil, &emails)
		return emails.TotalItems == 1
	})
}

// TestEmbeddedForm puts the form on another site with the documented embed snippet: the
// script adds the iframe, and the page in it reports its height so the frame grows.
func TestEmbeddedForm(t *testing.T) {
	t.Parallel()
	ctx := newFormsBrowser(t)
	s := startServer(t, t.TempDir(), "--demo")
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html><head><title>Acme</title></head><body><h1>Acme Ltd</h1>
<div id="contact"></div>
<script src="%s/forms/contact-us/embed.js" data-target="#contact" async></script>
</body></html>`, s.url)
	}))
	defer site.Close()
	tctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(tctx, chromedp.Navigate(site.URL), chromedp.WaitVisible(chromedp.CSS("#contact iframe"))); err != nil {
		t.Fatal(err)
	}
	formsEventually(t, "the embedded form reports its height", func() bool {
		h, err := chromedp.Run(tctx, chromedp.Evaluate[string](`(document.querySelector("#contact iframe") || {style: {}}).style.height || ""`))
		return err == nil && strings.HasSuffix(h, "px") && h != "0px"
	})
	src, err := chromedp.Run(tctx, chromedp.Evaluate[string](`document.querySelector("#contact iframe").src`))
	if err != nil || src != s.url+"/forms/contact-us?embed=1" {
		t.Errorf("iframe src = %q, %v", src, err)
	}
}

// formsEventually polls cond for up to 30 seconds.
func formsEventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
