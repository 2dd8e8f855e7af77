package main

import (
	"bufio"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ArchiveLag is how long messages took from their ts to SQL over a whole
// run (every step of the ladder), from the nodes' own histograms
// (webchat_archive_lag_seconds), summed over the nodes.
type ArchiveLag struct {
	Messages int64   `json:"messages"`
	P99      float64 `json:"p99_s"` // the upper bound of the bucket holding the 99th percentile
	Max      float64 `json:"max_bucket_s"`
}

// scrapeArchiveLag reads the histogram from every node; nil if none has it.
func scrapeArchiveLag(urls []string) *ArchiveLag {
	buckets := map[float64]int64{}
	var total int64
	hc := &http.Client{Timeout: 5 * time.Second}
	for _, u := range urls {
		resp, err := hc.Get(u + "/metrics")
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			line := sc.Text()
			rest, ok := strings.CutPrefix(line, `webchat_archive_lag_seconds_bucket{le="`)
			if !ok {
				if v, ok := strings.CutPrefix(line, "webchat_archive_lag_seconds_count "); ok {
					n, _ := strconv.ParseFloat(v, 64)
					total += int64(n)
				}
				continue
			}
			le, val, ok := strings.Cut(rest, `"} `)
			if !ok {
				continue
			}
			b, err1 := strconv.ParseFloat(le, 64) // +Inf parses too
			n, err2 := strconv.ParseFloat(val, 64)
			if err1 == nil && err2 == nil {
				buckets[b] += int64(n)
			}
		}
		resp.Body.Close()
	}
	if total == 0 {
		return nil
	}
	les := make([]float64, 0, len(buckets))
	for b := range buckets {
		les = append(les, b)
	}
	sort.Float64s(les)
	lag := &ArchiveLag{Messages: total}
	for _, b := range les { // cumulative counts
		if lag.P99 == 0 && float64(buckets[b]) >= 0.99*float64(total) {
			lag.P99 = b
		}
		if lag.Max == 0 && buckets[b] >= total {
			lag.Max = b // the bucket holding the slowest
		}
	}
	return lag
}
