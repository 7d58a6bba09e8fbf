package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/todo-api/todo-api/models"
	"github.com/todo-api/todo-api/services"
)

// TodoService manages one user's todos.
type TodoService interface {
	Create(ctx context.Context, userID int64, in services.TodoInput) (models.Todo, error)
	CreateBatch(ctx context.Context, userID int64, items []services.TodoInput) ([]models.Todo, error)
	Get(ctx context.Context, userID, id int64) (models.Todo, error)
	Update(ctx context.Context, userID, id int64, in services.TodoInput, pre *services.Precondition) (models.Todo, error)
	Delete(ctx context.Context, userID, id int64, pre *services.Precondition) error
	List(ctx context.Context, userID int64, q services.ListQuery) (services.Page, error)
	CheckQuery(q services.ListQuery) []services.FieldError
}

type todoHandlers struct {
	todos    TodoService
	maxBytes int64
	prefix   string
}

// etag renders a todo's version as a strong entity tag.
func etag(t models.Todo) string {
	return `"` + services.Version(t) + `"`
}

// todoID reads the {id} path segment. An id that is not a positive integer
// names no resource: 404.
func todoID(c *gin.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, services.ErrNotFound
	}
	return id, nil
}

// precondition parses If-Match: absent is nil, "*" matches any version,
// otherwise a list of strong entity tags. Weak tags never match (RFC 9110
// uses strong comparison for If-Match).
func precondition(c *gin.Context) *services.Precondition {
	header := strings.TrimSpace(c.GetHeader("If-Match"))
	if header == "" {
		return nil
	}
	if header == "*" {
		return &services.Precondition{Any: true}
	}
	pre := &services.Precondition{Versions: []string{}}
	for _, tag := range strings.Split(header, ",") {
		tag = strings.TrimSpace(tag)
		if len(tag) >= 2 && tag[0] == '"' && tag[len(tag)-1] == '"' {
			pre.Versions = append(pre.Versions, tag[1:len(tag)-1])
		}
	}
	return pre
}

func (h todoHandlers) respondTodo(c *gin.Context, status int, t models.Todo) {
	c.Header("ETag", etag(t))
	c.JSON(status, newTodoResponse(t))
}

// create: POST /todos.
func (h todoHandlers) create(c *gin.Context) {
	var in services.TodoInput
	if !bindValid(c, h.maxBytes, &in, func() *services.ValidationError { return in.Validate("", true) }) {
		return
	}
	todo, err := h.todos.Create(c.Request.Context(), currentUser(c).ID, in)
	if err != nil {
		writeError(c, err)
		return
	}
	c.Header("Location", fmt.Sprintf("%s/todos/%d", h.prefix, todo.ID))
	h.respondTodo(c, http.StatusCreated, todo)
}

// batchRequest is the body of POST /todos/batch.
type batchRequest struct {
	Items services.Optional[[]json.RawMessage] `json:"items"`
}

// createBatch: POST /todos/batch, all or nothing.
func (h todoHandlers) createBatch(c *gin.Context) {
	var req batchRequest
	decoding, err := bindInto(c, h.maxBytes, &req)
	if err != nil {
		writeError(c, err)
		return
	}
	v := &services.ValidationError{Fields: decoding}
	itemsDecoded := true
	for _, f := range decoding {
		itemsDecoded = itemsDecoded && f.Field != "items"
	}
	switch {
	case !itemsDecoded:
	case !req.Items.Set || req.Items.Null:
		v.Add("items", "is required: an array of 1 to %d todos", services.MaxBatchItems)
	case len(req.Items.Value) == 0:
		v.Add("items", "must hold at least 1 todo")
	case len(req.Items.Value) > services.MaxBatchItems:
		v.Add("items", "must hold at most %d todos, got %d", services.MaxBatchItems, len(req.Items.Value))
	}
	if len(req.Items.Value) > services.MaxBatchItems {
		writeError(c, v)
		return
	}
	items := make([]services.TodoInput, len(req.Items.Value))
	for i, raw := range req.Items.Value {
		prefix := fmt.Sprintf("items[%d].", i)
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
			v.Add(fmt.Sprintf("items[%d]", i), "must be a JSON object")
			continue
		}
		fieldErrs := decodeFields(obj, &items[i], prefix)
		v.Fields = append(v.Fields, dedupe(append(fieldErrs, items[i].Validate(prefix, true).Fields...))...)
	}
	if err := v.Err(); err != nil {
		writeError(c, err)
		return
	}
	todos, err := h.todos.CreateBatch(c.Request.Context(), currentUser(c).ID, items)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusCreated, TodoBatchResponse{Items: newTodoResponses(todos)})
}

// get: GET /todos/{id}. Answers 304 when If-None-Match has the current ETag.
func (h todoHandlers) get(c *gin.Context) {
	id, err := todoID(c)
	if err != nil {
		writeError(c, err)
		return
	}
	todo, err := h.todos.Get(c.Request.Context(), currentUser(c).ID, id)
	if err != nil {
		writeError(c, err)
		return
	}
	tag := etag(todo)
	for _, t := range strings.Split(c.GetHeader("If-None-Match"), ",") {
		if t = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(t), "W/")); t == tag || t == "*" {
			c.Header("ETag", tag)
			c.Status(http.StatusNotModified)
			return
		}
	}
	h.respondTodo(c, http.StatusOK, todo)
}

// update: PATCH /todos/{id}, honoring If-Match atomically.
func (h todoHandlers) update(c *gin.Context) {
	id, err := todoID(c)
	if err != nil {
		writeError(c, err)
		return
	}
	var in services.TodoInput
	if !bindValid(c, h.maxBytes, &in, func() *services.ValidationError { return in.Validate("", false) }) {
		return
	}
	todo, err := h.todos.Update(c.Request.Context(), currentUser(c).ID, id, in, precondition(c))
	if err != nil {
		writeError(c, err)
		return
	}
	h.respondTodo(c, http.StatusOK, todo)
}

// remove: DELETE /todos/{id}, honoring If-Match atomically.
func (h todoHandlers) remove(c *gin.Context) {
	id, err := todoID(c)
	if err != nil {
		writeError(c, err)
		return
	}
	if err := h.todos.Delete(c.Request.Context(), currentUser(c).ID, id, precondition(c)); err != nil {
		writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// list: GET /todos.
func (h todoHandlers) list(c *gin.Context) {
	q, problems := ParseListQuery(c.Request.URL.RawQuery)
	if problems = dedupe(append(problems, h.todos.CheckQuery(q)...)); len(problems) > 0 {
		writeError(c, &services.QueryError{Fields: problems})
		return
	}
	page, err := h.todos.List(c.Request.Context(), currentUser(c).ID, q)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, newTodoListResponse(page))
}
