//go:build linux

package main

import (
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/udsgate/udsgate/bench"
)

// chartSeries is one line of a latency chart.
type chartSeries struct {
	name string
	res  *bench.Result
}

// chartPercentiles are the points of each line. The x axis counts nines,
// -log10(1 - p/100), so that p50, p90, p99, p99.9 and p99.99 are evenly
// spaced and the tail gets as much room as the median.
var chartPercentiles = []float64{50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99}

func nines(p float64) float64 { return -math.Log10(1 - p/100) }

// latencyChart draws latency percentiles, one line per series, as a PNG.
func latencyChart(path, title string, series []chartSeries) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "percentile"
	p.Y.Label.Text = "round trip, µs (log scale)"
	// A log scale keeps the medians apart while the tail, ten or a hundred
	// times higher, still fits.
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.TickerFunc(ticks125)
	var ticks []plot.Tick
	for _, q := range []float64{50, 90, 99, 99.9, 99.99} {
		ticks = append(ticks, plot.Tick{Value: nines(q), Label: fmt.Sprintf("p%g", q)})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.X.Min, p.X.Max = nines(50), nines(99.99)
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.TextStyle.Font.Size = vg.Points(10)
	// A log scale has no room for zero: a series without samples is left out.
	var drawn []chartSeries
	for _, s := range series {
		if s.res.Percentile(chartPercentiles[0]) > 0 {
			drawn = append(drawn, s)
		}
	}
	series = drawn
	for i, s := range series {
		pts := make(plotter.XYs, len(chartPercentiles))
		for j, q := range chartPercentiles {
			pts[j].X = nines(q)
			pts[j].Y = us(s.res.Percentile(q))
		}
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			return err
		}
		line.Color = plotutil.Color(i)
		line.Width = vg.Points(1.5)
		points.Color = plotutil.Color(i)
		points.Shape = draw.CircleGlyph{}
		points.Radius = vg.Points(2.5)
		p.Add(line, points)
		p.Legend.Add(fmt.Sprintf("%s (p50 %.1f µs)", s.name, us(s.res.Latency.P50)), line, points)
	}
	lo, hi := math.Inf(1), 0.0
	for _, s := range series {
		lo = min(lo, us(s.res.Percentile(chartPercentiles[0])))
		hi = max(hi, us(s.res.Percentile(chartPercentiles[len(chartPercentiles)-1])))
	}
	if len(series) > 0 && lo > 0 {
		// Room above the top line for the legend.
		p.Y.Min, p.Y.Max = lo/1.5, hi*3
	}
	return p.Save(8*vg.Inch, 5*vg.Inch, path)
}

// ticks125 labels a log axis at 1, 2 and 5 times each power of ten, with
// unlabelled ticks at the other digits.
func ticks125(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for dec := math.Pow10(int(math.Floor(math.Log10(lo)))); dec <= hi; dec *= 10 {
		for d := 1.0; d < 10; d++ {
			v := d * dec
			if v < lo || v > hi {
				continue
			}
			t := plot.Tick{Value: v}
			if d == 1 || d == 2 || d == 5 {
				t.Label = fmt.Sprintf("%g", v)
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
}
