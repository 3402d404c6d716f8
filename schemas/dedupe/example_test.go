package dedupe_test

import (
	"fmt"

	"github.com/relata/relata/schemas/dedupe"
)

func ExampleNormalizePhone() {
	for _, s := range []string{"0039 (02) 1234-5678", "+39 02 12345678", "02 1234 5678"} {
		fmt.Println(dedupe.NormalizePhone(s, "IT"))
	}
	// Output:
	// +390212345678
	// +390212345678
	// +390212345678
}

func ExampleNormalizeEmail() {
	fmt.Println(dedupe.NormalizeEmail(" Mario.Rossi+crm@GoogleMail.com"))
	// Output: mariorossi@gmail.com
}

func ExampleNameSimilarity() {
	a, b := dedupe.NormalizeName("Rossi, Mario"), dedupe.NormalizeName("Mario Rossi")
	fmt.Printf("%q %q %.2f\n", a, b, dedupe.NameSimilarity(a, b))
	fmt.Printf("%.2f\n", dedupe.NameSimilarity(dedupe.NormalizeName("Acme S.p.A."), dedupe.NormalizeName("ACME spa")))
	// Output:
	// "rossi mario" "mario rossi" 1.00
	// 1.00
}
