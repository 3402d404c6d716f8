package transfer_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/relata/relata/schemas/transfer"
)

// readAll reads a fixture through transfer.Open and returns the header and the data rows
// with their row numbers.
func readAll(t *testing.T, name string, opts transfer.ReadOptions) (header []string, rows [][]string, nums []int) {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tab, err := transfer.Open(f, opts)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	defer tab.Close()
	for {
		cells, n, err := tab.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s row %d: %v", name, n, err)
		}
		rows = append(rows, cells)
		nums = append(nums, n)
	}
	return tab.Header(), rows, nums
}

func TestOpenFixtures(t *testing.T) {
	scenarios := []struct {
		name   string
		file   string
		opts   transfer.ReadOptions
		format string
		header []string
		rows   [][]string
		nums   []int
	}{
		{
			name: "Excel CSV UTF-8 with BOM and semicolons", file: "excel_csv_utf8.csv", format: "csv",
			header: []string{"Name", "Stage", "Amount", "Expected close", "Company", "Owner", "Description"},
			rows: [][]string{
				{"Rinnovo licenze 2025", "Proposal", "1.234,56 €", "05/03/2025", "Acme S.p.A.", "alice@example.com", "Prima riga\nseconda riga; con punto e virgola"},
				{"Fornitura città", "negotiation", "€ 12.000,00", "28/02/2025", "Beta Srl", "Bob Berg", `Più "urgente"`},
				{"Consulenza", "Won", "350", "01/12/2024", "acme.example", "alice@example.com", ""},
			},
			nums: []int{2, 3, 4},
		},
		{
			name: "Excel CSV Windows-1252", file: "excel_windows1252.csv", format: "csv",
			header: []string{"Name", "Stage", "Amount", "Expected close", "Company", "Owner", "Description"},
			rows: [][]string{
				{"Café expansion", "qualified", "$1,250.50", "03/14/2025", "Acme S.p.A.", "alice@example.com", "Crème brûlée – €5 menu"},
				{"Naïve pilot", "lead", "2,000", "12/01/2025", "Beta Srl", "bob@example.com", ""},
			},
			nums: []int{2, 3},
		},
		{
			name: "Google Sheets CSV", file: "google_sheets.csv", format: "csv",
			header: []string{"Full name", "Email", "Phone", "Company", "Tags", "Do not email", "Lifecycle stage"},
			rows: [][]string{
				{"Zoë Ågren", "ZOE@Example.com", "+46 8 123 45 67", "Acme S.p.A.", "vip, nordics", "TRUE", "Customer"},
				{"O'Brien, Seán", "sean@example.ie", "", "Beta Srl", "trade-show;2025", "FALSE", "lead"},
				{"Li Wei", "li.wei@example.cn", "+86 10 1234 5678", "", "", "", "Sales qualified\nlead"},
			},
			nums: []int{2, 3, 4},
		},
		{
			name: "Excel Unicode Text (UTF-16LE, tabs)", file: "excel_unicode.txt", format: "csv",
			header: []string{"Full name", "Email", "Do not email"},
			rows: [][]string{
				{"José Núñez", "jose@example.es", "sì"},
				{"東京 太郎", "taro@example.jp", "no"},
			},
			nums: []int{2, 3},
		},
		{
			name: "XLSX first sheet, raw serial dates", file: "workbook.xlsx", format: "xlsx",
			header: []string{"Name", "Stage", "Amount", "Expected close", "Company"},
			rows: [][]string{
				{"Workbook deal one", "lead", "1500.5", "45731", "Acme S.p.A."},
				{"Workbook deal two", "Won", "20000", "45658.75", "Beta Srl"},
			},
			nums: []int{2, 3},
		},
		{
			name: "XLSX second sheet", file: "workbook.xlsx", format: "xlsx", opts: transfer.ReadOptions{Sheet: "Companies"},
			header: []string{"Name", "Domain", "Annual revenue", "Tags"},
			rows:   [][]string{{"Gamma GmbH", "gamma.example", "2500000", "dach; prospect"}},
			nums:   []int{2},
		},
	}
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			header, rows, nums := readAll(t, s.file, s.opts)
			if !reflect.DeepEqual(header, s.header) {
				t.Errorf("header = %q; want %q", header, s.header)
			}
			if len(rows) != len(s.rows) {
				t.Fatalf("%d rows; want %d: %q", len(rows), len(s.rows), rows)
			}
			for i := range rows {
				for j := range max(len(rows[i]), len(s.rows[i])) {
					var got, want string
					if j < len(rows[i]) {
						got = rows[i][j]
					}
					if j < len(s.rows[i]) {
						want = s.rows[i][j]
					}
					if got != want {
						t.Errorf("row %d, column %d (%s) = %q; want %q", nums[i], j+1, s.header[j], got, want)
					}
				}
			}
			if !reflect.DeepEqual(nums, s.nums) {
				t.Errorf("row numbers = %v; want %v", nums, s.nums)
			}
		})
	}
}

func TestOpenCRMExport40Columns(t *testing.T) {
	header, rows, _ := readAll(t, "crm_contacts_40.csv", transfer.ReadOptions{})
	if len(header) != 40 {
		t.Fatalf("%d columns; want 40: %q", len(header), header)
	}
	want := [][]string{
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
	if len(rows) != len(want) {
		t.Fatalf("%d rows; want %d", len(rows), len(want))
	}
	for i := range want {
		if len(rows[i]) != 40 {
			t.Errorf("row %d has %d cells; want 40", i+2, len(rows[i]))
			continue
		}
		for j := range want[i] {
			if rows[i][j] != want[i][j] {
				t.Errorf("row %d, column %q = %q; want %q", i+2, header[j], rows[i][j], want[i][j])
			}
		}
	}
}

func TestOpenErrors(t *testing.T) {
	scenarios := []struct {
		name  string
		input string
		opts  transfer.ReadOptions
		want  string
	}{
		{"empty file", "", transfer.ReadOptions{}, "no header row"},
		{"unknown encoding", "a,b\n", transfer.ReadOptions{Encoding: "ebcdic"}, `unknown encoding "ebcdic"`},
		{"missing sheet", "", transfer.ReadOptions{Sheet: "Nope"}, `no sheet "Nope"`},
	}
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			var r io.Reader = strings.NewReader(s.input)
			if s.opts.Sheet != "" {
				b, err := os.ReadFile("testdata/workbook.xlsx")
				if err != nil {
					t.Fatal(err)
				}
				r = bytes.NewReader(b)
			}
			_, err := transfer.Open(r, s.opts)
			if err == nil || !strings.Contains(err.Error(), s.want) {
				t.Fatalf("err = %v; want it to contain %q", err, s.want)
			}
		})
	}
}

func TestOpenBadQuoteNamesLine(t *testing.T) {
	tab, err := transfer.Open(strings.NewReader("a,b\n1,2\n3,\"x\"y\n"), transfer.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := tab.Next(); err != nil {
		t.Fatal(err)
	}
	_, row, err := tab.Next()
	if err == nil || !strings.Contains(err.Error(), "line 3, column") || row != 3 {
		t.Fatalf("row %d, err = %v; want row 3 and a line/column", row, err)
	}
}

// FuzzOpen reads arbitrary bytes as CSV or XLSX: it must never panic or hang, and every row
// it returns has a row number after the previous one.
func FuzzOpen(f *testing.F) {
	for _, name := range []string{"excel_csv_utf8.csv", "excel_windows1252.csv", "google_sheets.csv", "excel_unicode.txt", "crm_contacts_40.csv", "workbook.xlsx"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("a;b\n\"x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tab, err := transfer.Open(bytes.NewReader(data), transfer.ReadOptions{})
		if err != nil {
			return
		}
		defer tab.Close()
		last := 1
		for i := 0; i < 10000; i++ {
			_, n, err := tab.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if n < last {
				t.Fatalf("row number went back from %d to %d", last, n)
			}
			last = n
			if err != nil && !strings.Contains(err.Error(), "line") {
				return // a broken file stops reading
			}
		}
	})
}
