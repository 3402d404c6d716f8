package inbox_test

import (
	"fmt"
	"os"

	"github.com/relata/relata/workflows/inbox"
)

// ExampleParse reads a Postfix delivery status notification.
func ExampleParse() {
	f, err := os.Open("testdata/postfix_hard.eml")
	if err != nil {
		panic(err)
	}
	defer f.Close()
	m, err := inbox.Parse(f, 64<<10)
	if err != nil {
		panic(err)
	}
	for _, r := range m.Report.Recipients {
		fmt.Println(r.Address, r.Action, r.Status, "hard:", r.Hard())
	}
	// Output: gone@client.test failed 5.1.1 hard: true
}
