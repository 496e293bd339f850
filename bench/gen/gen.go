package gen

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uptakehq/uptake/shared/event"
	"github.com/uptakehq/uptake/shared/kpi"
)

// DefaultSeed is the seed of the benchmarks' data.
const DefaultSeed = 20261014

// Population is the tenant's people. Its sizes are those of a tenant with
// a given number of events a day.
type Population struct {
	Users    []User
	Visitors []Visitor // anonymous visitors of the marketing site
	Bots     []Visitor
}

// User is a user of the product, known before the generated days.
type User struct {
	ID, Anon  string
	mobile    int8 // 0 web, 1 iOS app, 2 Android app
	ua        uint8
	plan      uint8
	company   int
	CreatedAt time.Time
}

// Visitor is an anonymous visitor (or a bot) of the marketing site.
type Visitor struct {
	Anon string
	ua   uint8
}

// NewPopulation returns the people of a tenant with eventsPerDay events
// a day: 50,000 users, 120,000 anonymous visitors and 200 bots a million
// events, users created on one of the 700 days before the day before.
func NewPopulation(seed uint64, eventsPerDay int, before kpi.Day) *Population {
	r := rand.New(rand.NewPCG(seed, 0))
	scale := float64(eventsPerDay) / 1e6
	p := &Population{
		Users:    make([]User, max(100, int(math.Round(50_000*scale)))),
		Visitors: make([]Visitor, max(240, int(math.Round(120_000*scale)))),
		Bots:     make([]Visitor, max(5, int(math.Round(200*scale)))),
	}
	for i := range p.Users {
		u := &p.Users[i]
		u.ID = "usr_" + hex16(mix(1<<40|uint64(i)))
		u.Anon = uuid(2<<40 | uint64(i))
		if x := r.Float64(); x < 0.15 {
			u.mobile = 1
		} else if x < 0.25 {
			u.mobile = 2
		}
		u.ua = uint8(r.IntN(len(browserUAs)))
		u.plan = uint8(r.IntN(len(plans)))
		u.company = r.IntN(max(10, len(p.Users)/8))
		u.CreatedAt = before.Start(time.UTC).Add(-time.Duration(1+r.IntN(700))*24*time.Hour + time.Duration(r.IntN(86400))*time.Second)
	}
	for i := range p.Visitors {
		p.Visitors[i] = Visitor{Anon: uuid(3<<40 | uint64(i)), ua: uint8(r.IntN(len(browserUAs)))}
	}
	for i := range p.Bots {
		p.Bots[i] = Visitor{Anon: uuid(4<<40 | uint64(i)), ua: uint8(r.IntN(len(botUAs)))}
	}
	return p
}

// NewUserID is the userId a visitor gets when it signs up.
func NewUserID(visitor int32) string { return "usr_" + hex16(mix(5<<40|uint64(visitor))) }

// Config says what to generate.
type Config struct {
	Seed       uint64
	Population *Population
	// Start is the first day; PerDay[i] is the number of events of the
	// sessions that start on day Start+i (UTC). A session that starts
	// late may end after midnight: its last events fall on the next day.
	Start  kpi.Day
	PerDay []int
	// ReceivedAt, when set, is the arrival time of every request;
	// otherwise a request arrives two seconds after its last event.
	ReceivedAt time.Time
}

// File is one ingest request's messages of one UTC day, as ingest stores
// them (event.Parse's lines), in the order they were sent.
type File struct {
	Day        kpi.Day
	ReceivedAt time.Time
	Lines      [][]byte
}

// renderBatch is how many requests are rendered at once: the memory a
// run holds besides its days' generated events.
const renderBatch = 2048

// Generate generates the configured days and calls emit with each file,
// in arrival order: requests of 60 to 140 messages in timestamp order,
// each split by UTC day. The same configuration gives the same files.
func Generate(cfg Config, emit func(File) error) error {
	pop := cfg.Population
	chunks := rand.New(rand.NewPCG(cfg.Seed, 99))
	var (
		pending []genEvent // generated, not yet sent: sorted
		seq     uint32
		nextK   int // the size of the next request, once drawn
	)
	for i, m := range cfg.PerDay {
		d := cfg.Start.AddDays(i)
		pending = genDay(rand.New(rand.NewPCG(cfg.Seed, uint64(i+1))), pop, d, m, &seq, pending)
		slices.SortFunc(pending, func(a, b genEvent) int {
			return cmp.Or(cmp.Compare(a.ts, b.ts), cmp.Compare(a.seq, b.seq))
		})
		// Later days' sessions start after midnight: the events before
		// it are all known.
		last := i == len(cfg.PerDay)-1
		ready := len(pending)
		if !last {
			cutoff := d.AddDays(1).Start(time.UTC).UnixMilli()
			ready, _ = slices.BinarySearchFunc(pending, cutoff, func(e genEvent, t int64) int { return cmp.Compare(e.ts, t) })
		}
		var reqs [][]genEvent
		pos := 0
		for pos < ready {
			if nextK == 0 {
				nextK = 60 + chunks.IntN(81)
			}
			if pos+nextK > ready && !last {
				break
			}
			k := min(nextK, ready-pos)
			reqs = append(reqs, pending[pos:pos+k])
			pos += k
			nextK = 0
		}
		for len(reqs) > 0 {
			n := min(len(reqs), renderBatch)
			if err := render(cfg, reqs[:n], emit); err != nil {
				return err
			}
			reqs = reqs[n:]
		}
		pending = slices.Clone(pending[pos:])
	}
	return nil
}

// render renders, parses and groups requests in parallel, and emits their
// files in order.
func render(cfg Config, reqs [][]genEvent, emit func(File) error) error {
	out := make([][]File, len(reqs))
	errs := make([]error, len(reqs))
	next := atomic.Int64{}
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(reqs); i = int(next.Add(1) - 1) {
				at := cfg.ReceivedAt
				if at.IsZero() {
					at = time.UnixMilli(reqs[i][len(reqs[i])-1].ts).UTC().Add(2 * time.Second)
				}
				var files []File
				for _, e := range reqs[i] {
					msg := renderEvent(cfg.Seed, cfg.Population, e)
					// json.Marshal wrote msg: valid UTF-8 and JSON, as Checked says.
					p, err := event.Parse(msg, event.Arrival{ReceivedAt: at, Checked: true})
					if err != nil {
						errs[i] = fmt.Errorf("generated message rejected: %v\n%s", err, msg)
						break
					}
					d := kpi.DayOf(p.Record.Timestamp, time.UTC)
					j := slices.IndexFunc(files, func(f File) bool { return f.Day.Equal(d) })
					if j < 0 {
						j = len(files)
						files = append(files, File{Day: d, ReceivedAt: at})
					}
					files[j].Lines = append(files[j].Lines, p.Line)
				}
				slices.SortFunc(files, func(a, b File) int { return cmp.Compare(a.Day.String(), b.Day.String()) })
				out[i] = files
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	for _, files := range out {
		for _, f := range files {
			if err := emit(f); err != nil {
				return err
			}
		}
	}
	return nil
}

// A genEvent is one message before rendering, small enough to hold and
// sort a whole day.
type genEvent struct {
	ts    int64  // unix milliseconds
	seq   uint32 // message number, unique in the data set
	actor int32  // index in the population's users, visitors or bots
	class uint8  // classUser, classVisitor, classBot
	kind  uint8  // kPage ... kTicket
	item  uint16 // page, screen or event index; the survey score; the step
	page  uint16 // the page the event happens on (web)
	prev  uint16 // the previous page, the referrer of an inner page
	src   uint8  // the landing's traffic source (first page of a session), 0 if none
	// ref is the seq of the event that opened a ticket; created, its time.
	ref     uint32
	created int64
}

const (
	classUser = iota
	classVisitor
	classBot
)

const (
	kPage = iota
	kScreen
	kTrack
	kIdentify
	kSurvey // NPS
	kSignup
	kCSAT
	kStep    // Onboarding Step Completed, step item
	kTrial   // Trial Started
	kSub     // Subscription Started, Renewed or Cancelled (item 0, 1, 2)
	kTicket  // Ticket Updated: opened (item 0) or solved (item 1)
	numKinds // the number of kinds
)

// Onboarding: the share of a signup's users who complete each step,
// given the previous one.
var stepRates = [...]float64{0.85, 0.7, 0.6, 0.5}

// StepNames are the onboarding steps, in order.
var StepNames = [...]string{"create_project", "install_snippet", "invite_team", "first_report"}

// genDay appends m events of sessions starting on day d: 1% from bots
// crawling the site, the rest from users of the product (web and apps) and
// anonymous visitors of the marketing site, more of them in the afternoon
// (UTC) than at night. A session that starts late may end after midnight.
// Signups go through onboarding steps and some start a trial; some users'
// sessions answer a survey (NPS or CSAT), open a support ticket (solved
// hours later for most) or change their subscription.
func genDay(r *rand.Rand, pop *Population, d kpi.Day, m int, seq *uint32, evs []genEvent) []genEvent {
	dayStart := d.Start(time.UTC).UnixMilli()
	add := func(e genEvent) {
		e.seq = *seq
		*seq++
		evs = append(evs, e)
	}
	startLen := len(evs)
	room := func() int { return startLen + m - len(evs) }

	// Bots: crawls of 10 to 40 pages, a few seconds apart, at any hour.
	botRoom := m / 100
	for botRoom > 0 {
		bot := int32(r.IntN(len(pop.Bots)))
		ts := dayStart + r.Int64N(86_400_000)
		for k := min(botRoom, 10+r.IntN(31)); k > 0; k-- {
			add(genEvent{ts: ts, actor: bot, class: classBot, kind: kPage, page: uint16(r.IntN(len(sitePages)))})
			ts += 1000 + r.Int64N(7000)
			botRoom--
		}
	}

	for room() > 0 {
		ts := dayStart + diurnal(r)
		gap := func() {
			if r.Float64() < 0.015 {
				ts += (31 + r.Int64N(90)) * 60_000 // a break: a new session
			} else {
				ts += 2000 + int64(r.ExpFloat64()*40_000)
			}
		}
		if r.Float64() < 0.42 {
			// A user of the product: half the sessions from a core of
			// daily users, the rest from anyone.
			var u int32
			if r.Float64() < 0.5 {
				u = int32(r.IntN(max(1, len(pop.Users)/10)))
			} else {
				u = int32(r.IntN(len(pop.Users)))
			}
			mobile := pop.Users[u].mobile != 0
			k := min(room(), 2+int(r.ExpFloat64()*12))
			page := uint16(r.IntN(len(appPages)))
			survey, extra := -1, -1
			if r.Float64() < 0.025 {
				survey = r.IntN(k)
			}
			if r.Float64() < 0.01 {
				extra = r.IntN(k)
			}
			for j := range k {
				e := genEvent{ts: ts, actor: u, class: classUser, page: page}
				switch {
				case j == 0 && r.Float64() < 0.3:
					e.kind = kIdentify
				case j == survey && r.Float64() < 0.75:
					e.kind, e.item = kSurvey, npsScore(r)
				case j == survey:
					e.kind, e.item = kCSAT, uint16(1+pick(r, csatWeights))
				case j == extra && r.Float64() < 0.4:
					// A support ticket, solved hours later for most.
					e.kind, e.ref, e.created = kTicket, *seq, ts
					if r.Float64() < 0.8 {
						solved := e
						solved.ts, solved.item = ts+int64(1+r.IntN(8*60))*60_000, 1
						add(e)
						e = solved
					}
				case j == extra:
					e.kind, e.item = kSub, uint16(pick(r, subKinds))
				case mobile && r.Float64() < 0.55:
					e.kind, e.item = kScreen, uint16(r.IntN(len(appScreens)))
				case !mobile && r.Float64() < 0.5:
					e.kind, e.prev = kPage, page
					page = uint16(r.IntN(len(appPages)))
					e.page = page
				default:
					e.kind, e.item = kTrack, pick(r, userEvents)
				}
				add(e)
				gap()
			}
			continue
		}
		// An anonymous visitor of the marketing site; some sign up, go
		// through onboarding and start a trial.
		v := int32(r.IntN(len(pop.Visitors)))
		k := min(room(), 1+int(r.ExpFloat64()*2.5))
		page := landingPage(r)
		src := uint8(1 + pick(r, sources))
		signup := r.Float64() < 0.04 && k >= 2
		for j := range k {
			e := genEvent{ts: ts, actor: v, class: classVisitor, page: page}
			switch {
			case j == 0:
				e.kind, e.src = kPage, src
			case signup && j == k-1:
				e.kind = kSignup
			case r.Float64() < 0.8:
				e.kind, e.prev = kPage, page
				page = uint16(r.IntN(len(sitePages)))
				e.page = page
			default:
				e.kind, e.item = kTrack, pick(r, siteEvents)
			}
			add(e)
			gap()
		}
		if !signup {
			continue
		}
		for step, rate := range stepRates {
			if room() == 0 || r.Float64() >= rate {
				break
			}
			ts += 20_000 + r.Int64N(100_000)
			add(genEvent{ts: ts, actor: v, class: classVisitor, kind: kStep, item: uint16(step + 1), page: page})
		}
		if room() > 0 && r.Float64() < 0.35 {
			ts += 5_000 + r.Int64N(30_000)
			add(genEvent{ts: ts, actor: v, class: classVisitor, kind: kTrial, page: page})
		}
	}
	return evs
}

var csatWeights = []weighted{{"1", 4}, {"2", 6}, {"3", 15}, {"4", 35}, {"5", 40}}

var subKinds = []weighted{{"Subscription Started", 50}, {"Subscription Renewed", 35}, {"Subscription Cancelled", 15}}

// Gzip is the file as rawstore.Put stores it: one gzip stream of
// newline-terminated lines.
func (f File) Gzip() ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	for _, l := range f.Lines {
		zw.Write(l)
		zw.Write([]byte{'\n'})
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
