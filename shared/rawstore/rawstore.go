// Package rawstore keeps accepted events in S3 as gzipped newline-delimited
// JSON, partitioned by tenant and UTC day, the layout Athena reads with
// partition projection:
//
//	raw/tenant=<tenant>/dt=<YYYY-MM-DD>/<received-nanos>-<random>-<latest-nanos>.ndjson.gz
//
// where latest is the latest event time in the object (Latest), absent
// from objects written before it was named.
//
// Each ingest request writes one object per day it touches; objects are
// rewritten only to erase a person's events on request (Rewrite), so
// otherwise a day's files only grow.
package rawstore

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/klauspost/compress/gzip"

	"github.com/uptakehq/uptake/shared/kpi"
)

// api is the part of the S3 client the store uses, with the SDK's exact
// signatures.
type api interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, opts ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	ListObjectVersions(ctx context.Context, in *s3.ListObjectVersionsInput, opts ...func(*s3.Options)) (*s3.ListObjectVersionsOutput, error)
}

// Store reads and writes raw event files.
type Store struct {
	s3     api
	bucket string
}

// gzips keeps compressors between writes: each holds about a megabyte of
// tables that would otherwise be allocated by every request. Objects are
// plain gzip, written and read with klauspost/compress, which does both
// about twice as fast as compress/gzip (the nightly run inflates every
// line of three days: benchmark P1).
var gzips sync.Pool

// Encode returns lines (JSON objects without newlines) as a raw object's
// content: newline-delimited, gzipped at the fastest level (ingest's CPU
// matters more than the 10-20% larger files, which cost a few cents a
// month per million events).
func Encode(lines [][]byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, _ := gzips.Get().(*gzip.Writer)
	if zw == nil {
		zw, _ = gzip.NewWriterLevel(&buf, gzip.BestSpeed) // a valid level: cannot fail
	} else {
		zw.Reset(&buf)
	}
	for _, l := range lines {
		zw.Write(l)
		zw.Write([]byte{'\n'})
	}
	err := zw.Close()
	gzips.Put(zw)
	if err != nil {
		return nil, fmt.Errorf("compress: %w", err)
	}
	return buf.Bytes(), nil
}

// New returns a store on bucket.
func New(client api, bucket string) *Store { return &Store{s3: client, bucket: bucket} }

// CreateBucket creates the bucket for the local stack and tests; an
// existing one is fine. Deployed stacks get theirs from the template.
func CreateBucket(ctx context.Context, client *s3.Client, bucket string) error {
	_, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	var owned *types.BucketAlreadyOwnedByYou
	var exists *types.BucketAlreadyExists
	if err != nil && !errors.As(err, &owned) && !errors.As(err, &exists) {
		return fmt.Errorf("create bucket %s: %w", bucket, err)
	}
	return nil
}

func prefix(kind, tenantID string, day kpi.Day) string {
	return kind + "/tenant=" + tenantID + "/dt=" + day.String() + "/"
}

// Put writes lines (JSON objects without newlines) as one new object of
// the tenant's day and returns its key. The name starts with the receive
// time, so listing a day returns its files in arrival order; latest is
// the latest event time among the lines (zero if unknown), which the
// name carries too (Latest).
func (st *Store) Put(ctx context.Context, kind, tenantID string, day kpi.Day, receivedAt, latest time.Time, lines [][]byte) (string, error) {
	rnd := make([]byte, 8)
	if _, err := rand.Read(rnd); err != nil {
		return "", fmt.Errorf("random name: %w", err)
	}
	key := prefix(kind, tenantID, day) + Name(receivedAt, latest, hex.EncodeToString(rnd))
	return key, st.putLines(ctx, key, lines)
}

// Name is an object's name in its day's folder: the receive time, a
// random part (hex digits) and, when known (not zero, not before 1970),
// the latest event time in the object.
func Name(receivedAt, latest time.Time, random string) string {
	if latest.IsZero() || latest.UnixNano() < 0 {
		return fmt.Sprintf("%019d-%s.ndjson.gz", receivedAt.UnixNano(), random)
	}
	return fmt.Sprintf("%019d-%s-%019d.ndjson.gz", receivedAt.UnixNano(), random, latest.UnixNano())
}

// Latest returns the latest event time an object's key names: no event
// in the object is later. False for a key without one (written before
// keys named it, or with an unknown time). The nightly run leaves the
// objects of the day before that end too early to matter unread.
func Latest(key string) (time.Time, bool) {
	name, ok := strings.CutSuffix(key[strings.LastIndexByte(key, '/')+1:], ".ndjson.gz")
	if !ok {
		return time.Time{}, false
	}
	parts := strings.Split(name, "-")
	if len(parts) != 3 || len(parts[2]) != 19 {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, false
	}
	return time.Unix(0, n).UTC(), true
}

func (st *Store) putLines(ctx context.Context, key string, lines [][]byte) error {
	body, err := Encode(lines)
	if err != nil {
		return err
	}
	_, err = st.s3.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(st.bucket), Key: aws.String(key), Body: bytes.NewReader(body),
		ContentType: aws.String("application/gzip"),
	})
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// Rewrite replaces the object at key with lines, or removes it when no
// line is left, then purges its older versions: the erasure of a person's
// events. S3 replaces an object atomically, so a reader sees the old lines
// or the new ones, never a mix.
func (st *Store) Rewrite(ctx context.Context, key string, lines [][]byte) error {
	var err error
	if len(lines) == 0 {
		err = st.Delete(ctx, key)
	} else {
		err = st.putLines(ctx, key, lines)
	}
	if err != nil {
		return err
	}
	return st.Purge(ctx, key)
}

// Purge removes every version of key but the current one, and the delete
// markers: with bucket versioning on (as template.yaml sets it), an
// overwritten or deleted object otherwise stays readable for 30 days. A
// server without versioning (the local data folder's) has nothing to purge.
func (st *Store) Purge(ctx context.Context, key string) error {
	in := &s3.ListObjectVersionsInput{Bucket: aws.String(st.bucket), Prefix: aws.String(key)}
	for {
		out, err := st.s3.ListObjectVersions(ctx, in)
		if notImplemented(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("list versions of %s: %w", key, err)
		}
		var old []*string
		for _, v := range out.Versions {
			if aws.ToString(v.Key) == key && !aws.ToBool(v.IsLatest) {
				old = append(old, v.VersionId)
			}
		}
		for _, m := range out.DeleteMarkers {
			if aws.ToString(m.Key) == key {
				old = append(old, m.VersionId)
			}
		}
		for _, v := range old {
			if aws.ToString(v) == "" {
				continue
			}
			_, err := st.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(st.bucket), Key: aws.String(key), VersionId: v})
			if err != nil {
				return fmt.Errorf("delete version of %s: %w", key, err)
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			return nil
		}
		in.KeyMarker, in.VersionIdMarker = out.NextKeyMarker, out.NextVersionIdMarker
	}
}

// notImplemented reports an S3 server's NotImplemented answer.
func notImplemented(err error) bool {
	var ae interface{ ErrorCode() string }
	return errors.As(err, &ae) && ae.ErrorCode() == "NotImplemented"
}

// Delete removes an object, as the undo of a Put whose request failed.
func (st *Store) Delete(ctx context.Context, key string) error {
	if _, err := st.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(st.bucket), Key: aws.String(key)}); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// Keys lists a tenant's files of a day, in arrival order.
func (st *Store) Keys(ctx context.Context, kind, tenantID string, day kpi.Day) ([]string, error) {
	return st.List(ctx, prefix(kind, tenantID, day))
}

// Lines calls fn with each line of an object, in order.
func (st *Store) Lines(ctx context.Context, key string, fn func(line []byte) error) error {
	out, err := st.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(st.bucket), Key: aws.String(key)})
	if err != nil {
		return fmt.Errorf("get %s: %w", key, err)
	}
	defer out.Body.Close()
	return ReadLines(key, out.Body, strings.HasSuffix(key, ".gz"), fn)
}

// ReadLines calls fn with each non-blank line of the content r of the
// object key (gunzipped first when gzipped), in order: how every reader
// of the raw layout (S3, or files on disk for benchmarks) reads an object.
func ReadLines(key string, r io.Reader, gzipped bool, fn func(line []byte) error) error {
	if gzipped {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return fmt.Errorf("read %s: %w", key, err)
		}
		defer zr.Close()
		r = zr
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		if err := fn(sc.Bytes()); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	return nil
}

// PutBlob writes one object as is.
func (st *Store) PutBlob(ctx context.Context, key string, body []byte) error {
	_, err := st.s3.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(st.bucket), Key: aws.String(key), Body: bytes.NewReader(body), ContentType: aws.String("application/json"),
	})
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// Blob reads one object.
func (st *Store) Blob(ctx context.Context, key string) ([]byte, error) {
	out, err := st.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(st.bucket), Key: aws.String(key)})
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	return b, nil
}

// List returns the keys under prefix, sorted.
func (st *Store) List(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	in := &s3.ListObjectsV2Input{Bucket: aws.String(st.bucket), Prefix: aws.String(prefix)}
	for {
		out, err := st.s3.ListObjectsV2(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", prefix, err)
		}
		for _, o := range out.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		in.ContinuationToken = out.NextContinuationToken
	}
	slices.Sort(keys)
	return keys, nil
}
