// Command gen writes the fixture files of package transfer's tests, made like the exports of
// real spreadsheet programs. Run it from schemas/transfer: go run ./testdata/gen
package main

import (
	"fmt"
	"log"
	"os"
	"strings"
	"unicode/utf16"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/charmap"
)

func main() {
	must(excelCSVUTF8())
	must(excelWindows1252())
	must(googleSheets())
	must(excelUnicodeText())
	must(crmExport())
	must(workbook())
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

func write(name string, b []byte) error { return os.WriteFile("testdata/"+name, b, 0o644) }

// excelCSVUTF8 is Excel's "CSV UTF-8" in an Italian locale: a BOM, ';' separators, CRLF,
// decimal commas with '.' thousands, day-first dates, a quoted cell over two lines.
func excelCSVUTF8() error {
	rows := []string{
		"Name;Stage;Amount;Expected close;Company;Owner;Description",
		"Rinnovo licenze 2025;Proposal;1.234,56 €;05/03/2025;Acme S.p.A.;alice@example.com;\"Prima riga\r\nseconda riga; con punto e virgola\"",
		"Fornitura città;negotiation;€ 12.000,00;28/02/2025;Beta Srl;Bob Berg;\"Più \"\"urgente\"\"\"",
		"Consulenza;Won;350;01/12/2024;acme.example;alice@example.com;",
	}
	return write("excel_csv_utf8.csv", []byte("\xEF\xBB\xBF"+strings.Join(rows, "\r\n")+"\r\n"))
}

// excelWindows1252 is Excel's plain "CSV" on a US Windows: Windows-1252 bytes, ',' separators,
// month-first dates, thousands commas, '$' amounts.
func excelWindows1252() error {
	rows := []string{
		"Name,Stage,Amount,Expected close,Company,Owner,Description",
		"Café expansion,qualified,\"$1,250.50\",03/14/2025,Acme S.p.A.,alice@example.com,Crème brûlée – €5 menu",
		"Naïve pilot,lead,\"2,000\",12/01/2025,Beta Srl,bob@example.com,",
	}
	b, err := charmap.Windows1252.NewEncoder().Bytes([]byte(strings.Join(rows, "\r\n") + "\r\n"))
	if err != nil {
		return err
	}
	return write("excel_windows1252.csv", b)
}

// googleSheets is File > Download > CSV from Google Sheets: UTF-8 without BOM, ',', CRLF,
// ISO-ish dates, TRUE/FALSE booleans, a multi-line cell.
func googleSheets() error {
	rows := []string{
		"Full name,Email,Phone,Company,Tags,Do not email,Lifecycle stage",
		"Zoë Ågren,ZOE@Example.com,+46 8 123 45 67,Acme S.p.A.,\"vip, nordics\",TRUE,Customer",
		"\"O'Brien, Seán\",sean@example.ie,,Beta Srl,trade-show;2025,FALSE,lead",
		"Li Wei,li.wei@example.cn,+86 10 1234 5678,,,,\"Sales qualified\nlead\"",
	}
	return write("google_sheets.csv", []byte(strings.Join(rows, "\r\n")+"\r\n"))
}

// excelUnicodeText is Excel's "Unicode Text (*.txt)": UTF-16 little-endian with a BOM, tabs.
func excelUnicodeText() error {
	text := "Full name\tEmail\tDo not email\r\nJosé Núñez\tjose@example.es\tsì\r\n東京 太郎\ttaro@example.jp\tno\r\n"
	u := utf16.Encode([]rune(text))
	b := []byte{0xFF, 0xFE}
	for _, c := range u {
		b = append(b, byte(c), byte(c>>8))
	}
	return write("excel_unicode.txt", b)
}

// crmHeader is the header of a contacts export of another CRM: 40 columns.
var crmHeader = []string{
	"Record ID", "First Name", "Last Name", "Full Name", "Email", "Secondary Email", "Phone Number",
	"Mobile Phone Number", "Job Title", "Company Name", "Company Domain Name", "Website URL",
	"Street Address", "City", "State/Region", "Postal Code", "Country/Region", "Time Zone",
	"Lifecycle Stage", "Lead Status", "Original Source", "Contact owner", "Create Date",
	"Last Activity Date", "Last Contacted", "Number of Sales Activities", "Email Domain",
	"Marketing contact status", "Unsubscribed from all email", "Annual Revenue", "Industry",
	"Number of Employees", "LinkedIn URL", "Twitter Username", "Persona", "Preferred language",
	"Tags", "Notes", "Associated Deals", "Became a Customer Date",
}

var crmRows = [][]string{
	{"101", "Ada", "Rossi", "Ada Rossi", "ada.rossi@example.it", "", "+39 02 1234 5678", "+39 333 123 4567",
		"CTO", "Acme S.p.A.", "acme.example", "https://acme.example", "Via Roma 1", "Milano", "MI", "20121", "Italy",
		"Europe/Rome", "customer", "Open", "referral", "alice@example.com", "2024-01-15 09:30", "2025-02-01",
		"2025-02-03", "12", "example.it", "Marketing contact", "false", "1200000", "software", "51-200",
		"https://linkedin.com/in/adarossi", "@adarossi", "Decision maker", "it", "vip;italy", "Met at =SUM(1,2) fair", "2", "2024-06-30"},
	{"102", "Ben", "Okafor", "Ben Okafor", "ben@beta.example", "ben.o@example.com", "", "",
		"Buyer", "Beta Srl", "beta.example", "", "", "Lagos", "", "", "Nigeria",
		"Africa/Lagos", "lead", "New", "event", "bob@example.com", "2024-03-02 14:00", "",
		"", "0", "beta.example", "Non-marketing contact", "true", "", "retail", "11-50",
		"", "", "", "en", "", "Asked for a \"demo\"\nnext week", "0", ""},
	{"103", "Chloé", "Martin", "Chloé Martin", "chloe@example.fr", "", "+33 1 23 45 67 89", "",
		"", "", "", "", "", "Paris", "", "75001", "France",
		"Europe/Paris", "subscriber", "", "website", "", "2024-05-20 08:00", "",
		"", "", "example.fr", "Marketing contact", "false", "", "", "",
		"", "", "", "fr", "newsletter", "", "", ""},
}

func crmExport() error {
	var b strings.Builder
	line := func(cells []string) {
		for i, c := range cells {
			if i > 0 {
				b.WriteByte(',')
			}
			if strings.ContainsAny(c, ",\"\n") {
				c = `"` + strings.ReplaceAll(c, `"`, `""`) + `"`
			}
			b.WriteString(c)
		}
		b.WriteString("\n")
	}
	line(crmHeader)
	for _, r := range crmRows {
		if len(r) != len(crmHeader) {
			return fmt.Errorf("row %s has %d cells, want %d", r[0], len(r), len(crmHeader))
		}
		line(r)
	}
	return write("crm_contacts_40.csv", []byte(b.String()))
}

// workbook is an XLSX with real date cells (serial numbers with a date format), numbers,
// booleans, and a second sheet.
func workbook() error {
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", "Deals"); err != nil {
		return err
	}
	dateStyle, err := f.NewStyle(&excelize.Style{NumFmt: 14}) // m/d/yy, as Excel shows dates in the US
	if err != nil {
		return err
	}
	data := [][]any{
		{"Name", "Stage", "Amount", "Expected close", "Company"},
		{"Workbook deal one", "lead", 1500.5, 45731, "Acme S.p.A."}, // 2025-03-15
		{"Workbook deal two", "Won", 20000, 45658.75, "Beta Srl"},   // 2025-01-01 18:00
	}
	for i, row := range data {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow("Deals", cell, &row); err != nil {
			return err
		}
	}
	if err := f.SetCellStyle("Deals", "D2", "D3", dateStyle); err != nil {
		return err
	}
	if _, err := f.NewSheet("Companies"); err != nil {
		return err
	}
	comp := [][]any{
		{"Name", "Domain", "Annual revenue", "Tags"},
		{"Gamma GmbH", "gamma.example", 2500000, "dach; prospect"},
	}
	for i, row := range comp {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow("Companies", cell, &row); err != nil {
			return err
		}
	}
	return f.SaveAs("testdata/workbook.xlsx")
}
