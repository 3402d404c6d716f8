package main

import (
	"fmt"
	"os"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
)

// MFA modes of `serve --mfa` (env RELATA_MFA).
const (
	mfaKeep   = ""       // leave the dashboard's settings as they are
	mfaOff    = "off"    // password sign-in only
	mfaAdmins = "admins" // admins, superusers and users who turned it on sign in with a password and an emailed code
	mfaAll    = "all"    // everyone does
)

const mfaEnv = "RELATA_MFA"

// mfaRules is, per mode, the rule (over the signing-in user) that requires the second factor.
var mfaRules = map[string]string{
	mfaAdmins: `role = "admin" || mfa = true`,
	mfaAll:    "",
}

// applyMFA sets PocketBase's multi-factor sign-in on the users and superusers collections as
// mode says: a password and a one-time code sent by email (PocketBase's OTP, delivered over
// Relata's SMTP settings, see workflows/outbox). It returns what it did, for the console.
func applyMFA(app core.App, mode string) (string, error) {
	if mode == mfaKeep {
		return "", nil
	}
	rule, on := mfaRules[mode]
	if !on && mode != mfaOff {
		return "", fmt.Errorf("--mfa %q: want off, admins or all", mode)
	}
	for _, name := range []string{schemas.UsersCollection, core.CollectionNameSuperusers} {
		c, err := app.FindCollectionByNameOrId(name)
		if err != nil {
			return "", err
		}
		r := rule
		if name == core.CollectionNameSuperusers {
			r = "" // every superuser, in every mode that has MFA
		}
		if c.MFA.Enabled == on && c.OTP.Enabled == on && (!on || c.MFA.Rule == r) {
			continue
		}
		c.MFA.Enabled, c.OTP.Enabled = on, on
		if on {
			c.MFA.Rule = r
		}
		if err := app.Save(c); err != nil {
			return "", fmt.Errorf("--mfa %s on %s: %w", mode, name, err)
		}
	}
	switch mode {
	case mfaOff:
		return "multi-factor sign-in: off", nil
	case mfaAdmins:
		return "multi-factor sign-in: required for admins, superusers and users who turn it on (a code by email)", nil
	}
	return "multi-factor sign-in: required for everyone (a code by email)", nil
}

func defaultMFA() string { return os.Getenv(mfaEnv) }
