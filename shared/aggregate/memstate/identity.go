package memstate

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/uptakehq/uptake/shared/kpi"
)

// Identities are held encoded, one byte slice each, and decoded on every
// read, as dynamostore decodes the items it gets: the nightly run then
// pays what it pays on DynamoDB to read an identity, and a benchmark's
// state of a million identities is two heap objects each rather than a
// dozen maps and slices that every collection of the measured run would
// mark (a Lambda holds none of it). Times come back in UTC and traits
// from their JSON, as dynamostore returns them.
//
// The encoding: the ordinal, the number of milestones, each milestone's
// name, time (Unix nanoseconds) and day (year, month, day), then the
// traits' JSON (empty for none).

func encodeIdentity(ident kpi.Identity) ([]byte, error) {
	b := binary.AppendUvarint(nil, uint64(ident.Ordinal))
	b = binary.AppendUvarint(b, uint64(len(ident.Firsts)))
	for _, m := range slices.Sorted(maps.Keys(ident.Firsts)) {
		f := ident.Firsts[m]
		b = binary.AppendUvarint(b, uint64(len(m)))
		b = append(b, m...)
		b = binary.AppendVarint(b, f.At.UnixNano())
		b = binary.AppendVarint(b, int64(f.Day.Year()))
		b = binary.AppendUvarint(b, uint64(f.Day.Month()))
		b = binary.AppendUvarint(b, uint64(f.Day.Start(time.UTC).Day()))
	}
	if len(ident.Traits) > 0 {
		t, err := json.Marshal(ident.Traits)
		if err != nil {
			return nil, err
		}
		b = append(b, t...)
	}
	return b, nil
}

func decodeIdentity(b []byte) (kpi.Identity, error) {
	r := bytes.NewReader(b)
	ord, err := binary.ReadUvarint(r)
	if err != nil {
		return kpi.Identity{}, fmt.Errorf("identity: %w", err)
	}
	ident := kpi.Identity{Ordinal: uint32(ord)}
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return kpi.Identity{}, fmt.Errorf("identity: %w", err)
	}
	if n > 0 { // none: nil, as most visitors have (writers clone first)
		ident.Firsts = make(map[kpi.Milestone]kpi.First, n)
	}
	for range n {
		l, err := binary.ReadUvarint(r)
		if err != nil {
			return kpi.Identity{}, fmt.Errorf("identity: %w", err)
		}
		name := make([]byte, l)
		if _, err := io.ReadFull(r, name); err != nil {
			return kpi.Identity{}, fmt.Errorf("identity: %w", err)
		}
		at, err1 := binary.ReadVarint(r)
		y, err2 := binary.ReadVarint(r)
		mo, err3 := binary.ReadUvarint(r)
		d, err4 := binary.ReadUvarint(r)
		if err := errors.Join(err1, err2, err3, err4); err != nil {
			return kpi.Identity{}, fmt.Errorf("identity: %w", err)
		}
		ident.Firsts[kpi.Milestone(name)] = kpi.First{At: time.Unix(0, at).UTC(), Day: kpi.NewDay(int(y), time.Month(mo), int(d))}
	}
	if rest := b[len(b)-r.Len():]; len(rest) > 0 {
		if err := json.Unmarshal(rest, &ident.Traits); err != nil {
			return kpi.Identity{}, fmt.Errorf("identity traits: %w", err)
		}
	}
	return ident, nil
}

// sameTraits reports whether two trait histories are stored alike.
func sameTraits(a, b kpi.Traits) (bool, error) {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b), nil
	}
	ja, err := json.Marshal(a)
	if err != nil {
		return false, err
	}
	jb, err := json.Marshal(b)
	if err != nil {
		return false, err
	}
	return bytes.Equal(ja, jb), nil
}
