package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/todo-api/todo-api/models"
	"github.com/todo-api/todo-api/services"
)

// TodoService manages one user's todos.
type TodoService interface {
	Create(ctx context.Context, c services.Caller, req services.CreateRequest) (services.Created, error)
	Get(ctx context.Context, c services.Caller, id int64) (models.Todo, error)
	Update(ctx context.Context, c services.Caller, id int64, in services.TodoInput, pre *services.Precondition) (models.Todo, error)
	Delete(ctx context.Context, c services.Caller, id int64, pre *services.Precondition) error
	List(ctx context.Context, c services.Caller, q services.ListQuery) (services.Page, error)
	CheckQuery(q services.ListQuery) []services.FieldError
}

type todoHandlers struct {
	todos    TodoService
	maxBytes int64
	prefix   string
}

// etag renders a todo's version, its updated_at in microseconds in base
// 36, as a strong entity tag. Every write moves updated_at forward, so the
// tag changes on every write.
func etag(t models.Todo) string {
	return `"` + strconv.FormatInt(t.UpdatedAt.UnixMicro(), 36) + `"`
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
// uses strong comparison for If-Match), nor do tags etag cannot have
// made; an empty list is a precondition nothing meets.
func precondition(c *gin.Context) *services.Precondition {
	header := strings.TrimSpace(c.GetHeader(headerIfMatch))
	if header == "" {
		return nil
	}
	if header == "*" {
		return &services.Precondition{Any: true}
	}
	pre := &services.Precondition{At: []time.Time{}}
	for _, tag := range strings.Split(header, ",") {
		tag = strings.TrimSpace(tag)
		if len(tag) < 2 || tag[0] != '"' || tag[len(tag)-1] != '"' {
			continue
		}
		if micros, err := strconv.ParseInt(tag[1:len(tag)-1], 36, 64); err == nil {
			pre.At = append(pre.At, time.UnixMicro(micros).UTC())
		}
	}
	return pre
}

func (h todoHandlers) respondTodo(c *gin.Context, status int, t models.Todo) {
	c.Header(headerETag, etag(t))
	c.JSON(status, newTodoResponse(t))
}

// create: POST /todos, a batch of one.
func (h todoHandlers) create(c *gin.Context) {
	var req todoRequest
	body, ok := bind(c, h.maxBytes, &req, func() *services.ValidationError { return req.input().Validate("", true) })
	if !ok {
		return
	}
	h.store(c, body, services.CreateRequest{Items: []services.TodoInput{req.input()}, Single: true}, func(todos []models.Todo) any {
		return newTodoResponse(todos[0])
	})
}

// createBatch: POST /todos/batch, all or nothing.
func (h todoHandlers) createBatch(c *gin.Context) {
	var req batchRequest
	body, decoding, err := bindInto(c, h.maxBytes, &req)
	if err != nil {
		writeError(c, err)
		return
	}
	itemsDecoded := !slices.ContainsFunc(decoding, func(f services.FieldError) bool { return f.Field == "items" })
	if (!req.Items.Set || req.Items.Null) && itemsDecoded {
		decoding = append(decoding, services.FieldError{Field: "items", Message: fmt.Sprintf("is required: an array of 1 to %d todos", services.MaxBatchItems)})
	}
	items := make([]services.TodoInput, len(req.Items.Value))
	// Past the most a batch may hold the service refuses the count alone;
	// decoding thousands of items only to drop them would be wasted work.
	if len(items) <= services.MaxBatchItems {
		for i, raw := range req.Items.Value {
			var obj map[string]json.RawMessage
			if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
				decoding = append(decoding, services.FieldError{Field: fmt.Sprintf("items[%d]", i), Message: "must be a JSON object"})
				continue
			}
			var item todoRequest
			decoding = append(decoding, decodeFields(obj, &item, fmt.Sprintf("items[%d].", i))...)
			items[i] = item.input()
		}
	}
	if len(decoding) > 0 {
		writeError(c, &services.ValidationError{Fields: merge(decoding, services.ValidateBatch(items).Fields)})
		return
	}
	h.store(c, body, services.CreateRequest{Items: items}, func(todos []models.Todo) any {
		return TodoBatchResponse{Items: newTodoResponses(todos)}
	})
}

// store runs a create, once under its Idempotency-Key if it has one, and
// answers 201 with what answer makes of the todos written. The answer is
// rendered once, kept as bytes with the key and written as they are, so a
// repeat gets the same bytes; a single todo's Location and ETag are read
// back from those bytes (see createdHeaders).
func (h todoHandlers) store(c *gin.Context, body []byte, req services.CreateRequest, answer func([]models.Todo) any) {
	key, once, err := idempotencyKey(c, body)
	if err != nil {
		writeError(c, err)
		return
	}
	if once {
		req.Once = &services.Once{Key: key, Answer: func(todos []models.Todo) ([]byte, error) { return json.Marshal(answer(todos)) }}
	}
	done, err := h.todos.Create(c.Request.Context(), currentCaller(c), req)
	if err != nil {
		writeError(c, err)
		return
	}
	out := done.Answer
	if out == nil {
		if out, err = json.Marshal(answer(done.Todos)); err != nil {
			writeError(c, err)
			return
		}
	}
	if req.Single {
		if err := h.createdHeaders(c, out); err != nil {
			writeError(c, err)
			return
		}
	}
	if done.Replayed {
		c.Header(headerIdempotentReplayed, "true")
	}
	c.Data(http.StatusCreated, "application/json; charset=utf-8", out)
}

// createdHeaders sets the Location and ETag of the todo answer names.
func (h todoHandlers) createdHeaders(c *gin.Context, answer []byte) error {
	var t TodoResponse
	if err := json.Unmarshal(answer, &t); err != nil {
		return fmt.Errorf("read back a create's answer: %w", err)
	}
	todo := models.Todo{ID: t.ID, UpdatedAt: t.UpdatedAt}
	c.Header(headerLocation, h.location(todo))
	c.Header(headerETag, etag(todo))
	return nil
}

// location is the URL path of a todo, for the Location header.
func (h todoHandlers) location(t models.Todo) string {
	return fmt.Sprintf("%s/todos/%d", h.prefix, t.ID)
}

// get: GET /todos/{id}. Answers 304 when If-None-Match has the current ETag.
func (h todoHandlers) get(c *gin.Context) {
	id, err := todoID(c)
	if err != nil {
		writeError(c, err)
		return
	}
	todo, err := h.todos.Get(c.Request.Context(), currentCaller(c), id)
	if err != nil {
		writeError(c, err)
		return
	}
	tag := etag(todo)
	for _, t := range strings.Split(c.GetHeader(headerIfNoneMatch), ",") {
		if t = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(t), "W/")); t == tag || t == "*" {
			c.Header(headerETag, tag)
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
	var req todoRequest
	if _, ok := bind(c, h.maxBytes, &req, func() *services.ValidationError { return req.input().Validate("", false) }); !ok {
		return
	}
	todo, err := h.todos.Update(c.Request.Context(), currentCaller(c), id, req.input(), precondition(c))
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
	if err := h.todos.Delete(c.Request.Context(), currentCaller(c), id, precondition(c)); err != nil {
		writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// list: GET /todos.
func (h todoHandlers) list(c *gin.Context) {
	q, problems := ParseListQuery(c.Request.URL.RawQuery)
	if len(problems) > 0 {
		// List checks the rules itself; they are asked for here only to
		// list every bad parameter in one answer.
		writeError(c, &services.QueryError{Fields: merge(problems, h.todos.CheckQuery(q))})
		return
	}
	page, err := h.todos.List(c.Request.Context(), currentCaller(c), q)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, newTodoListResponse(page))
}
