package main

// FerretDB's SQL layer (internal/util/fsql) calls logger.With(args) twice
// for every SQL statement, with the statement's arguments, which include the
// whole document as JSON, and only then logs at debug level. slog's
// TextHandler formats (and quotes) those attributes in WithAttrs, whatever
// the level: with the default level (error), CPU time spent on text nobody
// reads (docs/performance.md).
//
// lazyHandler keeps the attributes as they are and hands them to the real
// handler only for a record that is logged.

import (
	"context"
	"log/slog"
)

type lazyHandler struct {
	next  slog.Handler
	attrs []slog.Attr
}

func newLazyHandler(next slog.Handler) slog.Handler {
	return &lazyHandler{next: next}
}

func (h *lazyHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

func (h *lazyHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.materialize().Handle(ctx, r)
}

func (h *lazyHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	joined := make([]slog.Attr, 0, len(h.attrs)+len(attrs))
	joined = append(joined, h.attrs...)
	joined = append(joined, attrs...)
	return &lazyHandler{next: h.next, attrs: joined}
}

// WithGroup applies the attributes collected so far first: they belong outside the group.
func (h *lazyHandler) WithGroup(name string) slog.Handler {
	return &lazyHandler{next: h.materialize().WithGroup(name)}
}

func (h *lazyHandler) materialize() slog.Handler {
	if len(h.attrs) == 0 {
		return h.next
	}
	return h.next.WithAttrs(h.attrs)
}
