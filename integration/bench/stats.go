package main

import (
	"math"
	"slices"
	"time"
)

// Dist summarises one series of latency samples, in milliseconds.
type Dist struct {
	N       int       `json:"n"`
	Median  float64   `json:"median_ms"`
	P90     float64   `json:"p90_ms"`
	P99     float64   `json:"p99_ms"`
	Min     float64   `json:"min_ms"`
	Max     float64   `json:"max_ms"`
	Mean    float64   `json:"mean_ms"`
	Samples []float64 `json:"samples_ms"` // in the order they were taken
}

// newDist summarises samples (taken in this order).
func newDist(samples []time.Duration) Dist {
	d := Dist{N: len(samples), Samples: make([]float64, len(samples))}
	if len(samples) == 0 {
		return d
	}
	var sum float64
	for i, s := range samples {
		d.Samples[i] = round3(ms(s))
		sum += ms(s)
	}
	sorted := slices.Clone(d.Samples)
	slices.Sort(sorted)
	d.Median = round3(quantile(sorted, 0.50))
	d.P90 = round3(quantile(sorted, 0.90))
	d.P99 = round3(quantile(sorted, 0.99))
	d.Min, d.Max = sorted[0], sorted[len(sorted)-1]
	d.Mean = round3(sum / float64(len(samples)))
	return d
}

// quantile is the q-quantile of sorted data, interpolated linearly between
// the two closest ranks (type 7 of Hyndman and Fan, numpy's default).
func quantile(sorted []float64, q float64) float64 {
	n := len(sorted)
	switch {
	case n == 0:
		return math.NaN()
	case n == 1:
		return sorted[0]
	}
	h := q * float64(n-1)
	lo := int(math.Floor(h))
	if lo >= n-1 {
		return sorted[n-1]
	}
	return sorted[lo] + (h-float64(lo))*(sorted[lo+1]-sorted[lo])
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
