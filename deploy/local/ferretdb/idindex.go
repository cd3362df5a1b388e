package main

// FerretDB v1.24's SQLite backend creates each collection's unique _id index
// on the expression _ferretdb_sjson->"_id", but looks documents up by _id with
// the expression _ferretdb_sjson->'$._id'. SQLite only uses an index whose
// expression is written the same way, so every lookup, update and delete by
// _id scans the whole table, at a cost that grows with the collection.
//
// indexIDs adds, to every collection table of every database file in dataDir,
// an index on the expression the queries use. FerretDB keeps its own list of
// indexes in its metadata tables, so this one is invisible to clients
// (listIndexes does not show it) and is dropped with its table.

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the driver FerretDB itself uses
)

const idIndexSuffix = "_partnerhub_id"

// indexIDs scans dataDir every interval until ctx is done.
func indexIDs(ctx context.Context, dataDir string, interval time.Duration, logger *slog.Logger) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		files, _ := filepath.Glob(filepath.Join(dataDir, "*.sqlite"))
		for _, file := range files {
			if err := indexFile(ctx, file); err != nil && ctx.Err() == nil {
				logger.Debug("id index pass", "file", file, "error", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

func indexFile(ctx context.Context, file string) error {
	if _, err := os.Stat(file); err != nil {
		return nil // dropped meanwhile
	}
	// mode=rw: never create a database file FerretDB has just dropped.
	db, err := sql.Open("sqlite", "file:"+file+"?mode=rw&_pragma=busy_timeout(10000)")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)

	rows, err := db.QueryContext(ctx,
		`SELECT t.name FROM sqlite_master t
		 WHERE t.type = 'table' AND t.name NOT LIKE '\_ferretdb\_%' ESCAPE '\'
		   AND t.name NOT LIKE 'sqlite\_%' ESCAPE '\'
		   AND NOT EXISTS (SELECT 1 FROM sqlite_master i WHERE i.type = 'index' AND i.name = t.name || ?)`,
		idIndexSuffix)
	if err != nil {
		return err
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return err
		}
		tables = append(tables, name)
	}
	rows.Close()

	for _, table := range tables {
		if !hasDefaultColumn(ctx, db, table) {
			continue
		}
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %q ON %q (_ferretdb_sjson->'$._id')`,
			table+idIndexSuffix, table)
		if _, err := db.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

func hasDefaultColumn(ctx context.Context, db *sql.DB, table string) bool {
	rows, err := db.QueryContext(ctx, fmt.Sprintf(`PRAGMA table_info(%q)`, table))
	if err != nil {
		return false
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	for rows.Next() {
		values := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range values {
			ptrs[i] = &values[i]
		}
		if rows.Scan(ptrs...) == nil && strings.EqualFold(fmt.Sprint(values[1]), "_ferretdb_sjson") {
			return true
		}
	}
	return false
}
