// Package measure is what P1's programs measure of their own process and
// write: wall and CPU time, peak resident memory, the daily figures.
package measure

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Measure is what one side of P1 measured (bench/cmd/nightly writes it;
// bench/duckdb, a module of its own built with cgo, writes the same shape
// from its own copy of this type).
type Measure struct {
	Engine     string  `json:"engine"`
	Day        string  `json:"day"`
	Events     int     `json:"events"` // lines read: the day and its neighbours
	Seconds    float64 `json:"seconds"`
	CPUSeconds float64 `json:"cpu_seconds"` // user and system time of the process during the run
	EventsPerS float64 `json:"events_per_s"`
	// PeakRSSMB is the process's peak resident memory (VmHWM); BaseRSSMB,
	// its resident memory just before the run (the state loaded).
	PeakRSSMB float64 `json:"peak_rss_mb"`
	BaseRSSMB float64 `json:"base_rss_mb"`
	// PeakLiveMB is the Go heap's peak of live objects during the run (as
	// each collection found them), BaseLiveMB the live heap before it: the
	// run's own memory is the difference, whatever the collector's slack.
	PeakLiveMB float64            `json:"peak_live_mb,omitempty"`
	BaseLiveMB float64            `json:"base_live_mb,omitempty"`
	Figures    map[string]float64 `json:"figures"`
	// Reruns are the days the measured run ran again (what it changed
	// invalidated them); WarmReruns, those of the untimed run before.
	Reruns     []string `json:"reruns"`
	WarmReruns []string `json:"warm_reruns"`
}

// RSSKB reads a memory figure of /proc/self/status (VmRSS, VmHWM), in KiB.
func RSSKB(field string) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}

// ResetPeakRSS resets the process's peak resident memory (VmHWM) to its
// current one (Linux: "5" written to /proc/self/clear_refs).
func ResetPeakRSS() {
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// CPUSeconds is the process's user and system time so far.
func CPUSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
