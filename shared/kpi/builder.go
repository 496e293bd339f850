package kpi

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/uptakehq/uptake/shared/event"
)

// DayBuilder computes a day's Facts from its window, fed one record at a
// time in arrival order, keeping only what the facts need: the per-user
// facts of the day's events, and a 24-byte point per event for sessions
// and next steps. A window's records are never held, so the nightly run's
// memory grows with the day's users and events, not with the bytes of
// three days of decoded records (benchmark P1).
//
// Its facts are ComputeDay's, with one reading of repeated messageIds: a
// message sent again (the same messageId at the same time) counts once
// everywhere, and of the records that add to a count or a list
// (conversions, guide plays, subscription events and orders, ticket
// updates, survey answers, identify and group calls) the first to arrive
// with a messageId is the only one kept. Two different records that share
// a messageId are not looked for across the other kinds: each adds what
// it says to the sets it belongs to.
type DayBuilder struct {
	cfg        Config
	day        Day
	start, end time.Time
	startNS    int64
	endNS      int64
	timeout    int64

	f           Facts
	responses   map[string]Response
	features    map[string]map[string]struct{}
	tickets     map[string]Ticket
	activeNames map[string]bool
	featureEvs  map[string]bool
	valueEvs    map[string]bool
	bots        map[string]*userAgent
	lastUA      *userAgent
	counted     map[string]struct{} // messageIds of the counted kinds seen in the day

	// The window's points. ids numbers every visitor and user; a point is
	// linked into its visitor's list (sessions) and its user's list (next
	// steps) through vhead/uhead and vnext/unext, newest first.
	ids   map[string]uint32
	names []string
	// The last two ids looked up (their names the builder's copies).
	names0, names1 string
	id0, id1       uint32
	vhead          []uint32 // per id: its newest session point + 1 (0: none)
	uhead          []uint32 // per id: its newest next-step point + 1
	before         []int64  // per id: its latest session time before the day (minTime: none)
	lastIn         []int64  // per id: its latest session time in the day (minTime: none)
	// Per id: the day's sets it is in (known, active, page visitor,
	// converted), and the millisecond of the day (+1; 0: none) at which
	// it first reached FirstSeen and FirstActive, so that a later record
	// (most are) skips the maps of f.Firsts.
	flags            []uint8
	seenMS, activeMS []uint32
	pts              pointStore
	marks            map[uint32]map[int]mark // per user: the day's earliest signup (0) and steps
	farT             map[uint32]int64        // per point: its time, if far (tFar)
	farSrc           map[uint32]uint32       // per point: its src, if srcFar

	sources map[[4]string]string // TrafficSource's answers
	devices map[[3]string]uint32
	devs    []string
	devIdx  map[string]uint32
	pages   map[[2]string]uint32 // (content type, path) of pages
	pageDim [][2]string
	// pageLabel is each page's label in drop-off paths.
	pageLabel []uint32
	labels    map[labelKey]uint32
	labelOf   []labelKey

	// sealed: no record of the day or before it follows (NoMoreDay), so
	// later points are kept only where they can matter; broken: one did.
	sealed, broken bool
}

// point is one window event as sessions and next steps read it.
type point struct {
	t     int64  // Unix nanoseconds
	h     uint32 // the messageId's hash: orders equal times, finds repeats
	page  uint32 // a page's (content type, path) + 1; 0: not a page
	label uint32 // what the event is called in drop-off paths
	src   uint32 // device<<3 | traffic source, of a day's event
}

// stored is a point as the builder keeps it, in 24 bytes (a day of 10 M
// events keeps 10 M of them): its time as nanoseconds since the day's
// start in 48 bits, with src in the low 16; what holds the page (with
// pageBit) or else the label, as a page's label follows from its path
// (pageLabel). Times 2^48 ns (3.2 days) or more after the day's start,
// which the window never holds, and sources past 16 bits, which only a
// stream of made-up device types makes, are kept exactly in side maps.
type stored struct {
	ts    uint64
	h     uint32
	vnext uint32 // the visitor's previous point + 1
	unext uint32 // the user's previous point + 1
	what  uint32
}

const (
	pageBit = 1 << 31
	srcBits = 16
	srcFar  = 1<<srcBits - 1 // src is in farSrc
	tFar    = 1<<(64-srcBits) - 1
)

// mark is a step's earliest completion: its time and hash.
type mark struct {
	t int64
	h uint32
}

// labelKey names an event for drop-off paths; step is the onboarding
// step of a step completion (isStep), which the step's own mark skips.
type labelKey struct {
	label  string
	isStep bool
	step   int
}

const minTime = math.MinInt64

// The day's sets an id is in (DayBuilder.flags).
const (
	isKnown uint8 = 1 << iota
	isActive
	isPageVisitor
	isConverted
)

// pointChunk is how many points a chunk of the store holds (1.5 MB).
const pointChunk = 1 << 16

// pointStore keeps points in fixed chunks: it grows without copying.
type pointStore struct{ chunks [][]stored }

func (s *pointStore) add(p stored) uint32 {
	if len(s.chunks) == 0 || len(s.chunks[len(s.chunks)-1]) == pointChunk {
		s.chunks = append(s.chunks, make([]stored, 0, pointChunk))
	}
	c := &s.chunks[len(s.chunks)-1]
	*c = append(*c, p)
	return uint32((len(s.chunks)-1)*pointChunk + len(*c) - 1)
}

func (s *pointStore) at(i uint32) *stored { return &s.chunks[i/pointChunk][i%pointChunk] }

// store keeps p and returns its index.
func (b *DayBuilder) store(p point) uint32 {
	off, src := uint64(p.t-b.startNS), uint64(p.src)
	st := stored{h: p.h, what: p.label}
	if p.page != 0 {
		st.what = (p.page - 1) | pageBit
	}
	if off >= tFar {
		off = tFar
	}
	if src >= srcFar {
		src = srcFar
	}
	st.ts = off<<srcBits | src
	i := b.pts.add(st)
	if off == tFar {
		if b.farT == nil {
			b.farT = map[uint32]int64{}
		}
		b.farT[i] = p.t
	}
	if src == srcFar {
		if b.farSrc == nil {
			b.farSrc = map[uint32]uint32{}
		}
		b.farSrc[i] = p.src
	}
	return i
}

// load is the point stored at i.
func (b *DayBuilder) load(i uint32) point {
	st := b.pts.at(i)
	p := point{t: b.startNS + int64(st.ts>>srcBits), h: st.h, src: uint32(st.ts & srcFar), label: st.what}
	if st.ts>>srcBits == tFar {
		p.t = b.farT[i]
	}
	if p.src == srcFar {
		p.src = b.farSrc[i]
	}
	if st.what&pageBit != 0 {
		page := st.what &^ pageBit
		p.page, p.label = page+1, b.pageLabel[page]
	}
	return p
}

// sources are TrafficSource's answers, numbered for a point's src.
var sources = []string{SourcePaid, SourceEmail, SourceSocial, SourceOrganic, SourceReferral, SourceDirect, SourceCampaign}

// maxCached bounds the builder's caches of computed dimension values.
const maxCached = 1 << 16

// NewDayBuilder returns a builder of day's facts.
func NewDayBuilder(cfg Config, day Day) *DayBuilder {
	loc := cfg.Location()
	b := &DayBuilder{
		cfg: cfg, day: day, start: day.Start(loc), end: day.End(loc), timeout: int64(cfg.SessionTimeout()),
		f: Facts{Day: day, Firsts: map[string]Reached{}, NextAfter: map[string]map[int]Next{}, Links: map[string]string{},
			TraitChanges: map[string]Traits{}, Features: map[string][]string{}, SessionsBy: map[string]map[string]SessionStats{},
			FirstSession: map[string]map[string][]string{}},
		responses: map[string]Response{}, features: map[string]map[string]struct{}{}, tickets: map[string]Ticket{},
		activeNames: set(cfg.ActiveEvents), featureEvs: set(cfg.FeatureEvents), valueEvs: set(cfg.ValueEvents),
		bots: map[string]*userAgent{}, counted: map[string]struct{}{},
		ids: map[string]uint32{}, marks: map[uint32]map[int]mark{},
		sources: map[[4]string]string{}, devices: map[[3]string]uint32{}, devIdx: map[string]uint32{}, pages: map[[2]string]uint32{}, labels: map[labelKey]uint32{},
	}
	b.startNS, b.endNS = b.start.UnixNano(), b.end.UnixNano()
	return b
}

func set(names []string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// NoMoreDay tells the builder that no record of the day or before it
// follows (the rest of the window is the day after), so it keeps the
// later events only of the visitors whose sessions can reach them and of
// the users with a step to follow. A record that breaks the promise makes
// Broken true: the facts may then miss sessions' ends, and the caller
// must build the day again without the promise.
func (b *DayBuilder) NoMoreDay() { b.sealed = true }

// Broken reports whether a record of the day or before it came after
// NoMoreDay.
func (b *DayBuilder) Broken() bool { return b.broken }

// own is the builder's copy of a visitor or user id.
func (b *DayBuilder) own(s string) string { return b.names[b.id(s)] }

func (b *DayBuilder) id(s string) uint32 {
	i, ok := b.lookup(s)
	if !ok {
		i = b.newID(s)
	}
	// A record names its visitor and user several times over (points,
	// sets, milestones): the last two ids looked up answer without the map.
	if b.id0 != i || b.names0 == "" {
		b.names1, b.id1 = b.names0, b.id0
		b.names0, b.id0 = b.names[i], i
	}
	return i
}

// lookup is id without numbering a new id: false if s has none.
func (b *DayBuilder) lookup(s string) (uint32, bool) {
	if s == b.names0 && s != "" {
		return b.id0, true
	}
	if s == b.names1 && s != "" {
		return b.id1, true
	}
	i, ok := b.ids[s]
	return i, ok
}

func (b *DayBuilder) newID(s string) uint32 {
	i := uint32(len(b.names))
	s = strings.Clone(s)
	b.ids[s] = i
	b.names = append(b.names, s)
	b.vhead = append(b.vhead, 0)
	b.uhead = append(b.uhead, 0)
	b.before = append(b.before, minTime)
	b.lastIn = append(b.lastIn, minTime)
	b.flags = append(b.flags, 0)
	b.seenMS = append(b.seenMS, 0)
	b.activeMS = append(b.activeMS, 0)
	return i
}

// Wants reports whether a record can change the facts, from its ids and
// time alone (event.LineDecoder.Peek's), once the builder is sealed and
// the record is after the day: only if a session of the day reaches its
// visitor or its user has a step of the day waiting for the next event,
// as Add keeps them. Any other record (a record of the day or before it,
// or one before NoMoreDay) it wants, so that Add sees it. A record it
// does not want Add would leave out, so the window need not decode it.
func (b *DayBuilder) Wants(r *event.Record) bool {
	if !b.sealed || r.Timestamp.UnixNano() < b.endNS {
		return true
	}
	if v, ok := b.lookup(r.Visitor()); ok && b.lastIn[v] >= b.endNS-b.timeout {
		return true
	}
	u, ok := b.lookup(r.User())
	return ok && b.marks[u] != nil
}

// Interest is the ids whose records after the day Wants may want once
// sealed: a record whose visitor and user are both outside it, and whose
// time is after the day, Wants leaves out. It is taken once the builder is
// sealed (it does not change after), so that the window's decoders can
// leave such records undecoded without asking the builder.
func (b *DayBuilder) Interest() map[string]struct{} {
	out := map[string]struct{}{}
	for i, name := range b.names {
		if b.lastIn[i] >= b.endNS-b.timeout || b.marks[uint32(i)] != nil {
			out[name] = struct{}{}
		}
	}
	return out
}

// Before is the time, in Unix nanoseconds, before which Add leaves every
// record out unless the builder is sealed: an event that long before the
// day cannot join a session of it, and only sessions read events before
// the day.
func (b *DayBuilder) Before() int64 { return b.startNS - b.timeout }

// End is the day's end in Unix nanoseconds.
func (b *DayBuilder) End() int64 { return b.endNS }

// Add adds one record of the window. The builder keeps none of r: r's
// strings may alias a buffer the caller reuses (LineDecoder), so those
// it keeps are copied, once each (own, strings.Clone), and its raw
// members are decoded into values of their own.
func (b *DayBuilder) Add(r *event.Record) {
	t := r.Timestamp.UnixNano()
	inDay := t >= b.startNS && t < b.endNS
	if b.sealed && t < b.endNS {
		b.broken = true
	}
	if inDay && countsOnce(b.cfg, r) {
		if _, dup := b.counted[r.MessageID]; dup {
			return
		}
		b.counted[strings.Clone(r.MessageID)] = struct{}{}
	}
	bot := b.isBot(r.Context.UserAgent)
	b.addPoint(r, t, inDay, bot)
	if inDay {
		b.addFacts(r, bot)
	}
}

// isBot is IsBot(ua), cached; a record is most often of the same user
// agent as the one before.
func (b *DayBuilder) isBot(ua string) bool {
	if b.lastUA != nil && ua == b.lastUA.ua {
		return b.lastUA.bot
	}
	e, ok := b.bots[ua]
	if !ok {
		e = &userAgent{ua: strings.Clone(ua), bot: IsBot(ua)}
		b.bots[e.ua] = e
	}
	b.lastUA = e
	return e.bot
}

// userAgent is a user agent seen, with IsBot's answer.
type userAgent struct {
	ua  string
	bot bool
}

// countsOnce reports whether a record adds to a count or a list, so that
// a repeat of its messageId must be found exactly.
func countsOnce(cfg Config, r *event.Record) bool {
	switch r.Type {
	case event.Identify, event.Group:
		return true
	case event.Track:
		if r.Event == cfg.ConversionEvent || r.Event == EventGuidePlayed || r.Event == TicketUpdated || r.Event == EventOrder ||
			r.Event == event.SurveyResponded {
			return true
		}
		_, sub := subKind(r.Event)
		return sub
	}
	return false
}

// addPoint records what sessions and next steps need of r.
func (b *DayBuilder) addPoint(r *event.Record, t int64, inDay, bot bool) {
	session := r.IsActivity() && !bot && r.Visitor() != ""
	next := r.User() != "" && r.Type != event.Identify && r.Type != event.Group && r.Type != event.Alias
	if !session && !next {
		return
	}
	if t < b.startNS {
		// Before the day, an event only says whether the visitor's first
		// session of the day began the day before: its time is enough,
		// and only within the session timeout of the day's start (an
		// earlier one cannot join a session of the day), so the previous
		// day's other visitors take no place.
		if session && t >= b.startNS-b.timeout {
			v := b.id(r.Visitor())
			b.before[v] = max(b.before[v], t)
		}
		return
	}
	var v, u uint32
	if !inDay && b.sealed {
		// After the promise, a later event matters only to a visitor or
		// user of the day: the day after's others take no place either.
		var ok bool
		if session {
			v, ok = b.lookup(r.Visitor())
			session = ok && b.lastIn[v] >= b.endNS-b.timeout // a session of the day reaches it
		}
		if next {
			u, ok = b.lookup(r.User())
			next = ok && b.marks[u] != nil // a step of the day to follow
		}
	} else {
		if session {
			v = b.id(r.Visitor())
		}
		if next {
			u = b.id(r.User())
		}
	}
	if !session && !next {
		return
	}
	p := point{t: t, h: uint32(xxhash.Sum64String(r.MessageID))}
	path, pathDone := "", false
	if session && r.Type == event.Page {
		path, pathDone = r.PagePath(), true
		p.page = b.pageDims(r.Props().ContentType, path) + 1
	}
	if session && inDay {
		p.src = b.srcOf(r)
	}
	if next {
		var k labelKey
		switch r.Type {
		case event.Page:
			if !pathDone {
				path = r.PagePath()
			}
			k.label = "page"
			if path != "" {
				k.label = "page:" + path
			}
		case event.Screen:
			k.label = "screen:" + r.Name
		default:
			k.label = r.Event
			if r.Type == event.Track && r.Event == "Onboarding Step Completed" {
				k.isStep, k.step = true, stepIndex(b.cfg, r.Props())
			}
		}
		p.label = b.labelIndex(k)
	}
	i := b.store(p)
	pp := b.pts.at(i)
	if session {
		pp.vnext = b.vhead[v]
		b.vhead[v] = i + 1
		if inDay {
			b.lastIn[v] = max(b.lastIn[v], t)
		}
	}
	if next {
		pp.unext = b.uhead[u]
		b.uhead[u] = i + 1
		if inDay && r.Type == event.Track {
			k := -1
			switch r.Event {
			case event.SignedUp:
				k = 0
			case "Onboarding Step Completed":
				if s := stepIndex(b.cfg, r.Props()); s > 0 {
					k = s
				}
			}
			if k >= 0 {
				if b.marks[u] == nil {
					b.marks[u] = map[int]mark{}
				}
				if old, ok := b.marks[u][k]; !ok || less(p.t, p.h, old.t, old.h) {
					b.marks[u][k] = mark{p.t, p.h}
				}
			}
		}
	}
}

func less(t1 int64, h1 uint32, t2 int64, h2 uint32) bool {
	return t1 < t2 || t1 == t2 && h1 < h2
}

func (b *DayBuilder) labelIndex(k labelKey) uint32 {
	if i, ok := b.labels[k]; ok {
		return i
	}
	i := uint32(len(b.labelOf))
	k.label = strings.Clone(k.label)
	b.labels[k] = i
	b.labelOf = append(b.labelOf, k)
	return i
}

func (b *DayBuilder) pageDims(contentType, path string) uint32 {
	k := [2]string{contentType, path}
	if i, ok := b.pages[k]; ok {
		return i
	}
	i := uint32(len(b.pageDim))
	k = [2]string{strings.Clone(contentType), strings.Clone(path)}
	b.pages[k] = i
	b.pageDim = append(b.pageDim, k)
	label := "page"
	if path != "" {
		label = "page:" + path
	}
	b.pageLabel = append(b.pageLabel, b.labelIndex(labelKey{label: label}))
	return i
}

// srcOf is the traffic source and device a session starting with r has.
func (b *DayBuilder) srcOf(r *event.Record) uint32 {
	sk := [4]string{r.Context.Campaign.Source, r.Context.Campaign.Medium, r.Referrer(), r.PageURL()}
	src, ok := b.sources[sk]
	if !ok {
		src = TrafficSource(sk[0], sk[1], sk[2], sk[3])
		if len(b.sources) < maxCached {
			b.sources[[4]string{strings.Clone(sk[0]), strings.Clone(sk[1]), strings.Clone(sk[2]), strings.Clone(sk[3])}] = src
		}
	}
	dk := [3]string{r.Context.Device.Type, r.Context.UserAgent, r.Type}
	d, ok := b.devices[dk]
	if !ok {
		dev := Device(dk[0], dk[1], dk[2])
		j, seen := b.devIdx[dev]
		if !seen {
			j = uint32(len(b.devs))
			dev = strings.Clone(dev)
			b.devIdx[dev] = j
			b.devs = append(b.devs, dev)
		}
		d = j
		if len(b.devices) < maxCached {
			b.devices[[3]string{strings.Clone(dk[0]), strings.Clone(dk[1]), strings.Clone(dk[2])}] = d
		}
	}
	return d<<3 | uint32(slices.Index(sources, src))
}

// addFacts adds what a record of the day says, as ComputeDay's loop does.
func (b *DayBuilder) addFacts(r *event.Record, bot bool) {
	f, cfg := &b.f, b.cfg
	if r.Type == event.Identify && r.UserID != "" {
		// created_at may name any day; it is read by the run of the day
		// the identify call falls on.
		if ts, ok := r.CreatedAt(); ok {
			b.reach(b.own(string(r.UserID)), SignedUp, ts)
		}
	}
	if r.AnonymousID != "" && r.UserID != "" && string(r.AnonymousID) != string(r.UserID) {
		if old, ok := f.Links[string(r.AnonymousID)]; !ok || string(r.UserID) > old {
			f.Links[b.own(string(r.AnonymousID))] = b.own(string(r.UserID)) // one choice, whatever the order
		}
	}
	subs, orders := len(f.SubEvents), len(f.Orders)
	subscriptionFacts(r, f)
	for i := subs; i < len(f.SubEvents); i++ {
		e := &f.SubEvents[i]
		e.User, e.Group = b.own(e.User), strings.Clone(e.Group)
	}
	for i := orders; i < len(f.Orders); i++ {
		o := &f.Orders[i]
		o.User, o.Group = b.own(o.User), strings.Clone(o.Group)
	}
	if r.Type == event.Track && r.Event == EventGuidePlayed {
		f.GuidePlays++
	}
	if r.Type == event.Track && r.Event == TicketUpdated && len(r.Properties) > 0 {
		var t Ticket
		if json.Unmarshal(r.Properties, &t) == nil && t.ID != "" && !t.Created.IsZero() {
			if old, ok := b.tickets[t.ID]; ok {
				b.tickets[t.ID] = MergeTicket(&old, t)
			} else {
				b.tickets[t.ID] = t
			}
		}
	}
	traitChanges(r, func(id, name string, c TraitChange) {
		if f.TraitChanges[id] == nil {
			f.TraitChanges[strings.Clone(id)] = Traits{}
		}
		tr := f.TraitChanges[id]
		if _, ok := tr[name]; !ok {
			name = strings.Clone(name)
		}
		c.Value = strings.Clone(c.Value)
		tr[name] = append(tr[name], c)
	})
	if r.UserID != "" {
		i := b.id(string(r.UserID))
		b.flags[i] |= isKnown
		b.reachByID(i, b.seenMS, FirstSeen, r.Timestamp)
	}
	if r.Type == event.Track && r.User() != "" {
		user := b.own(r.User())
		switch {
		case r.Event == event.SignedUp:
			b.reach(user, SignedUp, r.Timestamp)
		case r.Event == "Onboarding Completed":
			b.reach(user, Onboarded, r.Timestamp)
		case r.Event == "Onboarding Step Completed":
			if k := stepIndex(cfg, r.Props()); k > 0 {
				b.reach(user, StepMilestone(k), r.Timestamp)
			}
		case r.Event == "Training Started" || r.Event == "Training Completed":
			if c := r.Props().Course; c != "" {
				m := TrainingStarted(c)
				if r.Event == "Training Completed" {
					m = TrainingCompleted(c)
				}
				b.reach(user, m, r.Timestamp)
			}
		}
		if b.valueEvs[r.Event] {
			b.reach(user, FirstValue, r.Timestamp)
		}
		name := ""
		if r.Event == "Feature Used" {
			name = r.Props().Feature
		} else if b.featureEvs[r.Event] {
			name = r.Event
		}
		if name != "" {
			if b.features[name] == nil {
				b.features[strings.Clone(name)] = map[string]struct{}{}
			}
			b.features[name][user] = struct{}{}
		}
	}
	if r.IsActivity() && r.UserID != "" && (len(b.activeNames) == 0 || b.activeNames[activityName(r)]) {
		i := b.id(string(r.UserID))
		b.flags[i] |= isActive
		b.reachByID(i, b.activeMS, FirstActive, r.Timestamp)
	}
	if bot {
		// Bots are out of web metrics. Their survey answers are kept: a
		// survey tool does not send a user agent.
	} else if r.Type == event.Page {
		b.flags[b.id(r.Visitor())] |= isPageVisitor
	} else if r.Type == event.Track && r.Event == cfg.ConversionEvent {
		b.flags[b.id(r.Visitor())] |= isConverted
		f.ConversionEvents++
	}
	if s, ok := r.Survey(); ok && r.User() != "" {
		resp := Response{
			Type: s.Type, SurveyID: string(s.SurveyID), Respondent: b.own(r.User()), MessageID: strings.Clone(r.MessageID),
			Time: r.Timestamp.UTC(), Score: s.Score, Channel: s.Channel, Touchpoint: s.Touchpoint, Comment: truncate(s.Comment, maxComment),
		}
		if old, ok := b.responses[resp.Key()]; !ok || resp.Newer(old) {
			b.responses[resp.Key()] = resp
		}
	}
}

// reachByID is reach for an id's FirstSeen or FirstActive of the day (ms:
// seenMS or activeMS): a time in a later millisecond than the first one
// reached cannot be earlier, and leaves the maps alone.
func (b *DayBuilder) reachByID(i uint32, ms []uint32, m Milestone, t time.Time) {
	v := uint32((t.UnixNano()-b.startNS)/int64(time.Millisecond)) + 1
	if ms[i] != 0 && v > ms[i] {
		return
	}
	b.reach(b.names[i], m, t)
	if ms[i] == 0 || v < ms[i] {
		ms[i] = v
	}
}

func (b *DayBuilder) reach(user string, m Milestone, t time.Time) {
	fs := b.f.Firsts[user]
	if fs.Reach(m, t) {
		b.f.Firsts[user] = fs
	}
}

// Facts returns the day's facts. The builder is spent.
func (b *DayBuilder) Facts() Facts {
	f := b.f
	b.sessions(&f)
	b.nextSteps(&f)
	f.KnownUsers, f.ActiveUsers, f.PageVisitors, f.ConvertedVisitors = []string{}, []string{}, []string{}, []string{}
	for i, fl := range b.flags {
		if fl&isKnown != 0 {
			f.KnownUsers = append(f.KnownUsers, b.names[i])
		}
		if fl&isActive != 0 {
			f.ActiveUsers = append(f.ActiveUsers, b.names[i])
		}
		if fl&isPageVisitor != 0 {
			f.PageVisitors = append(f.PageVisitors, b.names[i])
		}
		if fl&isConverted != 0 {
			f.ConvertedVisitors = append(f.ConvertedVisitors, b.names[i])
		}
	}
	b.flags, b.seenMS, b.activeMS = nil, nil, nil
	// The points and their indexes are done with: let them go before the
	// sets below are copied into sorted slices (the day's peak of memory).
	b.pts, b.ids, b.names, b.vhead, b.uhead, b.before, b.lastIn, b.farT, b.farSrc = pointStore{}, nil, nil, nil, nil, nil, nil, nil, nil
	b.counted, b.sources, b.devices, b.pages, b.labels, b.marks = nil, nil, nil, nil, nil, nil
	for _, byValue := range f.FirstSession {
		for _, vs := range byValue {
			slices.Sort(vs)
		}
	}
	for name, users := range b.features {
		f.Features[name] = sortedKeys(users)
	}
	slices.Sort(f.KnownUsers)
	ticketIDs := make([]string, 0, len(b.tickets))
	for id := range b.tickets {
		ticketIDs = append(ticketIDs, id)
	}
	slices.Sort(ticketIDs)
	for _, id := range ticketIDs {
		f.Tickets = append(f.Tickets, b.tickets[id])
	}
	slices.Sort(f.ActiveUsers)
	slices.Sort(f.PageVisitors)
	slices.Sort(f.ConvertedVisitors)
	for _, r := range b.responses {
		f.Responses = append(f.Responses, r)
	}
	slices.SortFunc(f.Responses, func(a, b Response) int { return strings.Compare(a.Key(), b.Key()) })
	return f
}

// list collects a linked list of points, sorted by time then hash, with
// exact repeats (same time and hash) once.
func (b *DayBuilder) list(head uint32, next func(*stored) uint32, buf []point) []point {
	buf = buf[:0]
	for i := head; i != 0; {
		buf = append(buf, b.load(i-1))
		i = next(b.pts.at(i - 1))
	}
	slices.SortFunc(buf, func(x, y point) int {
		if x.t != y.t {
			if x.t < y.t {
				return -1
			}
			return 1
		}
		return int(int64(x.h) - int64(y.h))
	})
	return slices.CompactFunc(buf, func(x, y point) bool { return x.t == y.t && x.h == y.h })
}

// sessions cuts each visitor's events into sessions by inactivity and
// counts those that start on the day, in the visitors' order (so sums of
// seconds add up in one order whatever the arrival order).
func (b *DayBuilder) sessions(f *Facts) {
	var visitors []uint32
	for v := range b.names {
		if b.lastIn[v] != minTime {
			visitors = append(visitors, uint32(v))
		}
	}
	slices.SortFunc(visitors, func(x, y uint32) int { return strings.Compare(b.names[x], b.names[y]) })
	var buf []point
	for _, v := range visitors {
		evs := b.list(b.vhead[v], func(p *stored) uint32 { return p.vnext }, buf)
		buf = evs
		first := true
		// The latest event before the day joins the first session of the
		// day when it is close enough: that session began the day before.
		prev := b.before[v]
		for i := 0; i < len(evs); {
			j, pages := i, 0
			firstPage := -1
			for {
				if evs[j].page != 0 {
					pages++
					if firstPage < 0 {
						firstPage = j
					}
				}
				if j+1 == len(evs) || evs[j+1].t-evs[j].t > b.timeout {
					break
				}
				j++
			}
			started := evs[i].t >= b.startNS && evs[i].t < b.endNS && (prev == minTime || evs[i].t-prev > b.timeout)
			if started {
				secs := time.Duration(evs[j].t - evs[i].t).Seconds()
				f.Sessions++
				f.SessionPages += pages
				f.SessionSeconds += secs
				dims := b.dims(evs[i], firstPage, evs)
				for dim, val := range dims {
					byValue := f.SessionsBy[dim]
					if byValue == nil {
						byValue = map[string]SessionStats{}
						f.SessionsBy[dim] = byValue
					}
					st := byValue[val]
					st.Sessions++
					st.Pages += pages
					st.Seconds += secs
					byValue[val] = st
				}
				if first {
					first = false
					for _, dim := range []string{DimSource, DimLandingPage} {
						if f.FirstSession[dim] == nil {
							f.FirstSession[dim] = map[string][]string{}
						}
						f.FirstSession[dim][dims[dim]] = append(f.FirstSession[dim][dims[dim]], b.names[v])
					}
				}
			}
			prev = evs[j].t
			i = j + 1
		}
	}
}

// dims are a session's values of each dimension: source and device of
// its first event, content type and path of its first page.
func (b *DayBuilder) dims(first point, firstPage int, evs []point) map[string]string {
	dims := map[string]string{
		DimSource:      sources[first.src&7],
		DimDevice:      b.devs[first.src>>3],
		DimContentType: none,
		DimLandingPage: none,
	}
	if firstPage >= 0 {
		pd := b.pageDim[evs[firstPage].page-1]
		if pd[0] != "" {
			dims[DimContentType] = pd[0]
		}
		if pd[1] != "" {
			dims[DimLandingPage] = pd[1]
		}
	}
	return dims
}

// nextSteps finds, for each user's earliest signup and step completion of
// the day, the user's next event in the window: where they went next.
func (b *DayBuilder) nextSteps(f *Facts) {
	var buf []point
	for u, ks := range b.marks {
		evs := b.list(b.uhead[u], func(p *stored) uint32 { return p.unext }, buf)
		buf = evs
		user := b.names[u]
		for k, m := range ks {
			for _, e := range evs {
				if !less(m.t, m.h, e.t, e.h) {
					continue
				}
				if l := b.labelOf[e.label]; l.isStep && l.step == k {
					continue // the same step again
				}
				if f.NextAfter[user] == nil {
					f.NextAfter[user] = map[int]Next{}
				}
				f.NextAfter[user][k] = Next{After: time.Unix(0, m.t).UTC(), Label: b.labelOf[e.label].label}
				break
			}
		}
	}
}
