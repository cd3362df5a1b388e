package main

import (
	"bytes"
	"log/slog"
	"testing"
)

// countingValue counts how often a handler formats it.
type countingValue struct{ calls *int }

func (v countingValue) LogValue() slog.Value {
	*v.calls++
	return slog.StringValue("formatted")
}

func TestLazyHandlerFormatsNothingBelowItsLevel(t *testing.T) {
	var out bytes.Buffer
	options := &slog.HandlerOptions{Level: slog.LevelError}
	calls := 0

	slog.New(newLazyHandler(slog.NewTextHandler(&out, options))).
		With("args", countingValue{&calls}).Debug(">>> SELECT")
	if calls != 0 || out.Len() != 0 {
		t.Fatalf("a debug record at level error: %d formats, output %q", calls, out.String())
	}

	// The plain handler does format them: the cost this handler avoids.
	slog.New(slog.NewTextHandler(&out, options)).
		With("args", countingValue{&calls}).Debug(">>> SELECT")
	if calls != 1 {
		t.Fatalf("the plain TextHandler formatted %d times; expected 1", calls)
	}
}

func TestLazyHandlerWritesWhatTheTextHandlerWrites(t *testing.T) {
	dropTime := func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}
	write := func(lazy bool) string {
		var out bytes.Buffer
		var h slog.Handler = slog.NewTextHandler(&out, &slog.HandlerOptions{ReplaceAttr: dropTime})
		if lazy {
			h = newLazyHandler(h)
		}
		slog.New(h).With("a", 1).With("b", "two").WithGroup("g").With("c", 3).Error("failed", "d", 4)
		return out.String()
	}

	want, got := write(false), write(true)
	if want != "level=ERROR msg=failed a=1 b=two g.c=3 g.d=4\n" {
		t.Fatalf("the TextHandler wrote %q", want)
	}
	if got != want {
		t.Fatalf("the lazy handler wrote %q; the TextHandler %q", got, want)
	}
}
