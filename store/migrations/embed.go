// Package migrations embeds Vigil's numbered SQL migrations, so that every binary carries the
// schema it was built for and can apply it at start.
package migrations

import "embed"

// FS holds the migration files, named NNN_description.sql in tern's format.
//
//go:embed *.sql
var FS embed.FS
