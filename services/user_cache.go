package services

import (
	"sync"
	"time"

	"github.com/todo-api/todo-api/models"
)

// UserCache keeps the users behind recently verified tokens for a short
// time, so that a burst of requests with one token costs one user lookup
// instead of one each.
//
// Soft delete stays effective: this process forgets a user the moment it
// is deactivated or changed (Users does it). Other instances behind the
// same load balancer keep their copy for at most the TTL, so a deactivated
// user's token may work there for up to AUTH_CACHE_TTL; set it to 0 where
// that is not acceptable.
type UserCache struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu    sync.RWMutex
	users map[int64]cachedUser
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
	return &UserCache{ttl: ttl, max: maxCachedUsers, now: now, users: make(map[int64]cachedUser)}
}

func (c *UserCache) get(id int64) (models.User, bool) {
	if c == nil {
		return models.User{}, false
	}
	c.mu.RLock()
	e, ok := c.users[id]
	c.mu.RUnlock()
	if !ok || c.now().After(e.expires) {
		return models.User{}, false
	}
	return e.user, true
}

func (c *UserCache) put(u models.User) {
	if c == nil {
		return
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.users) >= c.max {
		// Full: drop the expired entries, or everything if none has
		// expired (a flood of distinct users; they will be reloaded).
		for id, e := range c.users {
			if now.After(e.expires) {
				delete(c.users, id)
			}
		}
		if len(c.users) >= c.max {
			clear(c.users)
		}
	}
	c.users[u.ID] = cachedUser{user: u, expires: now.Add(c.ttl)}
}

func (c *UserCache) forget(id int64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	delete(c.users, id)
	c.mu.Unlock()
}
