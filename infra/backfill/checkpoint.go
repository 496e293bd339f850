package backfill

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Checkpoint is what an import has done, kept in a file so that a run
// that stops resumes where it stopped.
type Checkpoint struct {
	// Files are the inputs, in order, with what of each was sent.
	Files []FileState `json:"files"`
	// From and To are the UTC days of the events sent so far (empty
	// before any), for the aggregation at the end.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// Aggregated says the import ran to its end, aggregation included.
	Aggregated bool `json:"aggregated"`
}

// FileState is one input's progress: its first Records records (lines or
// rows, bad ones included) are done, up to Line, Bytes bytes into the
// file. Size and Head identify the file.
type FileState struct {
	Path    string `json:"path"`
	Kind    Kind   `json:"kind"`
	Size    int64  `json:"size"`
	Head    string `json:"head_sha256"` // of its first 64 KiB
	Records int    `json:"records"`
	Line    int    `json:"line"`
	Bytes   int64  `json:"bytes"`
	Done    bool   `json:"done"`
}

// identify reads what identifies a file: its size and the SHA-256 of its
// first 64 KiB.
func identify(path string) (size int64, head string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, "", err
	}
	h := sha256.New()
	if _, err := io.CopyN(h, f, 64*1024); err != nil && err != io.EOF {
		return 0, "", err
	}
	return st.Size(), hex.EncodeToString(h.Sum(nil)), nil
}

// loadCheckpoint reads the checkpoint at path; ok is false when there is
// none.
func loadCheckpoint(path string) (cp Checkpoint, ok bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Checkpoint{}, false, nil
	}
	if err != nil {
		return Checkpoint{}, false, err
	}
	if err := json.Unmarshal(b, &cp); err != nil {
		return Checkpoint{}, false, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return cp, true, nil
}

// matches reports whether cp was written for these files, unchanged.
func (cp Checkpoint) matches(files []FileState) bool {
	if len(cp.Files) != len(files) {
		return false
	}
	for i, f := range files {
		c := cp.Files[i]
		if c.Path != f.Path || c.Size != f.Size || c.Head != f.Head || c.Kind != f.Kind {
			return false
		}
	}
	return true
}

// save writes the checkpoint atomically: a new file, synced, renamed over
// the old, so a kill at any instant leaves the old or the new one whole.
func (cp Checkpoint) save(path string) error {
	b, err := json.MarshalIndent(cp, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// widen extends the checkpoint's days to t's UTC day.
func (cp *Checkpoint) widen(t time.Time) {
	d := t.UTC().Format(time.DateOnly)
	if cp.From == "" || d < cp.From {
		cp.From = d
	}
	if cp.To == "" || d > cp.To {
		cp.To = d
	}
}
