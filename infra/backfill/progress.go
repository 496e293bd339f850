package backfill

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Progress shows how far an import is: bytes of the input files read (of
// their total size on disk) and messages sent.
type Progress interface {
	Start(totalBytes int64)
	Set(bytes int64, sent int)
	Finish()
}

type noProgress struct{}

func (noProgress) Start(int64)    {}
func (noProgress) Set(int64, int) {}
func (noProgress) Finish()        {}

// Bar is a progress bar for a terminal: bytes read with rate and ETA, and
// the messages sent.
type Bar struct {
	W   io.Writer
	bar *progressbar.ProgressBar
}

// Start draws the bar.
func (b *Bar) Start(total int64) {
	b.bar = progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(b.W),
		progressbar.OptionSetDescription("importing"),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionShowCount(),
	)
}

// Set moves the bar.
func (b *Bar) Set(n int64, sent int) {
	b.bar.Describe(fmt.Sprintf("%d sent", sent))
	_ = b.bar.Set64(n)
}

// Finish completes the bar and ends its line.
func (b *Bar) Finish() {
	_ = b.bar.Finish()
	fmt.Fprintln(b.W)
}

// Lines prints a plain line every Every (and at the end) for logs and CI,
// where a bar redrawn in place would be noise: bytes and percentage, the
// messages sent and their rate, and the time left at the rate so far.
type Lines struct {
	W     io.Writer
	Every time.Duration
	Now   func() time.Time

	total       int64
	start, last time.Time
	n           int64
	sent        int
}

// Start notes the total and the start time.
func (l *Lines) Start(total int64) {
	l.total, l.start = total, l.Now()
	l.last = l.start
}

// Set prints a line if Every has passed since the last.
func (l *Lines) Set(n int64, sent int) {
	l.n, l.sent = n, sent
	if now := l.Now(); now.Sub(l.last) >= l.Every {
		l.last = now
		l.print(now)
	}
}

// Finish prints the last line.
func (l *Lines) Finish() { l.print(l.Now()) }

func (l *Lines) print(now time.Time) {
	el := now.Sub(l.start)
	pct := 100.0
	if l.total > 0 {
		pct = float64(l.n) * 100 / float64(l.total)
	}
	rate, eta := "-", "-"
	if s := el.Seconds(); s > 0 {
		rate = fmt.Sprintf("%.0f/s", float64(l.sent)/s)
		if l.n > 0 {
			left := time.Duration(float64(el) * float64(l.total-l.n) / float64(l.n))
			eta = left.Round(time.Second).String()
		}
	}
	fmt.Fprintf(l.W, "import: %s of %s (%.0f%%), %d sent, %s, ETA %s, elapsed %s\n",
		mb(l.n), mb(l.total), pct, l.sent, rate, eta, el.Round(time.Second))
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }
