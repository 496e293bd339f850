package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunDryRun checks the command's summary and exit status on a dry run
// with a bad line: nothing is sent (the URL answers nothing), the line is
// listed with its file and line, and the status is 3.
func TestRunDryRun(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "events.ndjson")
	os.WriteFile(f, []byte(`{"type":"page","userId":"u1","timestamp":"2026-10-01T10:00:00Z"}`+"\n"+`{"type":"page","timestamp":"2026-10-01T10:00:00Z","messageId":"m2"}`+"\n"), 0o644)
	var out, errs bytes.Buffer
	code := run(context.Background(), []string{"-url", "http://127.0.0.1:1", "-dry-run", "-progress", "none", f}, &out, &errs)
	if code != 3 {
		t.Errorf("exit status %d, want 3; stderr:\n%s", code, errs.String())
	}
	for _, want := range []string{
		"dry run: nothing was sent",
		"read 2 lines and rows: 1 valid, 1 rejected",
		"1 events had no messageId",
		"would aggregate the days of events from 2026-10-01 to 2026-10-01",
		"rejected: " + f + ":2: userId or anonymousId is required",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
	if code := run(context.Background(), nil, &out, &errs); code != 2 {
		t.Errorf("no file: exit status %d, want 2", code)
	}
}
