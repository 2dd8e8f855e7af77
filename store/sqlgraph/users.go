package sqlgraph

import (
	"context"
	"strings"

	"webchat/store"
)

// userCols are the columns of a User, in scanUser's order, from a users
// table aliased u.
const userCols = `u.id, u.username, u.display_name`

// rowScanner is *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(dest ...any) error }

func scanUser(s rowScanner) (store.User, error) {
	var u store.User
	err := s.Scan(&u.ID, &u.Username, &u.DisplayName)
	return u, err
}

// CreateUser adds a user. The username is stored in lower case, and a name
// taken in any case is ErrUsernameTaken: the unique index decides, so two
// concurrent sign-ups for one name cannot both succeed. Validating the
// username, display name and password is the caller's job.
func (g *Graph) CreateUser(ctx context.Context, username, displayName string, passwordHash []byte) (store.User, error) {
	const op = "create user"
	u := store.User{Username: strings.ToLower(username), DisplayName: displayName}
	err := g.pool().row(ctx,
		`INSERT INTO users (username, display_name, password_hash, created_at)
		 VALUES (?, ?, ?, ?) RETURNING id`,
		u.Username, u.DisplayName, passwordHash, nowMS()).Scan(&u.ID)
	switch {
	case err == nil:
		return u, nil
	case g.d.isUniqueViolation(err):
		return store.User{}, store.ErrUsernameTaken
	}
	return store.User{}, unavailable(op, err)
}

// UserByUsername returns a user and their password hash, for log-in. The
// username matches in any case; an unknown one is ErrUserNotFound.
func (g *Graph) UserByUsername(ctx context.Context, username string) (store.Credentials, error) {
	var c store.Credentials
	err := g.pool().row(ctx,
		`SELECT id, username, display_name, password_hash, created_at FROM users WHERE username = ?`,
		strings.ToLower(username)).Scan(&c.ID, &c.Username, &c.DisplayName, &c.PasswordHash, &c.CreatedAt)
	if err != nil {
		return store.Credentials{}, classify("user by username", notFound(err, store.ErrUserNotFound))
	}
	return c, nil
}

// UserByID returns a user's profile; an unknown id is ErrUserNotFound.
func (g *Graph) UserByID(ctx context.Context, id store.UserID) (store.User, error) {
	u, err := userByID(ctx, g.pool(), id)
	if err != nil {
		return store.User{}, classify("user by id", err)
	}
	return u, nil
}

// userByID returns ErrUserNotFound or a raw database error.
func userByID(ctx context.Context, r runner, id store.UserID) (store.User, error) {
	u, err := scanUser(r.row(ctx, `SELECT `+userCols+` FROM users u WHERE u.id = ?`, id))
	return u, notFound(err, store.ErrUserNotFound)
}

// userByUsername returns ErrUserNotFound or a raw database error.
func userByUsername(ctx context.Context, r runner, username string) (store.User, error) {
	u, err := scanUser(r.row(ctx, `SELECT `+userCols+` FROM users u WHERE u.username = ?`,
		strings.ToLower(username)))
	return u, notFound(err, store.ErrUserNotFound)
}
