package main

import (
	"fmt"
	"image/color"
	"math"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// writePlot draws, side by side, latency over time (p50, p99 and max of
// every second, steps one after the other) and the latency distribution of
// every step (percentile on a log scale of 1/(1−q)).
func writePlot(path string, r *Result) error {
	title := fmt.Sprintf("%s %s, %d users", r.Config.Target, r.Config.Scenario, r.Config.Users)

	overTime := plot.New()
	overTime.Title.Text = title + ": latency over time"
	overTime.X.Label.Text = "seconds"
	overTime.Y.Label.Text = "send → receive, ms"
	overTime.Y.Scale = plot.LogScale{}
	overTime.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	var p50, p99, pmax plotter.XYs
	offset := 0.0
	for _, s := range r.Steps {
		for _, sec := range s.Timeline {
			x := offset + float64(sec.T) + 0.5
			if sec.P50 > 0 {
				p50 = append(p50, plotter.XY{X: x, Y: sec.P50})
				p99 = append(p99, plotter.XY{X: x, Y: sec.P99})
				pmax = append(pmax, plotter.XY{X: x, Y: sec.Max})
			}
		}
		offset += math.Ceil(s.Seconds + s.DrainSeconds)
	}
	if len(p50) == 0 {
		p50 = plotter.XYs{{X: 0, Y: 1}}
		p99, pmax = p50, p50
	}
	if err := plotutil.AddLines(overTime, "p50", p50, "p99", p99, "max", pmax); err != nil {
		return err
	}
	overTime.Legend.Top = true

	dist := plot.New()
	dist.Title.Text = "latency distribution"
	dist.X.Label.Text = "percentile"
	dist.Y.Label.Text = "ms"
	dist.Y.Scale = plot.LogScale{}
	dist.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	dist.X.Tick.Marker = plot.ConstantTicks{
		{Value: 0, Label: "0"}, {Value: 1, Label: "90"}, {Value: 2, Label: "99"}, {Value: 3, Label: "99.9"}, {Value: 4, Label: "99.99"}, {Value: 5, Label: ""},
	}
	var lines []any
	for _, s := range r.Steps {
		h, err := decodeHist(s.Hist)
		if err != nil || h.TotalCount() == 0 {
			continue
		}
		var xy plotter.XYs
		for x := 0.0; x <= 5.0001; x += 0.05 {
			q := 100 * (1 - math.Pow(10, -x))
			v := float64(h.ValueAtQuantile(q)) / 1000
			if v <= 0 {
				v = 0.001
			}
			xy = append(xy, plotter.XY{X: x, Y: v})
		}
		lines = append(lines, fmt.Sprintf("%g/s", s.Rate), xy)
	}
	if len(lines) == 0 {
		lines = []any{"none", plotter.XYs{{X: 0, Y: 1}}}
	}
	if err := plotutil.AddLines(dist, lines...); err != nil {
		return err
	}
	dist.Legend.Top = true
	dist.Legend.Left = true
	grid := plotter.NewGrid()
	grid.Vertical.Color = color.Gray{Y: 220}
	grid.Horizontal.Color = color.Gray{Y: 220}
	dist.Add(grid)

	img := vgimg.New(28*vg.Centimeter, 11*vg.Centimeter)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Centimeter, PadTop: vg.Millimeter * 3, PadBottom: vg.Millimeter * 3, PadLeft: vg.Millimeter * 3, PadRight: vg.Millimeter * 3}
	canvases := plot.Align([][]*plot.Plot{{overTime, dist}}, tiles, dc)
	overTime.Draw(canvases[0][0])
	dist.Draw(canvases[0][1])
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
