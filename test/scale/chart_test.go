package scale

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"strconv"
)

// chart is a line chart with a logarithmic x axis (object counts) and a
// linear y axis from zero (seconds), drawn with the standard library only.
type chart struct {
	title, xLabel, yLabel string
	series                []series
	// refs are dashed horizontal lines: targets.
	refs []refLine
}

type series struct {
	name  string
	color color.RGBA
	pts   []point
}

type point struct{ x, y float64 }

type refLine struct {
	y     float64
	label string
}

// Chart colours: dark enough to read on white, and told apart by people
// with the common forms of colour blindness (blue, orange, green-teal).
var (
	colorBlue   = color.RGBA{0x1f, 0x5f, 0xbf, 0xff}
	colorOrange = color.RGBA{0xe0, 0x6c, 0x00, 0xff}
	colorTeal   = color.RGBA{0x00, 0x8c, 0x7a, 0xff}
	colorPurple = color.RGBA{0x80, 0x40, 0xa0, 0xff}
	colorInk    = color.RGBA{0x20, 0x20, 0x20, 0xff}
	colorGrid   = color.RGBA{0xe2, 0xe2, 0xe2, 0xff}
	colorRef    = color.RGBA{0x70, 0x70, 0x70, 0xff}
	colorWhite  = color.RGBA{0xff, 0xff, 0xff, 0xff}
)

// Layout, in pixels.
const (
	chartWidth   = 960
	chartHeight  = 600
	marginLeft   = 96
	marginRight  = 40
	marginTop    = 64
	marginBottom = 84
	fontScale    = 2
)

// png renders the chart as a PNG file.
func (c *chart) png() ([]byte, error) {
	var b bytes.Buffer
	if err := png.Encode(&b, c.render()); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// plotArea maps data to pixels.
type plotArea struct {
	left, right, top, bottom int
	logMin, logMax           float64 // x range, log10
	yMax                     float64
}

func (a plotArea) px(x float64) int {
	return a.left + int(math.Round((math.Log10(x)-a.logMin)/(a.logMax-a.logMin)*float64(a.right-a.left)))
}

func (a plotArea) py(y float64) int {
	return a.bottom - int(math.Round(y/a.yMax*float64(a.bottom-a.top)))
}

func (c *chart) render() *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, chartWidth, chartHeight))
	fillRect(img, 0, 0, chartWidth, chartHeight, colorWhite)
	a := c.area()

	// Title and axis labels.
	drawText(img, (chartWidth-textWidth(c.title, fontScale))/2, 18, c.title, fontScale, colorInk)
	drawText(img, (a.left+a.right-textWidth(c.xLabel, fontScale))/2, chartHeight-30, c.xLabel, fontScale, colorInk)
	drawText(img, 12, a.top-textHeight(fontScale)-12, c.yLabel, fontScale, colorInk)

	// Grid, ticks and tick labels.
	step := niceStep(a.yMax / 6)
	for y := 0.0; y <= a.yMax+step/1000; y += step {
		py := a.py(y)
		fillRect(img, a.left, py, a.right-a.left, 1, colorGrid)
		fillRect(img, a.left-6, py, 6, 1, colorInk)
		label := strconv.FormatFloat(y, 'f', -1, 64)
		drawText(img, a.left-10-textWidth(label, fontScale), py-textHeight(fontScale)/2+2, label, fontScale, colorInk)
	}
	for _, x := range logTicks(a.logMin, a.logMax) {
		px := a.px(x)
		fillRect(img, px, a.top, 1, a.bottom-a.top, colorGrid)
		fillRect(img, px, a.bottom, 1, 6, colorInk)
		label := thousands(int(x))
		drawText(img, px-textWidth(label, fontScale)/2, a.bottom+12, label, fontScale, colorInk)
	}

	// Target lines, then data, then axes, legend and target labels on top.
	for _, r := range c.refs {
		if r.y <= a.yMax {
			py := float64(a.py(r.y))
			drawLine(img, float64(a.left), py, float64(a.right), py, 1, colorRef, true)
		}
	}
	for _, s := range c.series {
		for i := 1; i < len(s.pts); i++ {
			p0, p1 := s.pts[i-1], s.pts[i]
			drawLine(img, float64(a.px(p0.x)), float64(a.py(p0.y)), float64(a.px(p1.x)), float64(a.py(p1.y)), 1.5, s.color, false)
		}
		for _, p := range s.pts {
			fillDisc(img, float64(a.px(p.x)), float64(a.py(p.y)), 5, s.color)
			fillDisc(img, float64(a.px(p.x)), float64(a.py(p.y)), 2.5, colorWhite)
		}
	}
	fillRect(img, a.left, a.top, 2, a.bottom-a.top+1, colorInk)
	fillRect(img, a.left, a.bottom, a.right-a.left+1, 2, colorInk)
	legend := c.legend(img, a)
	c.refLabels(img, a, legend)
	return img
}

// refLabels writes each target's label on a white patch just above its
// line, at the left of the plot area (where time-against-N data is low), or
// right of the legend when the legend is in the way.
func (c *chart) refLabels(img *image.RGBA, a plotArea, legend image.Rectangle) {
	for _, r := range c.refs {
		if r.y > a.yMax {
			continue
		}
		w, h := textWidth(r.label, fontScale), textHeight(fontScale)
		box := image.Rect(a.left+12, a.py(r.y)-h-6, a.left+12+w+8, a.py(r.y)-1)
		if box.Overlaps(legend) {
			box = box.Add(image.Pt(legend.Max.X+12-box.Min.X, 0))
		}
		fillRect(img, box.Min.X, box.Min.Y, box.Dx(), box.Dy(), colorWhite)
		drawText(img, box.Min.X+4, box.Min.Y+2, r.label, fontScale, colorRef)
	}
}

// area computes the plot area and the axis ranges from the data.
func (c *chart) area() plotArea {
	a := plotArea{left: marginLeft, right: chartWidth - marginRight, top: marginTop, bottom: chartHeight - marginBottom}
	xMin, xMax, yMax := math.Inf(1), math.Inf(-1), 0.0
	for _, s := range c.series {
		for _, p := range s.pts {
			xMin, xMax, yMax = math.Min(xMin, p.x), math.Max(xMax, p.x), math.Max(yMax, p.y)
		}
	}
	for _, r := range c.refs {
		yMax = math.Max(yMax, r.y)
	}
	if math.IsInf(xMin, 1) {
		xMin, xMax = 100, 1000
	}
	a.logMin = math.Log10(xMin) - 0.15
	a.logMax = math.Log10(xMax) + 0.15
	if yMax <= 0 {
		yMax = 1
	}
	step := niceStep(yMax * 1.1 / 6)
	a.yMax = math.Ceil(yMax*1.1/step) * step
	return a
}

// legend draws a box in the top-left corner of the plot area and returns
// where.
func (c *chart) legend(img *image.RGBA, a plotArea) image.Rectangle {
	if len(c.series) == 0 {
		return image.Rectangle{}
	}
	line := textHeight(fontScale) + 8
	w := 0
	for _, s := range c.series {
		w = max(w, textWidth(s.name, fontScale))
	}
	x, y := a.left+16, a.top+12
	bw, bh := w+64, len(c.series)*line+12
	fillRect(img, x, y, bw, bh, colorWhite)
	strokeRect(img, x, y, bw, bh, colorRef)
	for i, s := range c.series {
		ly := y + 8 + i*line
		mid := float64(ly + textHeight(fontScale)/2 - 1)
		drawLine(img, float64(x+10), mid, float64(x+42), mid, 1.5, s.color, false)
		fillDisc(img, float64(x+26), mid, 5, s.color)
		fillDisc(img, float64(x+26), mid, 2.5, colorWhite)
		drawText(img, x+52, ly, s.name, fontScale, colorInk)
	}
	return image.Rect(x, y, x+bw, y+bh)
}

// niceStep rounds v up to 1, 2 or 5 times a power of ten.
func niceStep(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// logTicks returns 1, 2 and 5 times powers of ten within [10^lo, 10^hi].
func logTicks(lo, hi float64) []float64 {
	var out []float64
	for d := math.Floor(lo); d <= math.Ceil(hi); d++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, d)
			if l := math.Log10(v); l >= lo && l <= hi {
				out = append(out, v)
			}
		}
	}
	return out
}

// thousands formats n with comma separators: 5000 → "5,000".
func thousands(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// Drawing primitives on an RGBA image; everything outside the image is
// clipped.

func fillRect(img *image.RGBA, x, y, w, h int, c color.RGBA) {
	r := image.Rect(x, y, x+w, y+h).Intersect(img.Bounds())
	for py := r.Min.Y; py < r.Max.Y; py++ {
		for px := r.Min.X; px < r.Max.X; px++ {
			img.SetRGBA(px, py, c)
		}
	}
}

func strokeRect(img *image.RGBA, x, y, w, h int, c color.RGBA) {
	fillRect(img, x, y, w, 1, c)
	fillRect(img, x, y+h-1, w, 1, c)
	fillRect(img, x, y, 1, h, c)
	fillRect(img, x+w-1, y, 1, h, c)
}

func fillDisc(img *image.RGBA, cx, cy, r float64, c color.RGBA) {
	for py := int(math.Floor(cy - r)); py <= int(math.Ceil(cy+r)); py++ {
		for px := int(math.Floor(cx - r)); px <= int(math.Ceil(cx+r)); px++ {
			dx, dy := float64(px)-cx, float64(py)-cy
			if dx*dx+dy*dy <= r*r && image.Pt(px, py).In(img.Bounds()) {
				img.SetRGBA(px, py, c)
			}
		}
	}
}

// drawLine stamps discs of radius r along the segment; dashed lines
// alternate 8 pixels drawn and 6 skipped.
func drawLine(img *image.RGBA, x0, y0, x1, y1, r float64, c color.RGBA, dashed bool) {
	length := math.Hypot(x1-x0, y1-y0)
	steps := int(math.Ceil(length * 2))
	for i := 0; i <= steps; i++ {
		t := 0.0
		if steps > 0 {
			t = float64(i) / float64(steps)
		}
		if dashed && math.Mod(t*length, 14) >= 8 {
			continue
		}
		x, y := x0+t*(x1-x0), y0+t*(y1-y0)
		if r <= 0.5 {
			if p := image.Pt(int(math.Round(x)), int(math.Round(y))); p.In(img.Bounds()) {
				img.SetRGBA(p.X, p.Y, c)
			}
			continue
		}
		fillDisc(img, x, y, r, c)
	}
}

// chart builds the time-to-Ready chart from the SealedSecret runs.
func (r *results) chart() *chart {
	c := &chart{
		title:  "kseal controller: time until every SealedSecret is Ready",
		xLabel: "SealedSecrets (5 items each), log scale",
		yLabel: "seconds",
		refs: []refLine{
			{60, "v2 cold start target 60 s"},
			{30, "restart target 30 s"},
		},
	}
	add := func(name string, col color.RGBA, format string, pick func(*sealedRun) *phase) {
		s := series{name: name, color: col}
		for _, run := range r.Sealed {
			if run.Format == format && pick(run) != nil {
				s.pts = append(s.pts, point{float64(run.N), pick(run).Wall.Seconds()})
			}
		}
		if len(s.pts) > 0 {
			c.series = append(c.series, s)
		}
	}
	add("v1 cold start (RSA-OAEP)", colorOrange, "v1", func(s *sealedRun) *phase { return s.Cold })
	add("v2 cold start (ML-KEM + X25519)", colorBlue, "v2", func(s *sealedRun) *phase { return s.Cold })
	add("v2 restart, nothing changed", colorTeal, "v2", func(s *sealedRun) *phase { return s.Restart })
	add("v1 restart, nothing changed", colorPurple, "v1", func(s *sealedRun) *phase { return s.Restart })
	return c
}

// String describes the chart's data, for test failures.
func (s series) String() string { return fmt.Sprintf("%s %v", s.name, s.pts) }
