// Command ferretdb runs FerretDB v1 (a MongoDB wire-protocol server) with
// SQLite storage, for partnerhub's local infrastructure.
//
// The upstream binary built with `go install` panics at start-up because its
// version file is missing, so we embed the library package instead.
package main

import (
	"context"
	"flag"
	"log"
	"log/slog"
	"net/http"
	_ "net/http/pprof" // served only with -debug-addr
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	dataDir := flag.String("data-dir", "", "directory for the SQLite databases (required)")
	logLevel := flag.String("log-level", "error", "debug, info, warn or error (info logs every connection)")
	txlock := flag.String("txlock", "deferred", "SQLite transaction mode: deferred or immediate")
	synchronous := flag.String("synchronous", "normal",
		"SQLite synchronous pragma: normal (WAL: no fsync per commit; durable across process crashes) or full")
	indexIDsEvery := flag.Duration("index-ids", time.Second,
		"how often to add the _id lookup index FerretDB's SQLite tables lack (0: never; see idindex.go)")
	debugAddr := flag.String("debug-addr", "", "serve Go's pprof profiles on this address (empty: off)")
	flag.Parse()
	if *dataDir == "" {
		log.Fatal("-data-dir is required")
	}
	if err := os.MkdirAll(*dataDir, 0o755); err != nil {
		log.Fatal(err)
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		log.Fatalf("-log-level: %v", err)
	}
	logger := slog.New(newLazyHandler(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))

	f, err := ferretdb.New(&ferretdb.Config{
		Logger:    logger,
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Handler:   "sqlite",
		SQLiteURL: "file:" + *dataDir + "/?_txlock=" + *txlock + "&_pragma=synchronous(" + *synchronous + ")",
	})
	if err != nil {
		log.Fatal(err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if *debugAddr != "" {
		go func() { log.Print(http.ListenAndServe(*debugAddr, nil)) }()
	}

	if *indexIDsEvery > 0 {
		go indexIDs(ctx, *dataDir, *indexIDsEvery, logger)
	}

	log.Printf("ferretdb listening on %s, data in %s", *listen, *dataDir)
	if err := f.Run(ctx); err != nil {
		log.Fatal(err)
	}
}
