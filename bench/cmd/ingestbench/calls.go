package main

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
)

// calls counts the AWS calls a stack makes, by operation, and estimates the
// on-demand capacity they use: a write request unit per KB of each item
// written, half a read request unit per 4 KB read (eventually consistent),
// a whole one when consistent. The item sizes are those of the DynamoDB
// JSON on the wire, a little larger than DynamoDB's own count (type tags
// and quotes): the units are an upper bound.
type calls struct {
	next http.RoundTripper

	mu       sync.Mutex
	ops      map[string]int
	wru, rru float64
	putBytes int64 // bodies of S3 PutObject
}

func newCalls(next http.RoundTripper) *calls {
	return &calls{next: next, ops: map[string]int{}}
}

// snapshot returns the counts so far and starts again from zero.
func (c *calls) snapshot() (ops map[string]int, wru, rru float64, putBytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ops, wru, rru, putBytes = c.ops, c.wru, c.rru, c.putBytes
	c.ops, c.wru, c.rru, c.putBytes = map[string]int{}, 0, 0, 0
	return ops, wru, rru, putBytes
}

func (c *calls) RoundTrip(req *http.Request) (*http.Response, error) {
	target := req.Header.Get("X-Amz-Target")
	if target == "" {
		op := s3Op(req)
		resp, err := c.next.RoundTrip(req)
		if err == nil {
			c.mu.Lock()
			c.ops["S3 "+op]++
			if op == "PutObject" && req.ContentLength > 0 {
				c.putBytes += req.ContentLength
			}
			c.mu.Unlock()
		}
		return resp, err
	}
	op := target[strings.LastIndexByte(target, '.')+1:]
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	resp, err := c.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	out, rerr := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(out))
	if rerr != nil {
		return resp, rerr
	}
	wru, rru := units(op, body, out)
	c.mu.Lock()
	c.ops["DynamoDB "+op]++
	c.wru += wru
	c.rru += rru
	c.mu.Unlock()
	return resp, nil
}

// s3Op names an S3 request's operation from its method and query.
func s3Op(req *http.Request) string {
	q := req.URL.Query()
	switch req.Method {
	case http.MethodPut:
		if req.Header.Get("X-Amz-Copy-Source") != "" {
			return "CopyObject"
		}
		if strings.Count(strings.Trim(req.URL.Path, "/"), "/") == 0 {
			return "CreateBucket"
		}
		return "PutObject"
	case http.MethodGet:
		switch {
		case q.Has("versions"):
			return "ListObjectVersions"
		case q.Get("list-type") == "2":
			return "ListObjectsV2"
		case strings.Count(strings.Trim(req.URL.Path, "/"), "/") == 0:
			return "ListObjects"
		}
		return "GetObject"
	case http.MethodDelete:
		return "DeleteObject"
	case http.MethodHead:
		return "HeadObject"
	case http.MethodPost:
		if q.Has("delete") {
			return "DeleteObjects"
		}
	}
	return req.Method
}

// units estimates the capacity of one DynamoDB call from its request and
// answer.
func units(op string, in, out []byte) (wru, rru float64) {
	kb := func(n int) float64 { return math.Max(1, math.Ceil(float64(n)/1024)) }
	read := func(n int, consistent bool) float64 {
		u := math.Max(1, math.Ceil(float64(n)/4096))
		if !consistent {
			u /= 2
		}
		return u
	}
	var req struct {
		ConsistentRead bool
		Item           json.RawMessage
		RequestItems   map[string][]struct {
			PutRequest    *struct{ Item json.RawMessage }
			DeleteRequest *struct{ Key json.RawMessage }
		}
	}
	json.Unmarshal(in, &req)
	switch op {
	case "PutItem":
		return kb(len(req.Item)), 0
	case "UpdateItem", "DeleteItem":
		// Billed on the larger of the item before and after: the
		// request is the best size we have without reading it.
		return kb(len(in)), 0
	case "BatchWriteItem":
		for _, reqs := range req.RequestItems {
			for _, r := range reqs {
				switch {
				case r.PutRequest != nil:
					wru += kb(len(r.PutRequest.Item))
				case r.DeleteRequest != nil:
					wru++
				}
			}
		}
		return wru, 0
	case "TransactWriteItems":
		return 2 * kb(len(in)), 0
	case "GetItem":
		return 0, read(len(out), req.ConsistentRead)
	case "Query", "Scan":
		return 0, read(len(out), req.ConsistentRead)
	case "BatchGetItem":
		var resp struct {
			Responses map[string][]json.RawMessage
		}
		json.Unmarshal(out, &resp)
		for _, items := range resp.Responses {
			for _, it := range items {
				rru += read(len(it), false)
			}
		}
		return 0, rru
	}
	return 0, 0
}
