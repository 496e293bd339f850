package admin_test

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/uptakehq/uptake/shared/admin"
	"github.com/uptakehq/uptake/shared/apierr"
	"github.com/uptakehq/uptake/shared/kpi"
)

// recordingConfigs keeps what PutConfig stores.
type recordingConfigs struct{ puts []kpi.Config }

func (r *recordingConfigs) Config(context.Context, string) (kpi.Config, error) {
	return kpi.DefaultConfig(), nil
}

func (r *recordingConfigs) PutConfig(_ context.Context, _ string, cfg kpi.Config) error {
	r.puts = append(r.puts, cfg)
	return nil
}

// FuzzConfigBody sends arbitrary bodies to PutConfig: no panic, and either
// exactly one configuration that Validate accepts is stored (and stores
// again unchanged from its own JSON), or a 4xx *apierr.Error comes back
// and nothing is stored.
func FuzzConfigBody(f *testing.F) {
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"timezone":"Europe/Lisbon","session_timeout_minutes":45,"conversion_event":"Trial Started","active_events":["Report Viewed","Dashboard"],"feature_events":["Export CSV"],"onboarding_steps":["connect","invite","first_report"],"onboarding_window_days":14,"value_events":["First Report"],"csat_scale_min":1,"csat_scale_max":7,"ces_scale_min":1,"ces_scale_max":7,"ces_higher_is_easier":false,"escalation_tag":"vip","trial_conversion_days":14,"renewal_term_days":30,"alert_url":"https://hooks.slack.com/services/T/B/X"}`))
	f.Add([]byte(`{"business_hours":{"timezone":"America/New_York","week":{"mon":["09:00","17:00"],"tue":["09:00","17:00"],"fri":["00:00","24:00"]},"holidays":["2026-11-26"]},"health_weights":{"engagement":0.4,"onboarding":0.2,"nps":0.2,"tickets":0.2}}`))
	f.Add([]byte(`{"alert_url":"http://127.0.0.1:9000/hook"}`))
	f.Add([]byte(`{"timezone":"Local"}`))
	f.Add([]byte(`{"timezone":"Mars/Olympus"}`))
	f.Add([]byte(`{"session_timeout_minutes":0,"csat_scale_min":5,"csat_scale_max":6}`))
	f.Add([]byte(`{"value_events":[]}`))
	f.Add([]byte(`{"value_events":null,"feature_events":null}`))
	f.Add([]byte(`{"business_hours":{"timezone":"UTC","week":{"mon":["17:00","09:00"],"xyz":["09:00","10:00"]},"holidays":["2026-13-01"]}}`))
	f.Add([]byte(`{"health_weights":{"engagement":-1,"onboarding":1e308,"nps":0,"tickets":0}}`))
	f.Add([]byte(`{"unknown":1}`))
	f.Add([]byte(`{"timezone":"UTC"} {"timezone":"UTC"}`))
	f.Add([]byte(`{"session_timeout_minutes":"30"}`))
	f.Add([]byte(`{"session_timeout_minutes":1e3}`))
	f.Add([]byte(`[1,2]`))
	f.Add([]byte(`null`))
	f.Add([]byte(``))
	f.Add([]byte(`{"timezone":`))
	f.Fuzz(func(t *testing.T, body []byte) {
		store := &recordingConfigs{}
		s := &admin.Service{Configs: store}
		cfg, err := s.PutConfig(context.Background(), "t_fuzz", body)
		if err != nil {
			e, ok := apierr.As(err)
			if !ok {
				t.Fatalf("%q: error %v (%T) is not an *apierr.Error: it would be a 500", body, err, err)
			}
			if st := apierr.Status(e.Code); st < 400 || st >= 500 {
				t.Fatalf("%q: error %v has status %d", body, err, st)
			}
			if len(store.puts) != 0 {
				t.Fatalf("%q: rejected (%v), but %d configurations were stored", body, err, len(store.puts))
			}
			return
		}
		if len(store.puts) != 1 {
			t.Fatalf("%q: accepted, but %d configurations were stored", body, len(store.puts))
		}
		stored := store.puts[0]
		if !reflect.DeepEqual(stored, cfg) {
			t.Fatalf("%q: stored %+v, answered %+v", body, stored, cfg)
		}
		if err := stored.Validate(); err != nil {
			t.Fatalf("%q: stored a configuration Validate rejects: %v", body, err)
		}
		// What GET /v1/config answers can be PUT back unchanged.
		again, err := json.Marshal(stored)
		if err != nil {
			t.Fatalf("stored configuration does not encode: %v", err)
		}
		cfg2, err := s.PutConfig(context.Background(), "t_fuzz", again)
		if err != nil {
			t.Fatalf("%q: its stored configuration %s is rejected when sent back: %v", body, again, err)
		}
		if !reflect.DeepEqual(cfg2, stored) {
			t.Fatalf("%q: sending back %s stores %+v, not %+v", body, again, cfg2, stored)
		}
	})
}
