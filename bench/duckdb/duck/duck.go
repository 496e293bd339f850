// Package duck is what both DuckDB programs share: the raw files of a
// day's window (the day and one day each side, as Uptake's nightly run
// reads them) and a DuckDB connection.
package duck

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// Files returns the gzip NDJSON files of the tenant under data (the folder
// bench/cmd/gendata wrote) for the UTC days around dayFlag (YYYY-MM-DD),
// each day's in name order, and the day.
func Files(data, tenant, dayFlag string) ([]string, time.Time, error) {
	if data == "" || dayFlag == "" {
		return nil, time.Time{}, fmt.Errorf("want -data and -day")
	}
	day, err := time.Parse(time.DateOnly, dayFlag)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("-day: %w", err)
	}
	var files []string
	for _, d := range []time.Time{day.AddDate(0, 0, -1), day, day.AddDate(0, 0, 1)} {
		fs, err := filepath.Glob(filepath.Join(data, "raw", "tenant="+tenant, "dt="+d.Format(time.DateOnly), "*.ndjson.gz"))
		if err != nil {
			return nil, time.Time{}, err
		}
		slices.Sort(fs)
		files = append(files, fs...)
	}
	if len(files) == 0 {
		return nil, time.Time{}, fmt.Errorf("no raw files of %s under %s", dayFlag, data)
	}
	return files, day, nil
}

// Open opens an in-memory DuckDB and one connection to it, with threads
// threads when threads > 0. Close the connection, then the database.
func Open(ctx context.Context, threads int) (*sql.DB, *sql.Conn, error) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return nil, nil, err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	if threads > 0 {
		if _, err := conn.ExecContext(ctx, "SET threads = "+strconv.Itoa(threads)); err != nil {
			conn.Close()
			db.Close()
			return nil, nil, err
		}
	}
	return db, conn, nil
}

// WriteJSON writes v as indented JSON to the file out, or to standard
// output when out is "".
func WriteJSON(v any, out string) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if out == "" {
		_, err = os.Stdout.Write(append(b, '\n'))
		return err
	}
	return os.WriteFile(out, append(b, '\n'), 0o644)
}
