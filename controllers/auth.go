package controllers

import (
	"context"
	"mime"
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"

	"github.com/todo-api/todo-api/models"
	"github.com/todo-api/todo-api/services"
)

// AuthService registers users and issues tokens.
type AuthService interface {
	Authenticator
	Register(ctx context.Context, in services.RegisterInput, client string) (models.User, error)
	Login(ctx context.Context, identifier, password, client string) (services.Token, error)
	Logout(ctx context.Context, c services.Caller) error
}

type authHandlers struct {
	auth     AuthService
	maxBytes int64
}

// localAuthOff answers register and login where LOCAL_AUTH is false: the
// routes exist (the document names them), but no account is made or
// signed in here.
func localAuthOff(c *gin.Context) {
	writeProblem(c, http.StatusNotFound, "Accounts of this service's own are turned off here; sign in through the app's auth server (Better Auth or Neon Auth) and send its token.", nil)
}

// logout: POST /auth/logout ends the token the request carries.
func (h authHandlers) logout(c *gin.Context) {
	if err := h.auth.Logout(c.Request.Context(), currentCaller(c)); err != nil {
		writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// register: POST /auth/register.
func (h authHandlers) register(c *gin.Context) {
	var req registerRequest
	if _, ok := bind(c, h.maxBytes, &req, func() *services.ValidationError { return req.input().Validate() }); !ok {
		return
	}
	user, err := h.auth.Register(c.Request.Context(), req.input(), clientKey(c))
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusCreated, newUserResponse(user))
}

// login: POST /auth/login, as JSON or as the OAuth2 password form (what
// the docs page's Authorize button sends).
func (h authHandlers) login(c *gin.Context) {
	// Absent and null are "" here: Login requires both.
	var username, password string
	mt, _, _ := mime.ParseMediaType(c.GetHeader(headerContentType))
	if mt == "application/x-www-form-urlencoded" {
		form, err := readForm(c, h.maxBytes)
		if err != nil {
			writeError(c, err)
			return
		}
		if gt := form.Get("grant_type"); gt != "" && gt != "password" {
			writeError(c, &services.ValidationError{Fields: []services.FieldError{{Field: "grant_type", Message: `must be "password"`}}})
			return
		}
		username, password = form.Get("username"), form.Get("password")
	} else {
		var req loginRequest
		if _, ok := bind(c, h.maxBytes, &req, func() *services.ValidationError {
			return services.ValidateLogin(req.Username.Value, req.Password.Value)
		}); !ok {
			return
		}
		username, password = req.Username.Value, req.Password.Value
	}
	token, err := h.auth.Login(c.Request.Context(), username, password, clientKey(c))
	if err != nil {
		writeError(c, err)
		return
	}
	// RFC 6749 §5.1: token responses are never cached.
	c.Header("Pragma", "no-cache")
	c.JSON(http.StatusOK, TokenResponse{AccessToken: token.AccessToken, TokenType: "bearer", ExpiresIn: token.ExpiresIn})
}

func readForm(c *gin.Context, maxBytes int64) (url.Values, error) {
	body, err := readBody(c, maxBytes)
	if err != nil {
		return nil, err
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, badRequest("The form body is malformed.")
	}
	return form, nil
}
