package kpi

import (
	"net/url"
	"strings"
)

// Traffic sources of a session.
const (
	SourcePaid     = "paid"
	SourceEmail    = "email"
	SourceSocial   = "social"
	SourceOrganic  = "organic"
	SourceReferral = "referral"
	SourceDirect   = "direct"
	// SourceCampaign is a tagged campaign whose medium says none of the
	// above (affiliate, partner, …).
	SourceCampaign = "campaign"
)

var paidMediums = map[string]bool{"cpc": true, "ppc": true, "paid": true, "display": true, "cpm": true, "paidsearch": true, "paid_search": true, "paid-search": true, "paid_social": true, "paid-social": true, "paidsocial": true}

// searchEngines and socialSites are matched against the referrer host and
// its parent domains, with the TLD left out for the search engines that
// have one per country.
var searchEngines = []string{"google.", "bing.com", "yahoo.", "duckduckgo.com", "baidu.com", "yandex.", "ecosia.org", "ask.com", "naver.com", "search.brave.com", "startpage.com", "qwant.com", "seznam.cz", "sogou.com"}

var socialSites = []string{"facebook.com", "fb.com", "t.co", "twitter.com", "x.com", "linkedin.com", "lnkd.in", "instagram.com", "reddit.com", "youtube.com", "pinterest.", "tiktok.com", "threads.net", "mastodon.social", "news.ycombinator.com", "quora.com", "weibo.com", "vk.com"}

// TrafficSource classifies a session by its first event, per kpis.md:
// campaign source/medium when set; else the referrer's host (search
// engine → organic, social site → social, another site → referral); no
// referrer, or one from the same site, → direct.
func TrafficSource(campaignSource, campaignMedium, referrer, pageURL string) string {
	medium := strings.ToLower(strings.TrimSpace(campaignMedium))
	switch {
	case paidMediums[medium]:
		return SourcePaid
	case medium == "email" || medium == "e-mail" || medium == "newsletter":
		return SourceEmail
	case medium == "social" || medium == "social-media" || medium == "social_media":
		return SourceSocial
	case medium == "organic":
		return SourceOrganic
	case medium != "" || strings.TrimSpace(campaignSource) != "":
		if medium == "referral" {
			return SourceReferral
		}
		return SourceCampaign
	}
	host := hostOf(referrer)
	if host == "" || host == hostOf(pageURL) {
		return SourceDirect
	}
	if matchHost(host, searchEngines) {
		return SourceOrganic
	}
	if matchHost(host, socialSites) {
		return SourceSocial
	}
	return SourceReferral
}

func hostOf(raw string) string {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return ""
	}
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return strings.TrimPrefix(strings.ToLower(u.Hostname()), "www.")
}

// matchHost reports whether host is one of the sites, or a subdomain of
// one; a site ending in "." matches any TLD ("google." matches google.de
// and google.co.uk).
func matchHost(host string, sites []string) bool {
	for _, s := range sites {
		if strings.HasSuffix(s, ".") {
			for h := host; h != ""; {
				if strings.HasPrefix(h, s) {
					return true
				}
				_, rest, ok := strings.Cut(h, ".")
				if !ok {
					break
				}
				h = rest
			}
			continue
		}
		if host == s || strings.HasSuffix(host, "."+s) {
			return true
		}
	}
	return false
}

// Device classifies the device of an event: the `context.device.type` a
// library sends, else a guess from the user agent; app events without
// either are "mobile" when they come from a screen call.
func Device(deviceType, userAgent, eventType string) string {
	switch t := strings.ToLower(strings.TrimSpace(deviceType)); t {
	case "":
	case "ios", "android", "phone", "mobile", "smartphone":
		return "mobile"
	case "ipad", "tablet":
		return "tablet"
	default:
		return t
	}
	ua := strings.ToLower(userAgent)
	switch {
	case strings.Contains(ua, "ipad") || strings.Contains(ua, "tablet"):
		return "tablet"
	case strings.Contains(ua, "mobi") || strings.Contains(ua, "iphone") || strings.Contains(ua, "android"):
		return "mobile"
	case ua != "":
		return "desktop"
	case eventType == "screen":
		return "mobile"
	}
	return "unknown"
}
