package notifier

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode/utf8"

	"github.com/vigil-monitor/vigil/pkg/mail"
	"github.com/vigil-monitor/vigil/pkg/monitor"
)

// maxSubjectRunes keeps a subject readable in a phone's notification.
const maxSubjectRunes = 120

// Email renders an alert as a message to one recipient. The subject leads with the verdict and
// the website's name, so a person can triage from a lock screen; the bodies carry the details.
// Every user string is escaped in the HTML part, and no user string reaches a header except the
// subject, which mail.HeaderSafe cleans.
func Email(a Alert, to string) (mail.Message, error) {
	name := oneLine(a.Website.Name)
	var subject string
	switch a.Kind {
	case monitor.KindDown:
		subject = fmt.Sprintf("[DOWN] %s — %s", name, oneLine(CauseText(a.Cause)))
	case monitor.KindRecovered:
		subject = fmt.Sprintf("[RECOVERED] %s — down for %s", name, FormatDuration(time.Duration(a.Duration)*time.Second))
	default:
		return mail.Message{}, fmt.Errorf("notifier: unknown alert kind %q", a.Kind)
	}
	if utf8.RuneCountInString(subject) > maxSubjectRunes {
		subject = string([]rune(subject)[:maxSubjectRunes-1]) + "…"
	}
	view := emailView{Alert: a, Subject: subject}
	view.When = a.StartedAt.UTC().Format(timeLayout)
	if a.EndedAt != nil {
		view.Until = a.EndedAt.UTC().Format(timeLayout)
	}
	view.For = FormatDuration(time.Duration(a.Duration) * time.Second)
	view.CauseText = CauseText(a.Cause)
	view.RegionList = strings.Join(a.Regions, ", ")
	view.CheckedAt = a.Latest.At.UTC().Format(timeLayout)
	var text, html bytes.Buffer
	if err := textEmail.Execute(&text, view); err != nil {
		return mail.Message{}, fmt.Errorf("notifier: render text email: %w", err)
	}
	if err := htmlEmail.Execute(&html, view); err != nil {
		return mail.Message{}, fmt.Errorf("notifier: render html email: %w", err)
	}
	return mail.Message{To: []string{to}, Subject: subject, Text: text.String(), HTML: html.String()}, nil
}

const timeLayout = "2006-01-02 15:04:05 UTC"

type emailView struct {
	Alert
	Subject    string
	When       string
	Until      string
	For        string
	CauseText  string
	RegionList string
	CheckedAt  string
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

var textEmail = texttemplate.Must(texttemplate.New("text").Parse(`{{if eq .Kind "down" -}}
{{.Website.Name}} is DOWN.

Website:  {{.Website.Name}}
URL:      {{.Website.URL}}
Down at:  {{.When}}
Cause:    {{.CauseText}}
Regions:  {{.RegionList}}

Latest check ({{.Latest.Region}}, {{.CheckedAt}}):
  Outcome:       {{.Latest.Outcome}}{{if .Latest.Reason}} ({{.Latest.Reason}}){{end}}
{{- if .Latest.StatusCode}}
  Status code:   {{.Latest.StatusCode}}{{end}}
  Response time: {{.Latest.ResponseMS}} ms
{{- if .Latest.Message}}
  Message:       {{.Latest.Message}}{{end}}
{{- else -}}
{{.Website.Name}} has RECOVERED after {{.For}}.

Website:   {{.Website.Name}}
URL:       {{.Website.URL}}
Down from: {{.When}}
Up at:     {{.Until}}
Downtime:  {{.For}}
Cause was: {{.CauseText}}
Regions:   {{.RegionList}}

Latest check ({{.Latest.Region}}, {{.CheckedAt}}): {{.Latest.Outcome}}
{{- if .Latest.StatusCode}}, HTTP {{.Latest.StatusCode}}{{end}}, {{.Latest.ResponseMS}} ms
{{- end}}
{{if .DashboardURL}}
Details: {{.DashboardURL}}
{{end}}
Incident {{.IncidentID}} — sent by Vigil.
`))

var htmlEmail = htmltemplate.Must(htmltemplate.New("html").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Subject}}</title></head>
<body style="font-family: -apple-system, Segoe UI, Roboto, sans-serif; color: #1f2328;">
{{if eq .Kind "down" -}}
<h2 style="color: #cf222e;">{{.Website.Name}} is down</h2>
<table cellpadding="4">
<tr><th align="left">Website</th><td>{{.Website.Name}}</td></tr>
<tr><th align="left">URL</th><td>{{.Website.URL}}</td></tr>
<tr><th align="left">Down at</th><td>{{.When}}</td></tr>
<tr><th align="left">Cause</th><td>{{.CauseText}}</td></tr>
<tr><th align="left">Regions</th><td>{{.RegionList}}</td></tr>
</table>
<h3>Latest check</h3>
<table cellpadding="4">
<tr><th align="left">Region</th><td>{{.Latest.Region}} at {{.CheckedAt}}</td></tr>
<tr><th align="left">Outcome</th><td>{{.Latest.Outcome}}{{if .Latest.Reason}} ({{.Latest.Reason}}){{end}}</td></tr>
{{if .Latest.StatusCode}}<tr><th align="left">Status code</th><td>{{.Latest.StatusCode}}</td></tr>{{end}}
<tr><th align="left">Response time</th><td>{{.Latest.ResponseMS}} ms</td></tr>
{{if .Latest.Message}}<tr><th align="left">Message</th><td>{{.Latest.Message}}</td></tr>{{end}}
</table>
{{- else -}}
<h2 style="color: #1a7f37;">{{.Website.Name}} has recovered</h2>
<p>It was down for <strong>{{.For}}</strong>.</p>
<table cellpadding="4">
<tr><th align="left">Website</th><td>{{.Website.Name}}</td></tr>
<tr><th align="left">URL</th><td>{{.Website.URL}}</td></tr>
<tr><th align="left">Down from</th><td>{{.When}}</td></tr>
<tr><th align="left">Up at</th><td>{{.Until}}</td></tr>
<tr><th align="left">Cause was</th><td>{{.CauseText}}</td></tr>
<tr><th align="left">Regions</th><td>{{.RegionList}}</td></tr>
</table>
{{- end}}
{{if .DashboardURL}}<p><a href="{{.DashboardURL}}">Open in Vigil</a></p>{{end}}
<p style="color: #59636e; font-size: 12px;">Incident {{.IncidentID}} — sent by Vigil.</p>
</body></html>
`))
