package notify_test

import (
	"fmt"

	"github.com/relata/relata/workflows/notify"
)

func ExampleMentions() {
	people := []notify.Person{
		{ID: "u1", Name: "Ada Lovelace", Email: "ada@example.com"},
		{ID: "u2", Name: "Charles Babbage", Email: "charles@example.com"},
	}
	fmt.Println(notify.Mentions("@ada lovelace, can you call them? cc @charles — not charles@example.com", people))
	// Output: [u1 u2]
}
