// Package nightly runs Uptake's nightly aggregation (aggregate.Service)
// over the raw files gendata writes to a local folder, with the tenant's
// state in memory (shared/aggregate/memstate), for the benchmarks: P1's
// bench/cmd/nightly measures the run, P2's bench/cmd/p2 queries the parts
// it writes.
package nightly

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/uptakehq/uptake/bench/gen"
	"github.com/uptakehq/uptake/shared/aggregate/memstate"
	"github.com/uptakehq/uptake/shared/kpi"
	"github.com/uptakehq/uptake/shared/rawstore"
)

// State is the tenant's state before the generated days of pop (gendata's
// population): every user and visitor known, users signed up, seen and
// active on their creation day.
func State(ctx context.Context, tenant string, pop *gen.Population) (*memstate.State, error) {
	st := memstate.New(tenant, kpi.DefaultConfig())
	ids := make([]string, 0, 2*len(pop.Users)+len(pop.Visitors))
	for _, u := range pop.Users {
		ids = append(ids, u.ID, u.Anon)
	}
	for _, v := range pop.Visitors {
		ids = append(ids, v.Anon)
	}
	if _, err := st.Identities(ctx, tenant, ids); err != nil {
		return nil, err
	}
	for _, u := range pop.Users {
		d := kpi.DayOf(u.CreatedAt, time.UTC)
		for _, m := range []kpi.Milestone{kpi.FirstActive, kpi.FirstSeen, kpi.SignedUp} {
			if _, _, err := st.SetFirst(ctx, tenant, u.ID, m, kpi.First{At: u.CreatedAt, Day: d}); err != nil {
				return nil, err
			}
		}
	}
	return st, nil
}

// Dir reads raw files from a local folder laid out as the bucket: an
// aggregate.RawReader.
type Dir struct{ Root string }

func (d Dir) Keys(_ context.Context, kind, tenantID string, day kpi.Day) ([]string, error) {
	prefix := kind + "/tenant=" + tenantID + "/dt=" + day.String()
	ents, err := os.ReadDir(filepath.Join(d.Root, prefix))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, e := range ents {
		if !e.IsDir() {
			keys = append(keys, prefix+"/"+e.Name())
		}
	}
	slices.Sort(keys)
	return keys, nil
}

// Lines reads a file as rawstore.Store.Lines reads an object.
func (d Dir) Lines(_ context.Context, key string, fn func([]byte) error) error {
	f, err := os.Open(filepath.Join(d.Root, key))
	if err != nil {
		return err
	}
	defer f.Close()
	return rawstore.ReadLines(key, bufio.NewReaderSize(f, 1<<20), strings.HasSuffix(key, ".gz"), fn)
}

// CountLines counts the lines of a gzip file.
func CountLines(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return 0, err
	}
	n := 0
	buf := make([]byte, 1<<20)
	for {
		k, err := zr.Read(buf)
		n += bytes.Count(buf[:k], []byte{'\n'})
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
