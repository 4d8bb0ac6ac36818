package main

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// chart draws the latency distributions as an SVG ridgeline: one row per
// series, a histogram of its samples on a logarithmic time axis, ticks at
// the median, p90 and p99, and a red line where the series' budget lies.
// Hand-written SVG: no dependencies, and small enough for the serial
// console.
func chart(r *Report) []byte {
	type row struct {
		label  string
		d      Dist
		color  string
		budget float64 // 0: none
	}
	budgets := map[string]float64{}
	for _, b := range r.Budgets {
		if b.Unit == "ms" {
			budgets[budgetSeries(b.Name)] = b.Limit
		}
	}
	var rows []row
	for _, s := range series {
		d, ok := r.Latency[s.key]
		if !ok || d.N == 0 {
			continue
		}
		color := "#5b7fa6"                           // floors
		plugin := strings.TrimSuffix(s.key, "_exec") // its exec inside the call
		switch {
		case strings.HasPrefix(s.key, "exec_"):
		case strings.HasSuffix(plugin, "_pod"):
			color = "#3f9b5a"
		case strings.HasSuffix(plugin, "_host"):
			color = "#d98a2b"
		}
		rows = append(rows, row{label: s.label, d: d, color: color, budget: budgets[s.key]})
	}
	for _, x := range extraRows(r) {
		rows = append(rows, row{label: x.label, d: x.d, color: "#b0643a"})
	}

	lo, hi := math.Inf(1), math.Inf(-1)
	for _, rw := range rows {
		lo, hi = math.Min(lo, rw.d.Min), math.Max(hi, rw.d.Max)
		if rw.budget > 0 {
			lo, hi = math.Min(lo, rw.budget), math.Max(hi, rw.budget)
		}
	}
	if len(rows) == 0 || lo <= 0 || math.IsInf(lo, 0) {
		lo, hi = 1, 10
	}
	lo, hi = niceBelow(lo), niceAbove(hi)

	const (
		width    = 980
		left     = 250
		plotW    = 500
		rowH     = 44
		top      = 84
		bins     = 100
		ridgeMax = 34
	)
	height := top + len(rows)*rowH + 100
	x := func(v float64) float64 {
		return left + plotW*(math.Log10(v)-math.Log10(lo))/(math.Log10(hi)-math.Log10(lo))
	}

	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="DejaVu Sans,Verdana,sans-serif" font-size="12">
<rect width="100%%" height="100%%" fill="#fff"/>
<text x="12" y="22" font-size="15" font-weight="bold">bond CNI plugin: latency distributions (ms, log scale)</text>
`, width, height, width, height)
	for i, line := range subtitle(r) {
		fmt.Fprintf(&b, `<text x="12" y="%d" fill="#555" font-size="11">%s</text>`+"\n", 40+15*i, html.EscapeString(line))
	}
	// Grid and axis.
	axisY := top + len(rows)*rowH + 6
	for _, t := range ticks(lo, hi) {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#e3e3e3"/>`+"\n", x(t), top-6, x(t), axisY)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#444">%s</text>`+"\n", x(t), axisY+16, fmtTick(t))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" fill="#444">milliseconds (wall, exec to reaped exit)</text>`+"\n", left+plotW/2, axisY+34)
	fmt.Fprintf(&b, `<text x="12" y="%d" fill="#444">black ticks: median (solid), p90 (dashed), p99 (dotted).  <tspan fill="#c0392b">red: the budget</tspan>, from this run's medians:</text>`+"\n", axisY+54)
	fmt.Fprintf(&b, `<text x="12" y="%d" fill="#444">ADD ≤ %.1f × (hello-world + IPAM ADD), DEL ≤ %.1f × (hello-world + IPAM DEL), bond VERSION ≤ %.1f × hello-world,</text>`+"\n",
		axisY+70, verbFactor, verbFactor, versionFactor)
	fmt.Fprintf(&b, `<text x="12" y="%d" fill="#444">each against the cold execs sampled in the same phase (exec X | phase).</text>`+"\n", axisY+86)

	for i, rw := range rows {
		base := float64(top + (i+1)*rowH - 6)
		fmt.Fprintf(&b, `<text x="12" y="%.1f" xml:space="preserve" font-family="DejaVu Sans Mono,monospace" font-size="11.5">%s</text>`+"\n", base-8, html.EscapeString(rw.label))
		// Histogram over log-spaced bins, scaled to the row's own peak.
		counts := make([]int, bins)
		peak := 0
		for _, s := range rw.d.Samples {
			if s <= 0 {
				continue
			}
			k := int(float64(bins) * (math.Log10(s) - math.Log10(lo)) / (math.Log10(hi) - math.Log10(lo)))
			k = min(max(k, 0), bins-1)
			counts[k]++
			peak = max(peak, counts[k])
		}
		var p strings.Builder
		fmt.Fprintf(&p, "M%d %.1f", left, base)
		for k, c := range counts {
			h := 0.0
			if c > 0 {
				h = math.Max(1.5, ridgeMax*float64(c)/float64(peak))
			}
			x0 := left + plotW*float64(k)/bins
			x1 := left + plotW*float64(k+1)/bins
			fmt.Fprintf(&p, "L%.1f %.1fL%.1f %.1f", x0, base-h, x1, base-h)
		}
		fmt.Fprintf(&p, "L%d %.1fZ", left+plotW, base)
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#bbb"/>`+"\n", left, base, left+plotW, base)
		fmt.Fprintf(&b, `<path d="%s" fill="%s" fill-opacity="0.55" stroke="%s" stroke-width="0.8"/>`+"\n", p.String(), rw.color, rw.color)
		tick := func(v float64, dash string, w float64) {
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#222" stroke-width="%.1f"%s/>`+"\n", x(v), base+3, x(v), base-ridgeMax-3, w, dash)
		}
		tick(rw.d.Median, "", 2)
		tick(rw.d.P90, ` stroke-dasharray="3 2"`, 1)
		tick(rw.d.P99, ` stroke-dasharray="1 2"`, 1)
		if rw.budget > 0 {
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#c0392b" stroke-width="2"/>`+"\n", x(rw.budget), base+4, x(rw.budget), base-ridgeMax-4)
		}
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" font-family="DejaVu Sans Mono,monospace" font-size="11.5" fill="#333">med %s  p90 %s  p99 %s</text>`+"\n",
			left+plotW+14, base-8, fmtMs(rw.d.Median), fmtMs(rw.d.P90), fmtMs(rw.d.P99))
	}
	b.WriteString("</svg>\n")
	return []byte(b.String())
}

// budgetSeries names the series a latency budget limits.
func budgetSeries(name string) string {
	switch {
	case strings.HasPrefix(name, "cold bond VERSION"):
		return "exec_version"
	case strings.HasPrefix(name, "ADD median, 2 veths"):
		return "add_pod"
	case strings.HasPrefix(name, "DEL median, 2 veths"):
		return "del_pod"
	case strings.HasPrefix(name, "ADD median, 2 host"):
		return "add_host"
	case strings.HasPrefix(name, "DEL median, 2 host"):
		return "del_host"
	}
	return ""
}

func subtitle(r *Report) []string {
	m := r.Machine
	guest := fmt.Sprintf("guest Linux %s, %d vCPU", m.GuestKernel, m.GuestCPUs)
	if m.Host != "" {
		guest += "; host " + m.Host
	}
	return []string{
		fmt.Sprintf("%s · %d pods with 2 veths in the pod · %d rounds with the 2 virtio host NICs · libcni, static IPAM",
			r.Started, r.Params.Pods, r.Params.HostRounds),
		guest,
	}
}

// niceBelow and niceAbove round to the 1-2-5 sequence.
func niceBelow(v float64) float64 {
	e := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{5, 2, 1} {
		if m*e <= v {
			return m * e
		}
	}
	return e
}

func niceAbove(v float64) float64 {
	e := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*e >= v*(1-1e-9) {
			return m * e
		}
	}
	return 10 * e
}

// ticks are the 1-2-5 values from lo to hi.
func ticks(lo, hi float64) []float64 {
	var out []float64
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if v >= lo*(1-1e-9) && v <= hi*(1+1e-9) {
				out = append(out, v)
			}
		}
	}
	return out
}

func fmtTick(v float64) string {
	if v >= 1 {
		return fmt.Sprintf("%g", math.Round(v))
	}
	return fmt.Sprintf("%g", v)
}

func fmtMs(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%5.0f", v)
	case v >= 10:
		return fmt.Sprintf("%5.1f", v)
	}
	return fmt.Sprintf("%5.2f", v)
}
