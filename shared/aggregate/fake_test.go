package aggregate_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/uptakehq/uptake/shared/aggregate/memstate"
	"github.com/uptakehq/uptake/shared/kpi"
	"github.com/uptakehq/uptake/shared/rawstore"
)

// memRaw is an in-memory raw store: files of lines per UTC day.
type memRaw struct {
	mu    sync.Mutex
	files map[string][][]byte // key -> lines
	n     int
}

func newMemRaw() *memRaw { return &memRaw{files: map[string][][]byte{}} }

func (m *memRaw) put(tenantID string, day kpi.Day, lines [][]byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.n++
	m.files[fmt.Sprintf("raw/tenant=%s/dt=%s/%06d", tenantID, day, m.n)] = lines
}

// putNamed stores lines as put does, under a name that says the latest
// event time in them, as rawstore.Put names objects.
func (m *memRaw) putNamed(tenantID string, day kpi.Day, latest time.Time, lines [][]byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.n++
	m.files[fmt.Sprintf("raw/tenant=%s/dt=%s/", tenantID, day)+rawstore.Name(time.Unix(0, int64(m.n)), latest, "00")] = lines
}

func (m *memRaw) Keys(_ context.Context, kind, tenantID string, day kpi.Day) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	prefix := kind + "/tenant=" + tenantID + "/dt=" + day.String() + "/"
	var out []string
	for k := range m.files {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out, nil
}

func (m *memRaw) Lines(_ context.Context, key string, fn func([]byte) error) error {
	m.mu.Lock()
	lines := m.files[key]
	m.mu.Unlock()
	for _, l := range lines {
		if err := fn(l); err != nil {
			return err
		}
	}
	return nil
}

// memState is the in-memory aggregate.State and query.Store of tenant "t".
type memState = memstate.State

func newMemState(cfg kpi.Config) *memState { return memstate.New("t", cfg) }
