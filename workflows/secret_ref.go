package workflows

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
)

// SecretRef names a secret of the secret store in a definition: {"ref": "crm-hook"}. The
// value lives in [schemas.SecretsCollection] (superusers only, encrypted at rest when
// PocketBase's encryption key is set), so definitions, which every manager can read, hold
// no secret. A definition that holds the secret itself ("secret": "s3cr3t") is refused at
// save with a message telling how to store it; the value is never kept, not even in the
// error.
type SecretRef struct {
	// Ref is the name the secret is stored under (`relata secret set NAME`).
	Ref string `json:"ref"`

	inline bool // the definition wrote the secret itself
}

// UnmarshalJSON reads {"ref": "name"}, and notes (without keeping it) a secret written in
// place as a string.
func (s *SecretRef) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		*s = SecretRef{inline: true}
		return nil
	}
	var v struct {
		Ref string `json:"ref"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return errors.New(`secret must be {"ref": "NAME"}, the name of a stored secret`)
	}
	*s = SecretRef{Ref: v.Ref}
	return nil
}

// MarshalJSON writes {"ref": "name"}; an inline secret is written as null, never as its value.
func (s *SecretRef) MarshalJSON() ([]byte, error) {
	if s == nil || s.inline {
		return []byte("null"), nil
	}
	return json.Marshal(map[string]string{"ref": s.Ref})
}

// prepare checks the reference at ptr: a name, not a value, of a secret that is stored.
func (s *SecretRef) prepare(p *Prep, ptr string) {
	switch {
	case s == nil:
	case s.inline:
		p.Errorf(ptr, `a secret may not be written in a definition (every manager can read definitions): `+
			`store it with "relata secret set NAME" (value on stdin) or PUT /api/relata/secrets/NAME, `+
			`then write "secret": {"ref": "NAME"}`)
	case s.Ref == "":
		p.Errorf(ptr+"/ref", `names no secret: write "secret": {"ref": "NAME"}`)
	default:
		if err := schemas.CheckSecretName(s.Ref); err != nil {
			p.Errorf(ptr+"/ref", "%v", err)
			return
		}
		if p.Engine == nil || p.Engine.app == nil {
			return
		}
		if _, err := schemas.Secret(p.Engine.app, s.Ref); errors.Is(err, schemas.ErrNoSecret) {
			p.Errorf(ptr+"/ref", `no secret %q is stored: store it first with "relata secret set %s" (value on stdin) or PUT /api/relata/secrets/%s`, s.Ref, s.Ref, s.Ref)
		} else if err != nil {
			p.Errorf(ptr+"/ref", "%v", err)
		}
	}
}

// value returns the secret's value, or "" without a reference.
func (s *SecretRef) value(app core.App) (string, error) {
	if s == nil || s.Ref == "" {
		return "", nil
	}
	if s.inline {
		return "", errors.New("the definition holds a secret in place of a reference")
	}
	v, err := schemas.Secret(app, s.Ref)
	if err != nil {
		return "", fmt.Errorf("signing %w", err)
	}
	return v, nil
}
