package controllers

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/todo-api/todo-api/models"
	"github.com/todo-api/todo-api/services"
)

// UserService manages the caller's own account.
type UserService interface {
	Me(ctx context.Context, c services.Caller) (models.User, error)
	Update(ctx context.Context, c services.Caller, in services.UpdateUserInput, client string) (models.User, error)
	Deactivate(ctx context.Context, c services.Caller) error
}

type userHandlers struct {
	users    UserService
	maxBytes int64
}

// me: GET /users/me.
func (h userHandlers) me(c *gin.Context) {
	user, err := h.users.Me(c.Request.Context(), currentCaller(c))
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, newUserResponse(user))
}

// update: PATCH /users/me.
func (h userHandlers) update(c *gin.Context) {
	var req updateUserRequest
	if _, ok := bind(c, h.maxBytes, &req, func() *services.ValidationError { return req.input().Validate() }); !ok {
		return
	}
	user, err := h.users.Update(c.Request.Context(), currentCaller(c), req.input(), clientKey(c))
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, newUserResponse(user))
}

// deactivate: DELETE /users/me.
func (h userHandlers) deactivate(c *gin.Context) {
	if err := h.users.Deactivate(c.Request.Context(), currentCaller(c)); err != nil {
		writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
