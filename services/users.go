package services

import (
	"context"
	"errors"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/todo-api/todo-api/models"
)

// Users manages the current user's account. It shares the Auth service's
// password rules: its bcrypt cost, clock, failed-attempt limits and user
// cache, which it keeps honest by forgetting users it changes.
type Users struct {
	db   *gorm.DB
	auth *Auth
}

// NewUsers returns the service.
func NewUsers(db *gorm.DB, auth *Auth) *Users {
	return &Users{db: db, auth: auth}
}

// UpdateUserInput is a change to the current user. CurrentPassword is
// required to change email or password.
type UpdateUserInput struct {
	Email           Optional[string]
	Username        Optional[string]
	Password        Optional[string]
	CurrentPassword Optional[string]
}

// Validate lists every invalid field; Update calls it.
func (in UpdateUserInput) Validate() *ValidationError {
	v := &ValidationError{}
	checkEmail(v, in.Email, false)
	checkUsername(v, in.Username, false)
	checkPassword(v, "password", in.Password, false)
	switch {
	case (in.Email.Set || in.Password.Set) && (!in.CurrentPassword.Set || in.CurrentPassword.Null || in.CurrentPassword.Value == ""):
		v.Add("current_password", "is required to change email or password")
	case in.CurrentPassword.Null:
		v.Add("current_password", "must not be null")
	case len(in.CurrentPassword.Value) > MaxPasswordBytes:
		// As at login: bcrypt reads only the first 72 bytes, so a longer
		// value would match more than the password.
		v.Add("current_password", "must be at most %d bytes", MaxPasswordBytes)
	}
	return v
}

// Me reads the caller's account, under the same check as every todo
// statement (active, at the token's credential version, token not logged
// out); anything else is ErrUnauthorized.
func (s *Users) Me(ctx context.Context, c Caller) (models.User, error) {
	var user models.User
	err := read(ctx, func() error {
		return s.db.WithContext(ctx).Where(accountRow, c.accountArgs()...).Take(&user).Error
	})
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		return models.User{}, ErrUnauthorized
	case err != nil:
		return models.User{}, translate(err, "load token user")
	}
	return user, nil
}

// Update changes the user's email, username or password. A change of
// email or password bumps the credential version, so every token issued
// before it stops working. client identifies the caller for the
// failed-attempt limits on current_password.
func (s *Users) Update(ctx context.Context, c Caller, in UpdateUserInput, client string) (models.User, error) {
	user, err := s.Me(ctx, c)
	if err != nil {
		return models.User{}, err
	}
	if user.HashedPassword == nil && (in.Email.Set || in.Password.Set) {
		// An account created from a Better Auth token signs in there: its
		// email and password are the Better Auth app's to change.
		v := &ValidationError{}
		if in.Email.Set {
			v.Add("email", "is managed by the Better Auth app this account signs in with; change it there")
		}
		if in.Password.Set {
			v.Add("password", "is managed by the Better Auth app this account signs in with; change it there")
		}
		return models.User{}, v
	}
	if err := in.Validate().Err(); err != nil {
		return models.User{}, err
	}
	if in.CurrentPassword.Set {
		if err := s.auth.CheckPassword(ctx, user.ID, "current_password", in.CurrentPassword.Value, client); err != nil {
			return models.User{}, err
		}
	}
	updates := map[string]any{"updated_at": storedTime(s.auth.opts.Now())}
	if in.Email.Set || in.Password.Set {
		updates["token_version"] = gorm.Expr("token_version + 1")
	}
	var email, username string
	if in.Email.Set {
		email = normalizeEmail(in.Email.Value)
		updates["email"] = email
	}
	if in.Username.Set {
		username = in.Username.Value
		updates["username"] = username
	}
	var rows []models.User
	err = uniqueWrite(ctx, s.db, user.ID, email, username, func() error {
		if in.Password.Set {
			hash, err := s.auth.hashPassword(ctx, in.Password.Value)
			if err != nil {
				return err
			}
			updates["hashed_password"] = hash
		}
		return write(ctx, func() error {
			rows = nil
			return s.db.WithContext(ctx).Model(&rows).Clauses(clause.Returning{}).
				Where("id = ? AND is_active", user.ID).Updates(updates).Error
		})
	})
	if err != nil {
		return models.User{}, translate(err, "update user")
	}
	s.auth.opts.Cache.forget(user.ID)
	if len(rows) != 1 {
		return models.User{}, ErrUnauthorized
	}
	return rows[0], nil
}

// Deactivate soft-deletes the user: is_active becomes false, later logins
// and existing tokens are refused, and the user's rows stay. The
// credential version goes up too, so that reactivating the account (by
// hand, in SQL) does not bring old tokens back.
//
// A caller whose account no longer passes the account check (already
// deactivated, the token outdated or logged out) is ErrUnauthorized.
func (s *Users) Deactivate(ctx context.Context, c Caller) error {
	// Forgotten after the write has committed: a request that loads the
	// user from now on sees it inactive.
	defer s.auth.opts.Cache.forget(c.ID)
	var n int64
	err := write(ctx, func() error {
		res := s.db.WithContext(ctx).Model(&models.User{}).Where(accountRow, c.accountArgs()...).
			Updates(map[string]any{
				"is_active":     false,
				"token_version": gorm.Expr("token_version + 1"),
				"updated_at":    storedTime(s.auth.opts.Now()),
			})
		n = res.RowsAffected
		return res.Error
	})
	if err != nil {
		return translate(err, "deactivate user")
	}
	if n == 0 {
		return ErrUnauthorized
	}
	return nil
}
