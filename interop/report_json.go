package interop

import (
	"encoding/json"
	"io"
	"time"
)

// Report is what WriteJSON writes.
type Report struct {
	Title    string    `json:"title"`
	Started  time.Time `json:"started"`
	Totals   Totals    `json:"totals"`
	Matrix   [][]Cell  `json:"matrix"` // rows: caller, columns: callee, in Dialects order
	Results  []Result  `json:"results"`
	Dialects []Dialect `json:"dialects"`
}

// NewReport bundles results for the JSON and HTML reports.
func NewReport(title string, started time.Time, rs []Result) Report {
	return Report{Title: title, Started: started, Totals: Count(rs), Matrix: Cells(rs), Results: rs, Dialects: Dialects}
}

// WriteJSON writes the report as indented JSON.
func WriteJSON(w io.Writer, rep Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}
