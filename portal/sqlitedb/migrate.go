package sqlitedb

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Migrations are the numbered SQL files of a database's schema, in order:
// 0001_name.sql, 0002_name.sql …
type Migrations struct {
	list []migration
}

type migration struct {
	version int
	name    string
	sql     string
}

// LoadMigrations reads the numbered .sql files of dir in fsys; the numbers
// must run from 1 without a gap.
func LoadMigrations(fsys fs.FS, dir string) (*Migrations, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		num, _, _ := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number", e.Name())
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: expected number %d", m.name, i+1)
		}
	}
	return &Migrations{list: ms}, nil
}

// MustLoadMigrations is LoadMigrations for embedded files, which cannot fail but by a bug.
func MustLoadMigrations(fsys fs.FS, dir string) *Migrations {
	m, err := LoadMigrations(fsys, dir)
	if err != nil {
		panic(err)
	}
	return m
}

// Version is the newest schema version the migrations reach.
func (m *Migrations) Version() int { return len(m.list) }

// Apply runs the migrations d has not seen yet, each in its own
// transaction, recording the version in PRAGMA user_version. A database
// newer than the migrations is refused.
func (m *Migrations) Apply(ctx context.Context, d *DB) error {
	var have int
	if err := d.w.QueryRowContext(ctx, "PRAGMA user_version").Scan(&have); err != nil {
		return fmt.Errorf("migrate: read version: %w", err)
	}
	if have > len(m.list) {
		return fmt.Errorf("migrate: database schema %d is newer than this binary (%d)", have, len(m.list))
	}
	for _, mg := range m.list[have:] {
		err := d.Tx(ctx, func(tx *Tx) error {
			if _, err := tx.tx.ExecContext(ctx, mg.sql); err != nil {
				return err
			}
			_, err := tx.tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", mg.version))
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate %s: %w", mg.name, err)
		}
	}
	return nil
}
