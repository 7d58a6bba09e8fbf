package services

import (
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"

	"github.com/todo-api/todo-api/models"
)

// UserCache keeps the accounts behind recently seen Better Auth subjects
// for a short time, so that a burst of requests with one token costs one
// lookup instead of one each.
//
// A copy can be stale (another instance may have deactivated the account a
// moment ago), and that is allowed for: a cached copy only names the
// account, and the todo statements check it themselves (see Caller), while
// the account routes always read it. This process also forgets a user the
// moment it changes one, and a read that raced with the change cannot put
// the old copy back (see put).
type UserCache struct {
	ttl time.Duration
	now func() time.Time
	// users bounds memory (least recently used out first) and drops
	// entries once their TTL has passed in wall time; expires, on the
	// clock given, is what get honours.
	users *expirable.LRU[int64, cachedUser]

	// mu makes put's check of gen and its insert one step against forget.
	mu sync.Mutex
	// gen counts forgets. A reader notes it before loading a user from the
	// database and put refuses the copy if a forget happened meanwhile.
	gen uint64
}

type cachedUser struct {
	user    models.User
	expires time.Time
}

// maxCachedUsers bounds memory: about 300 bytes a user.
const maxCachedUsers = 50_000

// NewUserCache returns a cache whose entries live for ttl; a ttl of 0
// returns nil, which caches nothing.
func NewUserCache(ttl time.Duration, now func() time.Time) *UserCache {
	if ttl <= 0 {
		return nil
	}
	if now == nil {
		now = time.Now
	}
	return &UserCache{ttl: ttl, now: now, users: expirable.NewLRU[int64, cachedUser](maxCachedUsers, nil, ttl)}
}

func (c *UserCache) get(id int64) (models.User, bool) {
	if c == nil {
		return models.User{}, false
	}
	e, ok := c.users.Get(id)
	if !ok || c.now().After(e.expires) {
		return models.User{}, false
	}
	return e.user, true
}

// generation is the number of forgets so far; pass it to put.
func (c *UserCache) generation() uint64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put keeps u, read from the database after generation returned gen,
// unless a user was forgotten since: then u may predate a deactivation or
// a change that has already returned, and caching it would bring the old
// state back for the TTL. Any forget counts, not only u's, which costs a
// reload now and then and keeps the rule simple.
func (c *UserCache) put(u models.User, gen uint64) {
	if c == nil {
		return
	}
	expires := c.now().Add(c.ttl)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	c.users.Add(u.ID, cachedUser{user: u, expires: expires})
}

func (c *UserCache) forget(id int64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.users.Remove(id)
	c.gen++
}
