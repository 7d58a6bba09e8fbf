package controllers

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/todo-api/todo-api/services"
)

// Request types: the JSON shape of each body. They only decode; the rules
// are the services'. A field that must tell "absent" from an explicit null
// is an optional.

// optional is a request field that records whether it was present and
// whether its value was null.
type optional[T any] struct {
	services.Optional[T]
}

// UnmarshalJSON records presence and null-ness. encoding/json calls it for
// null too, which is what lets PATCH clear a field.
func (o *optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.Value)
}

// todoRequest is the body of POST /todos, of PATCH /todos/{id}, and each
// item of POST /todos/batch.
type todoRequest struct {
	Title       optional[string]    `json:"title"`
	Description optional[string]    `json:"description"`
	Completed   optional[bool]      `json:"completed"`
	Priority    optional[int]       `json:"priority"`
	DueDate     optional[time.Time] `json:"due_date"`
}

func (r todoRequest) input() services.TodoInput {
	return services.TodoInput{
		Title:       r.Title.Optional,
		Description: r.Description.Optional,
		Completed:   r.Completed.Optional,
		Priority:    r.Priority.Optional,
		DueDate:     r.DueDate.Optional,
	}
}

// batchRequest is the body of POST /todos/batch; its items are decoded one
// by one, so that their problems are named items[i].field.
type batchRequest struct {
	Items optional[[]json.RawMessage] `json:"items"`
}

// registerRequest is the body of POST /auth/register.
type registerRequest struct {
	Email    optional[string] `json:"email"`
	Username optional[string] `json:"username"`
	Password optional[string] `json:"password"`
}

func (r registerRequest) input() services.RegisterInput {
	return services.RegisterInput{Email: r.Email.Optional, Username: r.Username.Optional, Password: r.Password.Optional}
}

// loginRequest is the JSON login body; username may also be an email.
type loginRequest struct {
	Username optional[string] `json:"username"`
	Password optional[string] `json:"password"`
}

// updateUserRequest is the body of PATCH /users/me.
type updateUserRequest struct {
	Email           optional[string] `json:"email"`
	Username        optional[string] `json:"username"`
	Password        optional[string] `json:"password"`
	CurrentPassword optional[string] `json:"current_password"`
}

func (r updateUserRequest) input() services.UpdateUserInput {
	return services.UpdateUserInput{
		Email:           r.Email.Optional,
		Username:        r.Username.Optional,
		Password:        r.Password.Optional,
		CurrentPassword: r.CurrentPassword.Optional,
	}
}
