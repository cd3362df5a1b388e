package main

// One log line per request: method, path (never the query, which holds codes,
// states and id_token_hints), status and duration. The library logs its
// errors with slog on the request's context; captureHandler keeps those
// records from the log and logRequests puts their error type and description
// on the request's line instead.

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

type noteKey struct{}

// note collects what the library logged during one request.
type note struct {
	mu     sync.Mutex
	errors []string
}

func (n *note) add(s string) {
	n.mu.Lock()
	n.errors = append(n.errors, s)
	n.mu.Unlock()
}

func (n *note) String() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return strings.Join(n.errors, "; ")
}

// captureHandler hands a record logged on a request's context to the
// request's note, and any other to next.
type captureHandler struct{ next slog.Handler }

// Enabled keeps, of a request, the warnings and errors.
func (h captureHandler) Enabled(ctx context.Context, level slog.Level) bool {
	if ctx.Value(noteKey{}) != nil {
		return level >= slog.LevelWarn
	}
	return h.next.Enabled(ctx, level)
}

func (h captureHandler) Handle(ctx context.Context, r slog.Record) error {
	n, ok := ctx.Value(noteKey{}).(*note)
	if !ok {
		return h.next.Handle(ctx, r)
	}
	var parts []string
	r.Attrs(func(a slog.Attr) bool {
		parts = append(parts, describe(a)...)
		return true
	})
	n.add(r.Message + ": " + strings.Join(parts, ", "))
	return nil
}

// describe keeps what says what went wrong: an oidc error's type, description and
// cause (its state, which the client sent, is left out).
func describe(a slog.Attr) []string {
	v := a.Value.Resolve()
	if v.Kind() != slog.KindGroup {
		return []string{a.Key + "=" + v.String()}
	}
	var parts []string
	for _, g := range v.Group() {
		switch g.Key {
		case "type", "description", "parent", "status_code":
			parts = append(parts, g.Key+"="+g.Value.Resolve().String())
		}
	}
	return parts
}

func (h captureHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return captureHandler{h.next.WithAttrs(attrs)}
}

func (h captureHandler) WithGroup(name string) slog.Handler {
	return captureHandler{h.next.WithGroup(name)}
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logRequests logs every request but those of /healthz, which infra scripts poll.
func logRequests(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == healthPath {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		n := new(note)
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), noteKey{}, n)))
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		args := []any{"method", r.Method, "path", r.URL.Path, "status", sw.status,
			"ms", time.Since(start).Milliseconds()}
		if s := n.String(); s != "" {
			args = append(args, "error", s)
		}
		level := slog.LevelInfo
		if sw.status >= 500 {
			level = slog.LevelError
		}
		logger.Log(r.Context(), level, "request", args...)
	})
}
