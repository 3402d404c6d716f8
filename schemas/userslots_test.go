package schemas_test

import (
	"testing"

	"github.com/relata/relata/schemas"
)

// TestUserSlots: each user has Max slots; a release gives its slot back once, however often
// it is called; users do not share slots.
func TestUserSlots(t *testing.T) {
	s := schemas.UserSlots{Max: 2}
	r1, ok1 := s.Take("ann")
	_, ok2 := s.Take("ann")
	if _, ok := s.Take("ann"); !ok1 || !ok2 || ok {
		t.Fatalf("ann's three takes: %t %t %t; want true true false", ok1, ok2, ok)
	}
	if _, ok := s.Take("bob"); !ok {
		t.Fatal("bob is refused while ann's slots are taken")
	}
	r1()
	r1()
	if _, ok := s.Take("ann"); !ok {
		t.Fatal("ann is refused after a release")
	}
	if _, ok := s.Take("ann"); ok {
		t.Fatal("a second call of one release gave back two slots")
	}
}
