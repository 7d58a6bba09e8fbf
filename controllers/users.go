package controllers

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/todo-api/todo-api/models"
	"github.com/todo-api/todo-api/services"
)

// UserService manages the current user.
type UserService interface {
	Update(ctx context.Context, user models.User, in services.UpdateUserInput, client string) (models.User, error)
	Deactivate(ctx context.Context, userID int64) error
}

type userHandlers struct {
	users    UserService
	maxBytes int64
}

// me: GET /users/me.
func (h userHandlers) me(c *gin.Context) {
	c.JSON(http.StatusOK, newUserResponse(currentUser(c)))
}

// update: PATCH /users/me.
func (h userHandlers) update(c *gin.Context) {
	var req updateUserRequest
	if !bind(c, h.maxBytes, &req, func() *services.ValidationError { return req.input().Validate() }) {
		return
	}
	user, err := h.users.Update(c.Request.Context(), currentUser(c), req.input(), clientKey(c))
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, newUserResponse(user))
}

// deactivate: DELETE /users/me.
func (h userHandlers) deactivate(c *gin.Context) {
	if err := h.users.Deactivate(c.Request.Context(), currentUser(c).ID); err != nil {
		writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
