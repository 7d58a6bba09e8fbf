package controllers

import (
	"context"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/todo-api/todo-api/models"
	"github.com/todo-api/todo-api/services"
)

// AuthService registers users and issues tokens.
type AuthService interface {
	Authenticator
	Register(ctx context.Context, in services.RegisterInput) (models.User, error)
	Login(ctx context.Context, identifier, password, client string) (services.Token, error)
}

type authHandlers struct {
	auth     AuthService
	maxBytes int64
}

// register: POST /auth/register.
func (h authHandlers) register(c *gin.Context) {
	var in services.RegisterInput
	if !bindValid(c, h.maxBytes, &in, func() *services.ValidationError { return in.Validate() }) {
		return
	}
	user, err := h.auth.Register(c.Request.Context(), in)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusCreated, newUserResponse(user))
}

// loginRequest is the JSON login body; username may also be an email.
type loginRequest struct {
	Username services.Optional[string] `json:"username"`
	Password services.Optional[string] `json:"password"`
}

// login: POST /auth/login, as JSON or as the OAuth2 password form (what
// the docs page's Authorize button sends).
func (h authHandlers) login(c *gin.Context) {
	var in loginRequest
	mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
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
		if form.Has("username") {
			in.Username = services.Some(form.Get("username"))
		}
		if form.Has("password") {
			in.Password = services.Some(form.Get("password"))
		}
		if err := validationFailure(nil, in.validate()); err != nil {
			writeError(c, err)
			return
		}
	} else {
		if !bindValid(c, h.maxBytes, &in, func() *services.ValidationError { return in.validate() }) {
			return
		}
	}
	token, err := h.auth.Login(c.Request.Context(), in.Username.Value, in.Password.Value, clientKey(c))
	if err != nil {
		writeError(c, err)
		return
	}
	// RFC 6749 §5.1: token responses are never cached.
	c.Header("Pragma", "no-cache")
	c.JSON(http.StatusOK, TokenResponse{AccessToken: token.AccessToken, TokenType: "bearer", ExpiresIn: token.ExpiresIn})
}

func (in loginRequest) validate() *services.ValidationError {
	v := &services.ValidationError{}
	for _, f := range []struct {
		name string
		o    services.Optional[string]
	}{{"username", in.Username}, {"password", in.Password}} {
		switch {
		case !f.o.Set || f.o.Null || f.o.Value == "":
			v.Add(f.name, "is required")
		case strings.IndexByte(f.o.Value, 0) >= 0 || !utf8.ValidString(f.o.Value):
			v.Add(f.name, "must be valid UTF-8 text without NUL characters")
		case f.name == "password" && len(f.o.Value) > services.MaxPasswordBytes:
			// As register does: bcrypt would ignore the bytes past 72, so
			// a longer password would match more than its owner typed.
			v.Add(f.name, "must be at most %d bytes", services.MaxPasswordBytes)
		}
	}
	return v
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
