package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"github.com/uptakehq/uptake/infra/stacktest"
)

// chromium finds Debian's chromium (infra/deps.sh installs it). Missing,
// the browser test fails under CI=true and is skipped otherwise.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed: run make deps (infra/deps.sh installs Debian's chromium)")
	}
	t.Skip("chromium is not installed: run make deps (infra/deps.sh installs Debian's chromium) to run the browser test")
	return ""
}

// artifacts is where the screenshots go: $UPTAKE_ARTIFACTS, else the
// repository's git-ignored artifacts/dashboard.
func artifacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("UPTAKE_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "artifacts")
	}
	dir, err := filepath.Abs(filepath.Join(dir, "dashboard"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// answer is the part of a KPI answer the checks read.
type answer struct {
	Value   *float64       `json:"value"`
	Details map[string]any `json:"details"`
}

func (a api) kpi(t *testing.T, id, from, to string, extra url.Values) answer {
	t.Helper()
	q := url.Values{"from": {from}, "to": {to}}
	for k, v := range extra {
		q[k] = v
	}
	var out answer
	if err := json.Unmarshal(a.do(t, http.MethodGet, "/v1/kpis/"+id+"?"+q.Encode(), a.st.ReadKey, nil, nil), &out); err != nil {
		t.Fatalf("GET /v1/kpis/%s: %v", id, err)
	}
	return out
}

// format is the page's number format (main.ts fmt): at most one
// decimal, half away from zero, "–" for no value.
func format(v *float64) string {
	if v == nil {
		return "–"
	}
	r := math.Copysign(math.Round(math.Abs(*v)*10), *v) / 10
	if r == 0 {
		return "0"
	}
	return strconv.FormatFloat(r, 'f', -1, 64)
}

func formatChange(now, before *float64) string {
	if now == nil || before == nil {
		return "–"
	}
	d := *now - *before
	s := format(&d)
	if d > 0 && s != "0" {
		return "+" + s
	}
	return s
}

// tileKPIs are the headline tiles of the page, in its order.
var tileKPIs = []string{"dau", "stickiness", "nps", "csat", "ces", "churn_rate", "customer_retention_rate",
	"onboarding_completion_rate", "time_to_first_value", "first_response_time"}

// segmented are the tiles' KPIs that take the page's trait segment.
var segmented = map[string]bool{"dau": true, "stickiness": true, "nps": true, "csat": true, "ces": true}

type tile struct {
	Value  string `json:"value"`
	Change string `json:"change"`
}

// wantTiles asks the API for each tile's KPI over from..to and the
// previous range of the same length, and formats them as the page must.
func (a api) wantTiles(t *testing.T, from, to, segment string) map[string]tile {
	t.Helper()
	f, _ := time.Parse(time.DateOnly, from)
	l, _ := time.Parse(time.DateOnly, to)
	n := int(l.Sub(f).Hours()/24) + 1
	pf, pt := f.AddDate(0, 0, -n).Format(time.DateOnly), f.AddDate(0, 0, -1).Format(time.DateOnly)
	want := map[string]tile{}
	for _, id := range tileKPIs {
		var extra url.Values
		if segment != "" && segmented[id] {
			extra = url.Values{"filter": {segment}}
		}
		now, before := a.kpi(t, id, from, to, extra), a.kpi(t, id, pf, pt, extra)
		want[id] = tile{Value: format(now.Value), Change: formatChange(now.Value, before.Value)}
	}
	return want
}

const readTiles = `Object.fromEntries([...document.querySelectorAll('.tile')].map(t =>
	[t.dataset.kpi, {value: t.querySelector('.value').textContent, change: t.querySelector('.delta').textContent}]))`

// readCharts reports, for each chart, how many values it holds and how
// many of its pixels are painted.
const readCharts = `Object.fromEntries([...document.querySelectorAll('canvas')].map(c => {
	const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
	let painted = 0;
	for (let i = 3; i < px.length; i += 4) if (px[i] > 0) painted++;
	return [c.id, {points: Number(c.dataset.points || 0), painted, width: c.width, height: c.height}];
}))`

type chart struct {
	Points  int `json:"points"`
	Painted int `json:"painted"`
	Width   int `json:"width"`
	Height  int `json:"height"`
}

// TestDashboardInChromium loads a tenant through the public API, opens the
// page in a headless Chromium, enters the read key and checks that the
// tiles show what the API answers for the range and the previous one,
// that changing the range and the segment changes them to the API's new
// answers, that every chart is drawn with data, that the ROI calculator
// reproduces seed 000's example, that the key is asked for once, and that
// the console has no error. Screenshots (laptop and phone widths) are kept
// in artifacts/dashboard.
func TestDashboardInChromium(t *testing.T) {
	exe := chromium(t)
	st := stacktest.Start(t)
	a := api{st: st, http: &http.Client{}}
	seed(t, a)
	dir := artifacts(t)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.WindowSize(1280, 900))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	alloc, cancel := chromedp.NewExecAllocator(t.Context(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	// A bound on the whole browser session, so that a page that never
	// becomes ready fails the test instead of hanging it.
	ctx, cancel = context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()

	var mu sync.Mutex
	var console []string
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException || m.Type == chromedp.ConsoleWarning {
				mu.Lock()
				console = append(console, fmt.Sprintf("%s: %s (%s:%d)", m.Type, m.Text, m.URL, m.Line))
				mu.Unlock()
			}
		}
	}()
	do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.dataset.state + ": " + document.getElementById('status').textContent`))
			t.Fatalf("%s: %v (page state %q)", step, err, state)
		}
	}
	eval := func(expr string, v any) {
		t.Helper()
		raw, err := chromedp.Run(ctx, chromedp.Evaluate[json.RawMessage](expr))
		if err != nil {
			t.Fatalf("evaluate %s: %v", expr, err)
		}
		if err := json.Unmarshal(raw, v); err != nil {
			t.Fatalf("evaluate %s: %v", expr, err)
		}
	}
	ready := func(from, to, segment string) string {
		return fmt.Sprintf(`body[data-state="ready"][data-range="%s..%s|%s"]`, from, to, segment)
	}
	day := func(d time.Time) string { return d.Format(time.DateOnly) }
	setRange := func(from, to, segment string) {
		t.Helper()
		var ok bool
		eval(fmt.Sprintf(`(() => { const set = (id, v) => { const e = document.getElementById(id); e.value = v; return e.value === v; };
			return set('from', %q) && set('to', %q) && set('segment', %q); })()`, from, to, segment), &ok)
		if !ok {
			t.Fatalf("could not enter the range %s..%s %s", from, to, segment)
		}
		do("set the range "+from+".."+to+" "+segment,
			chromedp.Click(chromedp.CSS("#apply")),
			chromedp.WaitVisible(chromedp.CSS(ready(from, to, segment))))
	}
	checkTiles := func(from, to, segment string) map[string]tile {
		t.Helper()
		var got map[string]tile
		eval(readTiles, &got)
		want := a.wantTiles(t, from, to, segment)
		if diff := cmp.Diff(got, want); diff != "" {
			t.Errorf("tiles for %s..%s %s differ from the API's answers (-page +API):\n%s", from, to, segment, diff)
		}
		return got
	}

	// The key is asked for once; the default range is the 30 days up to
	// the latest day with active users.
	do("open the page and enter the read key",
		chromedp.Navigate(st.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS("#keyform")),
		chromedp.SendKeys(chromedp.CSS("#key"), st.ReadKey),
		chromedp.Click(chromedp.CSS("#savekey")),
		chromedp.WaitVisible(chromedp.CSS(ready(day(seedLast.AddDate(0, 0, -29)), day(seedLast), ""))))
	checkTiles(day(seedLast.AddDate(0, 0, -29)), day(seedLast), "")

	first := [2]string{day(seedLast.AddDate(0, 0, -27)), day(seedLast.AddDate(0, 0, -14))}
	second := [2]string{day(seedLast.AddDate(0, 0, -13)), day(seedLast)}
	setRange(first[0], first[1], "")
	before := checkTiles(first[0], first[1], "")

	var charts map[string]chart
	eval(readCharts, &charts)
	for _, id := range []string{"chart-dau", "chart-nps", "chart-nps-dist", "chart-funnel", "chart-csat", "chart-tickets"} {
		c, ok := charts[id]
		if !ok || c.Points == 0 || c.Width == 0 || c.Height == 0 || c.Painted < 500 {
			t.Errorf("chart %s: %+v, want data points drawn on a visible canvas", id, c)
		}
	}

	shot := func(name string, screen chromedp.Action[[]byte]) {
		t.Helper()
		b, err := chromedp.Run(ctx, screen)
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot %s", p)
	}
	// Another range: the tiles follow the API to its new values.
	setRange(second[0], second[1], "")
	after := checkTiles(second[0], second[1], "")
	// The trends have a point per period of the interval (week), as the
	// API's series. (Reading the pixels again would make Chromium warn.)
	eval(`Object.fromEntries([...document.querySelectorAll('canvas')].map(c => [c.id, {points: Number(c.dataset.points || 0)}]))`, &charts)
	for id, kpi := range map[string]string{"chart-dau": "dau", "chart-nps": "nps"} {
		var series struct {
			Series []struct {
				Value *float64 `json:"value"`
			} `json:"series"`
		}
		q := url.Values{"from": {second[0]}, "to": {second[1]}, "interval": {"week"}}
		if err := json.Unmarshal(a.do(t, http.MethodGet, "/v1/kpis/"+kpi+"?"+q.Encode(), st.ReadKey, nil, nil), &series); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, p := range series.Series {
			if p.Value != nil {
				n++
			}
		}
		if charts[id].Points != n || n == 0 {
			t.Errorf("chart %s draws %d points, the API's weekly series has %d values", id, charts[id].Points, n)
		}
	}
	checkTables(t, eval, a, second[0], second[1])
	checkROI(t, do, eval, a, second[0], second[1])
	shot("desktop.png", chromedp.FullScreenshot(100))
	changed := 0
	for id := range after {
		if after[id].Value != before[id].Value {
			changed++
		}
	}
	if changed < len(tileKPIs)/2 {
		t.Errorf("changing the range changed %d of %d tiles: before %v, after %v", changed, len(tileKPIs), before, after)
	}

	// A segment narrows the KPIs that take it.
	setRange(second[0], second[1], "plan:pro")
	segmentTiles := checkTiles(second[0], second[1], "plan:pro")
	if segmentTiles["dau"] == after["dau"] {
		t.Errorf("segment plan:pro left DAU at %v", after["dau"])
	}

	// A phone: one column, nothing wider than the screen.
	do("emulate a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(2)))
	var overflow struct {
		Scroll int `json:"scroll"`
		Inner  int `json:"inner"`
	}
	eval(`({scroll: document.documentElement.scrollWidth, inner: window.innerWidth})`, &overflow)
	if overflow.Scroll > 390 || overflow.Inner != 390 {
		t.Errorf("on a phone 390 px wide the page is %d px wide and its viewport %d px", overflow.Scroll, overflow.Inner)
	}
	shot("phone.png", chromedp.FullScreenshot(100))
	shot("phone-screen.png", chromedp.CaptureScreenshot())

	// Opened again, the page remembers the key and the range.
	do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(ready(second[0], second[1], "plan:pro"))))
	if hidden, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById('keyform').hidden`)); err != nil || !hidden {
		t.Errorf("after a reload the key form is shown (hidden = %v, %v): the key should be kept", hidden, err)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(console) > 0 {
		t.Errorf("console errors and warnings:\n%s", strings.Join(console, "\n"))
	}
}

// checkTables compares the funnel, drop-off paths, cohort heatmap and
// at-risk tables with the API's answers.
func checkTables(t *testing.T, eval func(string, any), a api, from, to string) {
	t.Helper()
	var rows map[string][][]string
	eval(`Object.fromEntries(['funnel-table', 'paths-table', 'cohorts', 'risk-table'].map(id =>
		[id, [...document.querySelectorAll('#' + id + ' tbody tr')].map(r => [...r.cells].map(c => c.textContent))]))`, &rows)

	funnel := a.kpi(t, "onboarding_funnel", from, to, nil)
	steps, _ := funnel.Details["steps"].([]any)
	var want [][]string
	for _, s := range steps {
		s := s.(map[string]any)
		want = append(want, []string{s["name"].(string), fmt.Sprint(s["reached"])})
	}
	var got [][]string
	for _, r := range rows["funnel-table"] {
		got = append(got, r[:2])
	}
	if len(want) == 0 {
		t.Error("the seeded tenant has no onboarding steps in range")
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("funnel table (-page +API):\n%s", diff)
	}

	paths := a.kpi(t, "dropoff_paths", from, to, nil)
	stopped, _ := paths.Details["stopped"].([]any)
	if len(rows["paths-table"]) != len(stopped) || len(stopped) == 0 {
		t.Errorf("drop-off paths: %d rows on the page, %d groups in the API's answer", len(rows["paths-table"]), len(stopped))
	}

	cohorts := a.kpi(t, "retention_cohorts", from, to, url.Values{"interval": {"week"}})
	list, _ := cohorts.Details["cohorts"].([]any)
	if got := len(rows["cohorts"]); got != len(list)+1 || len(list) == 0 {
		t.Errorf("cohort heatmap: %d rows, want %d cohorts and the average", got, len(list))
	}
	for i, c := range list {
		c := c.(map[string]any)
		if i < len(rows["cohorts"]) && rows["cohorts"][i][0] != c["cohort"] {
			t.Errorf("cohort row %d is %q, the API's %q", i, rows["cohorts"][i][0], c["cohort"])
		}
	}

	health := a.kpi(t, "health_score", from, to, nil)
	risk, _ := health.Details["at_risk"].([]any)
	var wantRisk, gotRisk []string
	for _, r := range risk {
		wantRisk = append(wantRisk, fmt.Sprint(r.(map[string]any)["account"]))
	}
	for _, r := range rows["risk-table"] {
		gotRisk = append(gotRisk, r[0])
	}
	if len(wantRisk) == 0 {
		t.Error("the seeded tenant has no account at risk")
	}
	if diff := cmp.Diff(gotRisk, wantRisk); diff != "" {
		t.Errorf("accounts at risk (-page +API):\n%s", diff)
	}
}

// checkROI checks that the calculator is prefilled with the range's
// observed completion rate and reproduces seed 000's example.
func checkROI(t *testing.T, do func(string, ...chromedp.Action[chromedp.Void]), eval func(string, any), a api, from, to string) {
	t.Helper()
	roi := a.kpi(t, "roi_projection", from, to, nil)
	inputs, _ := roi.Details["inputs"].(map[string]any)
	var prefilled string
	eval(`document.querySelector('#roi [name=completion_now]').value`, &prefilled)
	if want := fmt.Sprint(inputs["completion_now"]); prefilled != want {
		t.Errorf("ROI completion now prefilled with %q, the observed rate is %s", prefilled, want)
	}
	do("run the article's ROI example",
		chromedp.Click(chromedp.CSS("#roi-example")),
		chromedp.Click(chromedp.CSS("#roi-run")),
		chromedp.WaitVisible(chromedp.CSS(`[data-roi="retained_revenue"]`)))
	var got map[string]string
	eval(`Object.fromEntries([...document.querySelectorAll('[data-roi]')].map(e => [e.dataset.roi, e.textContent]))`, &got)
	want := map[string]string{"renewals_now": "780 (78%)", "renewals_target": "855 (85.5%)", "added_renewals": "+75", "retained_revenue": "$375,000"}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("ROI of seed 000's example (-page +want):\n%s", diff)
	}
}
