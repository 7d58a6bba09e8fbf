package services

import (
	"context"
	"errors"

	"gorm.io/gorm"

	"github.com/todo-api/todo-api/models"
)

// Caller is the account a todo request acts for, as its verified token
// names it: the user id and the credential version the token was issued
// under.
//
// Whether the account is still active and the token still current is
// checked by the database in the very statement the request runs (see
// owned), not by a copy in this process: several instances serve one
// database, and a copy kept by one of them cannot know that another has
// just deactivated the user or changed the password. The check costs no
// round trip of its own, and no instance has a window in which a revoked
// token still works.
type Caller struct {
	ID int64
	// Version is the credential version the token carries (for a Better
	// Auth token, the account's version when its token was first seen).
	Version int32
	// Confirmed is set when the account row was read for this request and
	// found active at Version; statements then need no check of their own.
	Confirmed bool
}

// ConfirmedCaller is the caller of a user just read from the database.
func ConfirmedCaller(u models.User) Caller {
	return Caller{ID: u.ID, Version: u.TokenVersion, Confirmed: true}
}

// owned narrows a todo statement to the caller's todos and, unless the
// caller is confirmed, to an account that is active with the token's
// version. The EXISTS does not depend on the todo row: PostgreSQL runs it
// once per statement (an InitPlan, one primary-key probe of users), and a
// revoked token finds no rows.
func (c Caller) owned(db *gorm.DB) *gorm.DB {
	db = db.Where("user_id = ?", c.ID)
	if !c.Confirmed {
		db = db.Where("EXISTS (SELECT 1 FROM users WHERE users.id = ? AND users.is_active AND users.token_version = ?)", c.ID, c.Version)
	}
	return db
}

// confirm reads the caller's account: ErrUnauthorized when it is gone,
// deactivated or at another credential version. A statement that found no
// rows for an unconfirmed caller asks this to tell a revoked token (401)
// from a todo that is not there (404).
func (c Caller) confirm(ctx context.Context, db *gorm.DB) error {
	if c.Confirmed {
		return nil
	}
	var user models.User
	err := read(ctx, func() error {
		return db.WithContext(ctx).Select("id", "is_active", "token_version").Where("id = ?", c.ID).Take(&user).Error
	})
	return current(user, c.Version, err)
}

// current judges the read of a token's account: gone, deactivated or at
// another credential version is ErrUnauthorized; a failed read is
// translated.
func current(user models.User, version int32, err error) error {
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		return ErrUnauthorized
	case err != nil:
		return translate(err, "load token user")
	case !user.IsActive, user.TokenVersion != version:
		return ErrUnauthorized
	}
	return nil
}
