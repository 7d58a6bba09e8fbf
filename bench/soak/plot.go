package main

import (
	"errors"
	"flag"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// runPlot draws samples.csv into four panels, one above the other: RSS,
// goroutines, connections (the pool's and the server's backends), p99; each
// restart is marked with a vertical line at its begin.
func runPlot(args []string) error {
	fl := flag.NewFlagSet("plot", flag.ContinueOnError)
	in := fl.String("in", "", "soak directory")
	png := fl.String("png", "", "PNG to write (docs/soak.png)")
	title := fl.String("title", "", "title above the first panel")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *in == "" || *png == "" {
		return errors.New("plot: -in and -png are required")
	}
	samples, err := readSamples(filepath.Join(*in, "samples.csv"))
	if err != nil {
		return err
	}
	events, err := readEvents(filepath.Join(*in, "events.csv"))
	if err != nil {
		return err
	}
	if len(samples) == 0 {
		return errors.New("plot: no samples")
	}
	t0 := samples[0].f("unix_ms")/1000 - samples[0].f("elapsed_s")
	minutes := samples[len(samples)-1].f("elapsed_s") >= 600
	unit, scale := "s", 1.0
	if minutes {
		unit, scale = "min", 60
	}
	series := func(col string, div float64) plotter.XYs {
		var xy plotter.XYs
		for _, r := range samples {
			if v := r.f(col); !math.IsNaN(v) {
				xy = append(xy, plotter.XY{X: r.f("elapsed_s") / scale, Y: v / div})
			}
		}
		return xy
	}
	type line struct {
		label string
		xy    plotter.XYs
		color color.Color
	}
	blue, orange := color.RGBA{31, 119, 180, 255}, color.RGBA{255, 127, 14, 255}
	panels := []struct {
		title, y string
		lines    []line
	}{
		{"RSS", "MiB", []line{{"process_resident_memory_bytes", series("rss_bytes", 1048576), blue}}},
		{"Goroutines", "count", []line{{"go_goroutines", series("goroutines", 1), blue}}},
		{"Open database connections", "count", []line{
			{"pool: go_sql_open_connections", series("go_sql_open_connections", 1), blue},
			{"server: pg_stat_activity for the database (PgBouncer's)", series("pg_backends", 1), orange}}},
		{"p99 latency per interval", "ms", []line{{"p99", series("p99_ms", 1), blue}}},
	}
	var plots [][]*plot.Plot
	for i, pn := range panels {
		p := plot.New()
		p.Title.Text = pn.title
		if i == 0 && *title != "" {
			p.Title.Text = *title + "\n" + pn.title
		}
		p.Y.Label.Text = pn.y
		p.X.Label.Text = "elapsed (" + unit + ")"
		p.Y.Min = 0
		p.Add(plotter.NewGrid())
		ymax := 0.0
		for _, l := range pn.lines {
			if len(l.xy) == 0 {
				continue
			}
			ln, pts, err := plotter.NewLinePoints(l.xy)
			if err != nil {
				return err
			}
			ln.Color, pts.Color = l.color, l.color
			pts.Radius = vg.Points(1.5)
			p.Add(ln, pts)
			p.Legend.Add(l.label, ln)
			for _, v := range l.xy {
				ymax = math.Max(ymax, v.Y)
			}
		}
		p.Y.Max = math.Max(1, ymax*1.15)
		for _, e := range events {
			if !strings.HasSuffix(e.Name, "_begin") {
				continue
			}
			x := (float64(e.At.UnixMilli())/1000 - t0) / scale
			name := strings.ReplaceAll(strings.TrimSuffix(e.Name, "_begin"), "_", " ")
			c := color.RGBA{214, 39, 40, 255}
			if strings.Contains(name, "pooler") {
				c = color.RGBA{148, 103, 189, 255}
			}
			v := &vline{x: x, style: draw.LineStyle{Color: c, Width: vg.Points(1.2), Dashes: []vg.Length{vg.Points(4), vg.Points(3)}}}
			p.Add(v)
			if i == 0 {
				p.Legend.Add(name+fmt.Sprintf(" (%.1f %s)", x, unit), v)
			}
		}
		p.Legend.Top = true
		p.Legend.Left = true
		plots = append(plots, []*plot.Plot{p})
	}
	const width, height = 10 * vg.Inch, 13 * vg.Inch
	img := vgimg.New(width, height)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(plots), Cols: 1, PadTop: vg.Points(6), PadBottom: vg.Points(6), PadLeft: vg.Points(6), PadRight: vg.Points(12), PadY: vg.Points(14)}
	canvases := plot.Align(plots, tiles, dc)
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}
	f, err := os.Create(*png)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// vline is a vertical line across a panel at x (a restart), and its legend
// thumbnail.
type vline struct {
	x     float64
	style draw.LineStyle
}

func (v *vline) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	x := trX(v.x)
	c.StrokeLine2(v.style, x, c.Min.Y, x, c.Max.Y)
}

func (v *vline) Thumbnail(c *draw.Canvas) {
	y := c.Center().Y
	c.StrokeLine2(v.style, c.Min.X, y, c.Max.X, y)
}
