package sqlgraph

import "testing"

func TestPgRebind(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"no placeholders", `SELECT 1`, `SELECT 1`},
		{"in order", `UPDATE t SET a = ?, b = ? WHERE id = ?`, `UPDATE t SET a = $1, b = $2 WHERE id = $3`},
		{"ten and more", `VALUES (?,?,?,?,?,?,?,?,?,?,?)`, `VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)`},
		{"string literal kept", `SELECT '?', ? WHERE s = 'it''s ?'`, `SELECT '?', $1 WHERE s = 'it''s ?'`},
		{"quoted identifier kept", `SELECT "a?b" FROM t WHERE x = ?`, `SELECT "a?b" FROM t WHERE x = $1`},
		{"line comment kept", "SELECT ? -- why?\nFROM t WHERE x = ?", "SELECT $1 -- why?\nFROM t WHERE x = $2"},
		{"comment at the end", "SELECT ? -- why?", "SELECT $1 -- why?"},
		{"minus is not a comment", `SELECT ? - 1`, `SELECT $1 - 1`},
		{"unterminated quote", `SELECT ? WHERE s = 'x?`, `SELECT $1 WHERE s = 'x?`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := pgRebind(tc.in); got != tc.want {
				t.Fatalf("pgRebind(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
