package forms

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	htmltemplate "html/template"
	"net/http"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
)

// Double opt-in: a consent given on a form with "doubleOptIn" waits for the person to
// confirm it through a signed link emailed to them (package hooks queues the email when the
// consent is stored). The link opens a page with a button — link scanners that follow links
// confirm nothing — and its POST stamps confirmed_at.

// ConfirmPath is the path of confirmation links, followed by the token.
const ConfirmPath = "/confirm/"

// ErrBadConfirmToken is returned for a confirmation token that is not Relata's.
var ErrBadConfirmToken = errors.New("forms: invalid confirmation token")

// b64 is strict: a token whose last character differs only in unused bits is not the same
// token (it is refused, not read as the original).
var b64 = base64.RawURLEncoding.Strict()

func confirmKey(app core.App) ([]byte, error) { return schemas.StoredSecret(app, "consent-confirm") }

func confirmMAC(key []byte, consentID string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("confirm\n" + consentID))
	return m.Sum(nil)
}

// ConfirmToken returns the signed token of the confirmation link of a consent.
func ConfirmToken(app core.App, consentID string) (string, error) {
	key, err := confirmKey(app)
	if err != nil {
		return "", err
	}
	return b64.EncodeToString([]byte(consentID)) + "." + b64.EncodeToString(confirmMAC(key, consentID)), nil
}

// parseConfirmToken returns the consent id of a valid token.
func parseConfirmToken(app core.App, token string) (string, error) {
	idPart, macPart, ok := strings.Cut(token, ".")
	id, err1 := b64.DecodeString(idPart)
	mac, err2 := b64.DecodeString(macPart)
	if !ok || err1 != nil || err2 != nil {
		return "", ErrBadConfirmToken
	}
	key, err := confirmKey(app)
	if err != nil {
		return "", err
	}
	if !hmac.Equal(mac, confirmMAC(key, string(id))) {
		return "", ErrBadConfirmToken
	}
	return string(id), nil
}

var confirmPage = htmltemplate.Must(htmltemplate.New("confirm").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{{.Title}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}
button{font:inherit;padding:.5rem 1rem;cursor:pointer}</style></head>
<body><h1>{{.Title}}</h1><p>{{.Message}}</p>
{{if .Confirm}}<form method="post"><button type="submit" id="confirm">Confirm</button></form>{{end}}
</body></html>`))

func confirmHTML(re *core.RequestEvent, status int, title, message string, confirm bool) error {
	var buf bytes.Buffer
	if err := confirmPage.Execute(&buf, map[string]any{"Title": title, "Message": message, "Confirm": confirm}); err != nil {
		return err
	}
	h := re.Response.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	return re.HTML(status, buf.String())
}

// handleConfirm shows the confirmation page (GET) and confirms the consent (POST).
func (s *Service) handleConfirm(re *core.RequestEvent) error {
	id, err := parseConfirmToken(re.App, re.Request.PathValue("token"))
	if errors.Is(err, ErrBadConfirmToken) {
		return confirmHTML(re, http.StatusBadRequest, "Invalid link", "This confirmation link is not valid. Please use the link from the email you received.", false)
	}
	if err != nil {
		return err
	}
	rec, err := re.App.FindRecordById(ConsentsCollection, id)
	if err != nil {
		return confirmHTML(re, http.StatusNotFound, "Nothing to confirm", "This subscription no longer exists.", false)
	}
	switch {
	case rec.GetString("withdrawn_at") != "":
		return confirmHTML(re, http.StatusConflict, "Withdrawn", "You withdrew this consent; subscribe again on our form if you changed your mind.", false)
	case rec.GetString("confirmed_at") != "":
		return confirmHTML(re, http.StatusOK, "Confirmed", "Your subscription is confirmed. Thank you!", false)
	case re.Request.Method == http.MethodGet:
		return confirmHTML(re, http.StatusOK, "Confirm your subscription", "Please confirm that you want to receive our emails.", true)
	}
	rec.Set("confirmed_at", time.Now().UTC())
	if err := re.App.Save(rec); err != nil {
		return err
	}
	return confirmHTML(re, http.StatusOK, "Confirmed", "Your subscription is confirmed. Thank you!", false)
}
