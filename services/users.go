package services

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/todo-api/todo-api/models"
)

// Users manages the current user's account.
type Users struct {
	db         *gorm.DB
	bcryptCost int
	now        func() time.Time
	cache      *UserCache
}

// UseCache makes the service forget users in c when it changes or
// deactivates them, so that cached authentication never outlives a change
// in this process.
func (s *Users) UseCache(c *UserCache) *Users {
	s.cache = c
	return s
}

// NewUsers returns the service.
func NewUsers(db *gorm.DB, bcryptCost int, now func() time.Time) *Users {
	if now == nil {
		now = time.Now
	}
	return &Users{db: db, bcryptCost: bcryptCost, now: now}
}

// UpdateUserInput is the body of PATCH /users/me. CurrentPassword is
// required to change email or password.
type UpdateUserInput struct {
	Email           Optional[string] `json:"email"`
	Username        Optional[string] `json:"username"`
	Password        Optional[string] `json:"password"`
	CurrentPassword Optional[string] `json:"current_password"`
}

// Validate lists every invalid field.
func (in UpdateUserInput) Validate() *ValidationError {
	v := &ValidationError{}
	checkEmail(v, in.Email, false)
	checkUsername(v, in.Username, false)
	checkPassword(v, "password", in.Password, false)
	if (in.Email.Set || in.Password.Set) && (!in.CurrentPassword.Set || in.CurrentPassword.Null || in.CurrentPassword.Value == "") {
		v.Add("current_password", "is required to change email or password")
	} else if in.CurrentPassword.Null {
		v.Add("current_password", "must not be null")
	}
	return v
}

// Update changes the user's email, username or password.
func (s *Users) Update(ctx context.Context, user models.User, in UpdateUserInput) (models.User, error) {
	if err := in.Validate().Err(); err != nil {
		return models.User{}, err
	}
	if in.CurrentPassword.Set {
		var hash string
		err := read(ctx, func() error {
			return s.db.WithContext(ctx).Model(&models.User{}).Select("hashed_password").Where("id = ?", user.ID).Scan(&hash).Error
		})
		if err != nil {
			return models.User{}, translate(err, "load password")
		}
		if bcrypt.CompareHashAndPassword([]byte(hash), []byte(in.CurrentPassword.Value)) != nil {
			return models.User{}, &ValidationError{Fields: []FieldError{{Field: "current_password", Message: "is incorrect"}}}
		}
	}
	updates := map[string]any{"updated_at": s.now().UTC().Truncate(time.Microsecond)}
	var email, username string
	if in.Email.Set {
		email = strings.ToLower(strings.TrimSpace(in.Email.Value))
		updates["email"] = email
	}
	if in.Username.Set {
		username = in.Username.Value
		updates["username"] = username
	}
	if email != "" || username != "" {
		if err := conflicts(ctx, s.db, user.ID, email, username); err != nil {
			return models.User{}, err
		}
	}
	if in.Password.Set {
		hash, err := bcrypt.GenerateFromPassword([]byte(in.Password.Value), s.bcryptCost)
		if err != nil {
			return models.User{}, fmt.Errorf("hash password: %w", err)
		}
		updates["hashed_password"] = string(hash)
	}
	var rows []models.User
	err := write(ctx, func() error {
		rows = nil
		return s.db.WithContext(ctx).Model(&rows).Clauses(clause.Returning{}).
			Where("id = ? AND is_active", user.ID).Updates(updates).Error
	})
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		if cerr := conflicts(ctx, s.db, user.ID, email, username); cerr != nil {
			return models.User{}, cerr
		}
	}
	if err != nil {
		return models.User{}, translate(err, "update user")
	}
	s.cache.forget(user.ID)
	if len(rows) != 1 {
		return models.User{}, ErrUnauthorized
	}
	return rows[0], nil
}

// Deactivate soft-deletes the user: is_active becomes false, later logins
// and existing tokens are refused, and the user's rows stay.
func (s *Users) Deactivate(ctx context.Context, userID int64) error {
	defer s.cache.forget(userID)
	err := write(ctx, func() error {
		return s.db.WithContext(ctx).Model(&models.User{}).Where("id = ?", userID).
			Updates(map[string]any{"is_active": false, "updated_at": s.now().UTC().Truncate(time.Microsecond)}).Error
	})
	return translate(err, "deactivate user")
}
