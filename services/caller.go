package services

import (
	"context"
	"crypto/sha256"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Caller is the account a request acts for, as its verified token names
// it: the user id, the credential version the token was issued under, and
// the token's own id (for POST /auth/logout).
//
// Whether the account is still active, the token still current and not
// logged out is checked by the database in the very statement the request
// runs (see owned), not by a copy in this process: several instances serve
// one database, and a copy kept by one of them cannot know that another has
// just deactivated the user, changed the password or ended the token. The
// check costs no round trip of its own, and no instance has a window in
// which a revoked token still works.
type Caller struct {
	ID int64
	// Version is the credential version the token carries (for a Better
	// Auth token, the account's version when its subject was looked up).
	Version int32
	// TokenID names the token: a SHA-256 of its signed part (header and
	// claims), so the same token always has the same id and no other token
	// shares it; a signature re-encoded or, for ECDSA, re-computed by the
	// holder does not make it another token.
	TokenID []byte
	// Expires is when the token stops working by itself; a logout need not
	// be remembered past it.
	Expires time.Time
}

// tokenID is the id of a token (see Caller.TokenID).
func tokenID(token string) []byte {
	signed := token
	if i := strings.LastIndexByte(token, '.'); i >= 0 {
		signed = token[:i]
	}
	sum := sha256.Sum256([]byte(signed))
	return sum[:]
}

// accountCheck is the condition every statement of a caller carries: the
// account is active at the token's credential version, and the token has
// not been logged out. It does not depend on the rows the statement reads
// or writes, so PostgreSQL runs it once per statement (an InitPlan: one
// primary-key probe of users and one of revoked_tokens), and a revoked
// token finds no rows.
const accountCheck = "EXISTS (SELECT 1 FROM users WHERE " + accountRow + ")"

// accountRow is accountCheck's condition on the users row itself, for a
// statement that reads or updates that row (the create's budget, see
// Todos.insert); it takes the same parameters.
const accountRow = "users.id = ? AND users.is_active AND users.token_version = ?" +
	" AND NOT EXISTS (SELECT 1 FROM revoked_tokens WHERE revoked_tokens.token_id = ?)"

// accountArgs are accountCheck's parameters.
func (c Caller) accountArgs() []any { return []any{c.ID, c.Version, c.TokenID} }

// owned narrows a todo statement to the caller's todos of an account that
// passes accountCheck.
func (c Caller) owned(db *gorm.DB) *gorm.DB {
	return db.Where("user_id = ?", c.ID).Where(accountCheck, c.accountArgs()...)
}

// confirm reads the caller's account: ErrUnauthorized when it is gone,
// deactivated, at another credential version or the token logged out. A
// statement that found no rows asks this to tell a revoked token (401)
// from a todo that is not there (404).
func (c Caller) confirm(ctx context.Context, db *gorm.DB) error {
	var n int64
	err := read(ctx, func() error {
		return db.WithContext(ctx).Raw("SELECT count(*) WHERE "+accountCheck, c.accountArgs()...).Scan(&n).Error
	})
	switch {
	case err != nil:
		return translate(err, "check token account")
	case n == 0:
		return ErrUnauthorized
	}
	return nil
}
