package interop

import (
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"
)

// WriteHTML writes a self-contained report page (no script, no external
// URL): the matrix as <table id="matrix">, then every scenario with its
// timings or failure reason, and the transcript of each failure.
func WriteHTML(w io.Writer, rep Report) error {
	return reportTemplate.Execute(w, rep)
}

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"dur":    fmtDurationOrDash,
	"detail": scenarioDetail,
	"status": statusWord,
	"cls":    cssClass,
	"when":   func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
}).Parse(reportHTML))

func fmtDurationOrDash(d time.Duration) string {
	if d <= 0 {
		return "–"
	}
	return fmtDuration(d)
}

const reportHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>sigbridge interop: {{.Title}}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1d2330; }
h1 { font-size: 22px; margin: 0 0 4px; }
.sub { color: #5a6475; margin-bottom: 18px; }
table { border-collapse: collapse; margin: 8px 0 24px; }
th, td { border: 1px solid #c9d0db; padding: 6px 10px; text-align: left; vertical-align: top; }
th { background: #eef1f6; }
#matrix td { min-width: 150px; font-weight: 600; }
.pass { background: #d9f2dd; color: #145a22; }
.fail { background: #fbd8d8; color: #8a1212; }
.xfail, .known-failure { background: #fbefcf; color: #6b4a00; }
.unsupported, .not-run, .not-bridged { background: #eceef1; color: #5a6475; }
.totals span { margin-right: 16px; }
td.reason { max-width: 720px; }
details { margin: 6px 0 14px; }
pre { background: #f6f8fa; padding: 8px; overflow-x: auto; font-size: 12px; max-width: 1100px; white-space: pre-wrap; word-break: break-all; }
</style>
</head>
<body>
<h1>sigbridge interop report</h1>
<div class="sub">{{.Title}} · started {{when .Started}}</div>
<div class="totals"><span>{{len .Results}} scenarios</span><span class="pass">&nbsp;{{.Totals.Passed}} passed&nbsp;</span><span class="fail">&nbsp;{{.Totals.Failed}} failed&nbsp;</span><span class="xfail">&nbsp;{{.Totals.Known}} known failures&nbsp;</span><span class="unsupported">&nbsp;{{.Totals.Unsupported}} unsupported&nbsp;</span></div>

<h2>Matrix</h2>
<p>Rows: caller dialect. Columns: callee dialect. Cells: scenarios passed / run and the time to media of the pair's answered audio call. XFAIL: everything passed but known failures (known limitations of the gateway, listed with their reasons below).</p>
<table id="matrix">
<thead><tr><th>caller \ callee</th>{{range .Dialects}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>
{{range $i, $row := .Matrix}}<tr><th>{{index $.Dialects $i}}</th>{{range $row}}<td class="{{.Verdict | cls}}">{{.Text}}</td>{{end}}</tr>
{{end}}</tbody>
</table>

<h2>Scenarios</h2>
<table id="scenarios">
<thead><tr><th>status</th><th>scenario</th><th>caller</th><th>callee</th><th>media</th><th>ringing</th><th>answer</th><th>media up</th><th>detail</th></tr></thead>
<tbody>
{{range .Results}}<tr><td class="{{.Status | cls}}">{{status .}}</td><td>{{.Scenario}}</td><td>{{.Caller}}</td><td>{{.Callee}}</td><td>{{.Media}}</td><td>{{dur .Timings.Ringing}}</td><td>{{dur .Timings.Answer}}</td><td>{{dur .Timings.Media}}</td><td class="reason">{{detail .}}</td></tr>
{{end}}</tbody>
</table>

{{range .Results}}{{if or (eq .Status "fail") (eq .Status "known-failure")}}
<h3 id="{{.Scenario}}">{{.Scenario}}</h3>
<p class="{{.Status | cls}}">&nbsp;{{status .}}: {{.Reason}}&nbsp;</p>
{{with .Known}}<p>known limitation: {{.}}</p>{{end}}
{{with .CallerMedia}}<p>caller media: ICE {{.ICE}}, audio {{.Audio}}, video {{.Video}}, data {{.Data}}</p>{{end}}
{{with .CalleeMedia}}<p>callee media: ICE {{.ICE}}, audio {{.Audio}}, video {{.Video}}, data {{.Data}}</p>{{end}}
<details open><summary>protocol messages ({{len .Transcript}})</summary>
<pre>{{range .Transcript}}{{dur .At}}  {{.Party}} {{.Dir}}  {{.Text}}
{{end}}</pre></details>
{{end}}{{end}}
</body>
</html>
`

// cssClass turns a verdict or status into a class name.
func cssClass(v any) string { return strings.ReplaceAll(fmt.Sprint(v), " ", "-") }
