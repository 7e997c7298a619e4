package portal

import (
	"context"
	"embed"
	"errors"
	"path/filepath"

	"portaldesk/portal/sqlitedb"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migrations are the portal schema's numbered SQL files.
var migrations = sqlitedb.MustLoadMigrations(migrationFS, "migrations")

// SchemaVersion is the newest portal schema this binary knows.
var SchemaVersion = migrations.Version()

// Migrate brings a portal database to SchemaVersion.
func Migrate(ctx context.Context, db *sqlitedb.DB) error {
	return migrations.Apply(ctx, db)
}

// CreateDatabase makes a new, empty portal database at path with the
// whole schema (the template signup copies).
func CreateDatabase(ctx context.Context, path string) error {
	db, err := sqlitedb.Open(path, sqlitedb.Options{})
	if err != nil {
		return err
	}
	if err := Migrate(ctx, db); err != nil {
		db.Close()
		return err
	}
	return db.Close()
}

// CopyDatabase writes a consistent copy of the portal database in dir to
// dst while the portal keeps serving, on a connection of its own (never by
// opening or copying the live file). It waits while the running service
// has the file open for itself alone (sqlitedb.Options.Exclusive).
func CopyDatabase(ctx context.Context, dir, dst string) error {
	db, err := sqlitedb.Open(filepath.Join(dir, DBFile), sqlitedb.Options{Readers: 1})
	if err != nil {
		return err
	}
	err = db.VacuumInto(ctx, dst)
	return errors.Join(err, db.Close())
}

// CheckSnapshot runs SQLite's integrity check on a copy made by
// CopyDatabase (never on a live file).
func CheckSnapshot(path string) error { return sqlitedb.CheckIntegrity(path) }
