package main

import "testing"

// TestFlagsSetSettings: the flags given on the command line are the
// settings the commands use (they once filled a copy).
func TestFlagsSetSettings(t *testing.T) {
	args := []string{"-data", "/tmp/x", "-dynamodb-port", "8123", "-addr", "127.0.0.1:3471", "-table", "t2"}
	s, fs := flags("serve", args)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	if s.dataDir != "/tmp/x" || s.dynamoPort != 8123 || s.apiAddr != "127.0.0.1:3471" || s.table != "t2" {
		t.Errorf("settings after parsing %v: %+v", args, *s)
	}
}
