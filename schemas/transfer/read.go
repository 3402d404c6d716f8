package transfer

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// ReadOptions says how to read a file. The zero value sniffs everything.
type ReadOptions struct {
	// Sheet is the XLSX worksheet to read. Default: the first one.
	Sheet string
	// Delimiter is the CSV field separator. Default: sniffed from the header among ',' ';' and tab.
	Delimiter rune
	// Encoding is the CSV text encoding: "utf-8", "utf-16le", "utf-16be" or "windows-1252".
	// Default: a byte order mark decides, else UTF-8 when the start of the file is valid
	// UTF-8, else Windows-1252.
	Encoding string
}

// Table is a file being read row by row: CSV or one XLSX worksheet. The first row is the
// header.
type Table interface {
	// Header returns the column headings (the first row), trimmed.
	Header() []string
	// Next returns the cells of the next row and its 1-based row number in the file (the
	// header is row 1), or io.EOF after the last row. Blank rows are skipped.
	Next() (cells []string, row int, err error)
	// Format is "csv" or "xlsx".
	Format() string
	// Close releases the file.
	Close() error
}

// errBadRow marks a row that cannot be read; reading may go on with the next one.
var errBadRow = errors.New("unreadable row")

// sniffSize is how much of a CSV file decides its encoding and delimiter.
const sniffSize = 64 << 10

var zipMagic = []byte("PK\x03\x04")

// Open starts reading r, a CSV or XLSX file (told apart by content, not by name).
func Open(r io.Reader, opts ReadOptions) (Table, error) {
	br := bufio.NewReaderSize(r, sniffSize)
	head, err := br.Peek(len(zipMagic))
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, err
	}
	if bytes.Equal(head, zipMagic) {
		return openXLSX(br, opts)
	}
	return openCSV(br, opts)
}

// decoder picks the text encoding of a CSV file from its start.
func decoder(head []byte, name string) (encoding.Encoding, error) {
	switch strings.ToLower(strings.ReplaceAll(name, "_", "-")) {
	case "utf-8", "utf8":
		return unicode.UTF8BOM, nil
	case "utf-16le", "utf16le":
		return unicode.UTF16(unicode.LittleEndian, unicode.UseBOM), nil
	case "utf-16be", "utf16be", "utf-16":
		return unicode.UTF16(unicode.BigEndian, unicode.UseBOM), nil
	case "windows-1252", "cp1252", "latin1", "iso-8859-1":
		return charmap.Windows1252, nil
	case "":
	default:
		return nil, fmt.Errorf("unknown encoding %q (use utf-8, utf-16le, utf-16be or windows-1252)", name)
	}
	switch {
	case bytes.HasPrefix(head, []byte{0xEF, 0xBB, 0xBF}):
		return unicode.UTF8BOM, nil
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}):
		return unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM), nil
	case bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		return unicode.UTF16(unicode.BigEndian, unicode.ExpectBOM), nil
	}
	// A multi-byte character may be cut at the end of the sniffed part.
	h := head
	for i := 0; i < utf8.UTFMax && len(h) > 0 && !utf8.Valid(h); i++ {
		h = h[:len(h)-1]
	}
	if utf8.Valid(h) {
		return unicode.UTF8BOM, nil // strips a BOM if any, else passes through
	}
	return charmap.Windows1252, nil
}

// sniffDelimiter counts the candidate separators outside quotes in the first line of text.
func sniffDelimiter(text []byte) rune {
	counts := map[rune]int{}
	inQuotes := false
	for _, c := range string(text) {
		if c == '"' {
			inQuotes = !inQuotes
			continue
		}
		if inQuotes {
			continue
		}
		if c == '\n' || c == '\r' {
			break
		}
		if c == ',' || c == ';' || c == '\t' {
			counts[c]++
		}
	}
	best, n := ',', 0
	for _, c := range []rune{',', ';', '\t'} {
		if counts[c] > n {
			best, n = c, counts[c]
		}
	}
	return best
}

type csvTable struct {
	r      *csv.Reader
	header []string
	row    int
}

func openCSV(br *bufio.Reader, opts ReadOptions) (Table, error) {
	head, err := br.Peek(sniffSize)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, err
	}
	enc, err := decoder(head, opts.Encoding)
	if err != nil {
		return nil, err
	}
	text := bufio.NewReaderSize(transform.NewReader(br, enc.NewDecoder()), sniffSize)
	delim := opts.Delimiter
	if delim == 0 {
		sample, err := text.Peek(sniffSize)
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
			return nil, fmt.Errorf("decode: %w", err)
		}
		delim = sniffDelimiter(sample)
	}
	r := csv.NewReader(text)
	r.Comma = delim
	r.FieldsPerRecord = -1 // ragged rows are reported per row, not as a failed file
	t := &csvTable{r: r}
	header, _, err := t.Next()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("the file is empty: no header row")
	}
	if err != nil {
		return nil, err
	}
	t.header = trimAll(header)
	return t, nil
}

func (t *csvTable) Header() []string { return t.header }
func (t *csvTable) Format() string   { return "csv" }
func (t *csvTable) Close() error     { return nil }

func (t *csvTable) Next() ([]string, int, error) {
	for {
		rec, err := t.r.Read()
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				t.row++
				return nil, t.row, fmt.Errorf("%w: line %d, column %d: %v", errBadRow, pe.Line, pe.Column, pe.Err)
			}
			return nil, t.row, err
		}
		t.row++
		if blank(rec) {
			continue
		}
		return rec, t.row, nil
	}
}

type xlsxTable struct {
	f      *excelize.File
	rows   *excelize.Rows
	header []string
	row    int
}

func openXLSX(r io.Reader, opts ReadOptions) (Table, error) {
	f, err := excelize.OpenReader(r)
	if err != nil {
		return nil, fmt.Errorf("read XLSX: %w", err)
	}
	sheets := f.GetSheetList()
	sheet := opts.Sheet
	if sheet == "" {
		if len(sheets) == 0 {
			f.Close()
			return nil, errors.New("the workbook has no worksheet")
		}
		sheet = sheets[0]
	} else if !slices.Contains(sheets, sheet) {
		f.Close()
		return nil, fmt.Errorf("no sheet %q in the workbook (sheets: %s)", sheet, strings.Join(sheets, ", "))
	}
	rows, err := f.Rows(sheet)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("read sheet %q: %w", sheet, err)
	}
	t := &xlsxTable{f: f, rows: rows}
	header, _, err := t.Next()
	if errors.Is(err, io.EOF) {
		t.Close()
		return nil, fmt.Errorf("sheet %q is empty: no header row", sheet)
	}
	if err != nil {
		t.Close()
		return nil, err
	}
	t.header = trimAll(header)
	return t, nil
}

func (t *xlsxTable) Header() []string { return t.header }
func (t *xlsxTable) Format() string   { return "xlsx" }

func (t *xlsxTable) Close() error {
	return errors.Join(t.rows.Close(), t.f.Close())
}

// Next returns raw cell values: numbers and dates as stored (an Excel date is its serial
// number), so that conversion does not depend on the display format of the author's locale.
func (t *xlsxTable) Next() ([]string, int, error) {
	for t.rows.Next() {
		t.row++
		cells, err := t.rows.Columns(excelize.Options{RawCellValue: true})
		if err != nil {
			return nil, t.row, err
		}
		if blank(cells) {
			continue
		}
		return cells, t.row, nil
	}
	if err := t.rows.Error(); err != nil {
		return nil, t.row, err
	}
	return nil, t.row, io.EOF
}

func blank(cells []string) bool {
	for _, c := range cells {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

func trimAll(cells []string) []string {
	out := make([]string, len(cells))
	for i, c := range cells {
		out[i] = strings.TrimSpace(c)
	}
	return out
}
