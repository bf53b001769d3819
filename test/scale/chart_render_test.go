package scale

import (
	"bytes"
	"image"
	"image/png"
	"strings"
	"testing"
	"time"
)

func TestGlyphs(t *testing.T) {
	for r, g := range glyphs {
		if g == "" {
			continue
		}
		rows := strings.Split(g, "|")
		if len(rows) > glyphRows {
			t.Errorf("%q: %d rows, at most %d", r, len(rows), glyphRows)
		}
		for i, row := range rows {
			if len(row) != glyphWidth || strings.Trim(row, ".#") != "" {
				t.Errorf("%q row %d: %q is not %d of '.' and '#'", r, i, row, glyphWidth)
			}
		}
	}
	for _, r := range "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz .,:()/-+%" {
		if _, ok := glyphs[r]; !ok {
			t.Errorf("no glyph for %q", r)
		}
	}
}

func TestChart_png(t *testing.T) {
	res := &results{Sealed: []*sealedRun{
		{Format: "v1", N: 100, Cold: &phase{Wall: 3 * time.Second}, Restart: &phase{Wall: time.Second}},
		{Format: "v2", N: 100, Cold: &phase{Wall: 2 * time.Second}, Restart: &phase{Wall: time.Second}},
		{Format: "v1", N: 5000, Cold: &phase{Wall: 80 * time.Second}},
		{Format: "v2", N: 5000, Cold: &phase{Wall: 45 * time.Second}, Restart: &phase{Wall: 20 * time.Second}},
	}}
	c := res.chart()
	if len(c.series) != 4 {
		t.Fatalf("series: %v", c.series)
	}
	b, err := c.png()
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds() != image.Rect(0, 0, chartWidth, chartHeight) {
		t.Errorf("bounds %v", img.Bounds())
	}
	// Every series colour appears (lines and markers were drawn).
	for _, s := range c.series {
		if !hasColor(img, s.color.R, s.color.G, s.color.B) {
			t.Errorf("no pixel of %s's colour", s.name)
		}
	}
}

func hasColor(img image.Image, r, g, b uint8) bool {
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			if uint8(cr>>8) == r && uint8(cg>>8) == g && uint8(cb>>8) == b {
				return true
			}
		}
	}
	return false
}

func TestAxisHelpers(t *testing.T) {
	for v, want := range map[float64]float64{0.7: 1, 7: 10, 13: 20, 42: 50, 0: 1} {
		if got := niceStep(v); got != want {
			t.Errorf("niceStep(%v) = %v, want %v", v, got, want)
		}
	}
	ticks := logTicks(1.85, 3.85) // about 70 … 7,000
	want := []float64{100, 200, 500, 1000, 2000, 5000}
	if len(ticks) != len(want) {
		t.Fatalf("logTicks = %v, want %v", ticks, want)
	}
	for i := range want {
		if ticks[i] != want[i] {
			t.Errorf("logTicks = %v, want %v", ticks, want)
		}
	}
	for n, want := range map[int]string{0: "0", 100: "100", 5000: "5,000", 1234567: "1,234,567", -25000: "-25,000"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
