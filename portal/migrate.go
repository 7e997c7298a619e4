package portal

import (
	"context"
	"embed"

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
