package schemas

import (
	"fmt"

	"github.com/pocketbase/pocketbase/core"
)

func init() {
	registerFieldType(TypeRelation, relationType{})
	registerFieldType(TypeOwner, ownerType{})
	registerFieldType(TypeFile, fileType{})
	registerFieldType(TypeJSON, jsonType{})
}

// maxRelations bounds a multiple relation or file field.
const maxRelations = 999

type relationType struct{}

func (relationType) Columns(_ *Object, f *Field, ids CollectionIDs) ([]core.Field, error) {
	id, err := ids(f.Target)
	if err != nil {
		return nil, fmt.Errorf("field %q: %w", f.Name, err)
	}
	name, help, req := common(f)
	n := 1
	if f.Multiple {
		n = maxRelations
	}
	return []core.Field{&core.RelationField{Name: name, Help: help, Required: req, CollectionId: id, MaxSelect: n}}, nil
}

func checkIDs(f *Field, v any) error {
	switch x := v.(type) {
	case string:
		return nil
	case []any:
		if !f.Multiple {
			return fmt.Errorf("must be a single record id, not a list")
		}
		for _, e := range x {
			if _, ok := e.(string); !ok {
				return fmt.Errorf("must list record ids as strings, not %s", describe(e))
			}
		}
		return nil
	}
	return fmt.Errorf("must be a record id, not %s", describe(v))
}

func (relationType) CheckValue(_ *Object, f *Field, v any) error { return checkIDs(f, v) }

// ownerType is a relation to one CRM user.
type ownerType struct{}

func (ownerType) Columns(_ *Object, f *Field, ids CollectionIDs) ([]core.Field, error) {
	id, err := ids(UsersCollection)
	if err != nil {
		return nil, fmt.Errorf("field %q: %w", f.Name, err)
	}
	name, help, req := common(f)
	return []core.Field{&core.RelationField{Name: name, Help: help, Required: req, CollectionId: id, MaxSelect: 1}}, nil
}

func (ownerType) CheckValue(_ *Object, f *Field, v any) error { return checkIDs(f, v) }

type fileType struct{}

// defaultFileMaxSize is the size limit of one uploaded file when the definition sets none.
const defaultFileMaxSize = 10 << 20

func (fileType) Columns(_ *Object, f *Field, _ CollectionIDs) ([]core.Field, error) {
	name, help, req := common(f)
	size := f.MaxSize
	if size <= 0 {
		size = defaultFileMaxSize
	}
	n := 1
	if f.Multiple {
		n = 99
	}
	return []core.Field{&core.FileField{Name: name, Help: help, Required: req, MaxSelect: n, MaxSize: size, MimeTypes: f.MimeTypes}}, nil
}

func (fileType) CheckValue(_ *Object, _ *Field, v any) error {
	return fmt.Errorf("cannot have a default value (files are uploaded), got %s", describe(v))
}

type jsonType struct{}

func (jsonType) Columns(_ *Object, f *Field, _ CollectionIDs) ([]core.Field, error) {
	name, help, req := common(f)
	return []core.Field{&core.JSONField{Name: name, Help: help, Required: req, MaxSize: 1 << 20}}, nil
}

func (jsonType) CheckValue(_ *Object, _ *Field, _ any) error { return nil }
