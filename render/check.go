package render

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// WriteCheck renders a check report: a summary table (one row per pair), JSON or YAML.
func WriteCheck(w io.Writer, rep *trace.CheckReport, f Format, opt Options) error {
	switch f {
	case JSON:
		return writeJSON(w, rep)
	case YAML:
		return writeYAML(w, rep)
	case Table, Wide, "":
	default:
		return fmt.Errorf("output format %q is not available for check (use %s)", f, FormatValue{Allowed: ListFormats}.Names())
	}
	p := painter{opt.Color}
	header := []string{"RESULT", "SOURCE", "DESTINATION", "EXPECT", "VERDICT", "BROKEN HOP", "REASON"}
	// A plan's own check names are what its author looks for: shown first whenever there are any.
	named := f == Wide
	for _, r := range rep.Results {
		if r.Name != "" && r.Name != r.Source.String()+" -> "+r.Destination {
			named = true
		}
	}
	if named {
		header = append([]string{"CHECK"}, header...)
	}
	if f == Wide {
		header = append(header, "PROBE", "SECONDS")
	}
	var rows [][]string
	for _, r := range rep.Results {
		reason := r.Reason
		if r.Result != trace.CheckPass && r.Message != "" {
			reason = r.Message
		}
		row := []string{p.status(r.Result), r.Source.String(), r.Destination, dash(string(r.Expect)), dash(string(r.Verdict)), dash(r.BrokenHop), dash(reason)}
		if named {
			row = append([]string{dash(r.Name)}, row...)
		}
		if f == Wide {
			probe := "-"
			if r.Probe != nil {
				probe = r.Probe.Kind + " " + strings.Join(r.Probe.Hops, ",")
				if r.Probe.Reached {
					probe += " (reached)"
				}
			}
			row = append(row, probe, strconv.FormatFloat(r.Seconds, 'f', 3, 64))
		}
		rows = append(rows, row)
	}
	if err := table(w, header, rows); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, "\n"+Summary(rep))
	return err
}

// Summary is the one-line outcome of a check report.
func Summary(rep *trace.CheckReport) string {
	s := fmt.Sprintf("%d checks: %d passed, %d failed", rep.Total, rep.Passed, rep.Failed)
	if rep.Errors > 0 {
		s += fmt.Sprintf(", %d errors (facts missing)", rep.Errors)
	}
	if rep.NotRun > 0 {
		s += fmt.Sprintf(", %d not run", rep.NotRun)
	}
	if rep.Interrupted {
		s += " (interrupted)"
	}
	return s
}

// JUnit XML, in the shape Jenkins, GitLab and GitHub reporters read (testsuites > testsuite > testcase).
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Errors    int         `xml:"errors,attr"`
	Skipped   int         `xml:"skipped,attr"`
	Time      string      `xml:"time,attr"`
	Timestamp string      `xml:"timestamp,attr"`
	Hostname  string      `xml:"hostname,attr"`
	Cases     []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut *junitText    `xml:"system-out,omitempty"`
}

type junitText struct {
	Text string `xml:",cdata"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// WriteJUnit writes the report as JUnit XML: one testcase per pair, the walk in system-out, the
// reason in the failure message. started stamps the suite.
func WriteJUnit(w io.Writer, rep *trace.CheckReport, started time.Time) error {
	secs := func(f float64) string { return strconv.FormatFloat(f, 'f', 3, 64) }
	// A walk over gathered facts takes microseconds: three decimals would print 0.000 for every case.
	caseSecs := func(f float64) string { return strconv.FormatFloat(f, 'f', 6, 64) }
	suite := junitSuite{Name: "packetwalk check", Tests: rep.Total, Failures: rep.Failed, Errors: rep.Errors, Skipped: rep.NotRun,
		Time: secs(rep.Seconds), Timestamp: started.UTC().Format("2006-01-02T15:04:05"), Hostname: "localhost"}
	for _, r := range rep.Results {
		c := junitCase{Name: r.Name, Classname: "packetwalk." + r.Source.Namespace, Time: caseSecs(r.Seconds)}
		if c.Name == "" {
			c.Name = r.Source.String() + " -> " + r.Destination
		}
		if r.Walk != nil {
			var b bytes.Buffer
			if err := WriteWalk(&b, r.Walk, Table, Options{}); err != nil {
				return err
			}
			c.SystemOut = &junitText{Text: b.String()} // encoding/xml splits a "]]>" in CDATA itself
		}
		switch r.Result {
		case trace.CheckFail:
			c.Failure = &junitProblem{Message: r.Message, Type: string(r.Verdict), Text: r.Message}
		case trace.CheckError:
			c.Error = &junitProblem{Message: r.Message, Type: "facts-missing", Text: r.Message}
		case trace.CheckSkipped:
			c.Skipped = &junitSkipped{Message: r.Message}
		}
		suite.Cases = append(suite.Cases, c)
	}
	doc := junitSuites{Name: "kubectl-packetwalk", Tests: suite.Tests, Failures: suite.Failures, Errors: suite.Errors, Skipped: suite.Skipped, Time: suite.Time, Suites: []junitSuite{suite}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
