package controllers

import (
	"time"

	"github.com/todo-api/todo-api/models"
	"github.com/todo-api/todo-api/services"
)

// UserResponse is a user as the API shows it: never the password hash.
type UserResponse struct {
	ID        int64     `json:"id"`
	Email     string    `json:"email"`
	Username  string    `json:"username"`
	IsActive  bool      `json:"is_active"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func newUserResponse(u models.User) UserResponse {
	return UserResponse{ID: u.ID, Email: u.Email, Username: u.Username, IsActive: u.IsActive, CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC()}
}

// TodoResponse is a todo as the API shows it.
type TodoResponse struct {
	ID          int64      `json:"id"`
	Title       string     `json:"title"`
	Description *string    `json:"description"`
	Completed   bool       `json:"completed"`
	Priority    int        `json:"priority"`
	DueDate     *time.Time `json:"due_date"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

func newTodoResponse(t models.Todo) TodoResponse {
	r := TodoResponse{ID: t.ID, Title: t.Title, Description: t.Description, Completed: t.Completed, Priority: int(t.Priority), CreatedAt: t.CreatedAt.UTC(), UpdatedAt: t.UpdatedAt.UTC()}
	if t.DueDate != nil {
		d := t.DueDate.UTC()
		r.DueDate = &d
	}
	return r
}

func newTodoResponses(ts []models.Todo) []TodoResponse {
	out := make([]TodoResponse, len(ts))
	for i, t := range ts {
		out[i] = newTodoResponse(t)
	}
	return out
}

// TodoListResponse is one page of todos.
type TodoListResponse struct {
	Items      []TodoResponse `json:"items"`
	Total      int64          `json:"total"`
	Limit      int            `json:"limit"`
	Offset     int            `json:"offset"`
	NextCursor *string        `json:"next_cursor"`
}

func newTodoListResponse(p services.Page) TodoListResponse {
	return TodoListResponse{Items: newTodoResponses(p.Items), Total: p.Total, Limit: p.Limit, Offset: p.Offset, NextCursor: p.NextCursor}
}

// TodoBatchResponse holds the todos a batch created, in request order.
type TodoBatchResponse struct {
	Items []TodoResponse `json:"items"`
}

// TokenResponse is the answer to a successful login.
type TokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
}
