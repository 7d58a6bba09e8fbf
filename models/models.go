// Package models holds the GORM models. Their tags describe the schema the
// migrations build (columns, NOT NULLs, CHECKs, unique and secondary
// indexes, the foreign key); `migrate check` proves the two agree.
//
// # Indexes and the queries they serve (the list queries of apidocs/openapi.yaml)
//
// Every todo query is scoped to one user, so every todo index leads with
// user_id; the listing reads a page in index order and stops after LIMIT rows,
// whether the page is found by OFFSET or by a keyset cursor:
//
//   - idx_todos_user_created (user_id, created_at DESC, id DESC): the default
//     list order (-created_at) and, scanned backwards, sort=created_at. Its
//     leading column also serves every "WHERE user_id = ?" lookup, the count
//     behind "total", and the ON DELETE CASCADE from users, which is why there
//     is no separate index on user_id alone.
//   - idx_todos_user_completed (user_id, completed, created_at DESC, id DESC):
//     completed=true|false with the default order, the most common filter.
//   - idx_todos_user_priority (user_id, priority, id): sort=priority and
//     -priority, and the min_priority range filter.
//   - idx_todos_user_due (user_id, due_date, id): sort=due_date and -due_date,
//     and the due_before/due_after range filters.
//   - idx_todos_user_title (user_id, title, id): sort=title and -title.
//   - idx_todos_search_keys (GIN over todo_search_keys(user_id, title,
//     description), the "<user id>:<trigram>" strings of the todo): q=, a
//     case-insensitive substring match (ILIKE '%…%') that no btree can
//     serve. Its posting lists are per user and trigram, so a search reads
//     its own user's matches only (see migration 20261130140000).
//   - todos_pkey (id): GET/PATCH/DELETE by id (the user_id check is a filter
//     on the one row found).
//
// On users: uq_users_password_email (email, over the accounts with a
// password) serves login by email and the email uniqueness rule; uq_users_username_lower (lower(username)) serves login by username
// and makes usernames unique regardless of case; uq_users_auth_subject
// (auth_issuer, auth_subject) finds the account of a Better Auth token and
// makes provisioning it race-safe (INSERT … ON CONFLICT DO NOTHING).
package models

import "time"

// User is an account. Emails are stored lower-cased; usernames keep their
// case but are unique case-insensitively.
type User struct {
	ID int64 `gorm:"primaryKey"`
	// Email is unique among the accounts that sign in with a password
	// here; an account from an auth server's token holds its email as that
	// server says (see services.Auth's provision).
	Email    string `gorm:"size:255;not null;index:uq_users_password_email,unique,where:hashed_password IS NOT NULL;check:chk_users_email_lower,email = lower(email)"`
	Username string `gorm:"size:50;not null;index:uq_users_username_lower,unique,expression:lower(username);check:chk_users_username_format,username ~ '^[A-Za-z0-9_.-]{3,50}$'"`
	// HashedPassword is NULL for an account created from a Better Auth
	// token that never set a password here; such an account has AuthIssuer
	// and AuthSubject instead (chk_users_sign_in).
	HashedPassword *string `gorm:"size:255;check:chk_users_sign_in,hashed_password IS NOT NULL OR auth_subject IS NOT NULL"`
	// AuthIssuer and AuthSubject are the iss and sub of the Better Auth
	// tokens that sign in as this user; both NULL for a local account.
	AuthIssuer  *string `gorm:"size:255;uniqueIndex:uq_users_auth_subject,priority:1;check:chk_users_auth_identity,(auth_issuer IS NULL) = (auth_subject IS NULL)"`
	AuthSubject *string `gorm:"size:255;uniqueIndex:uq_users_auth_subject,priority:2"`
	IsActive    bool    `gorm:"not null;default:true"`
	// TokenVersion is carried by every token issued to the user; a token
	// with another version is refused. It goes up on a password or email
	// change and on deactivation.
	TokenVersion int32     `gorm:"not null;default:0"`
	CreatedAt    time.Time `gorm:"not null;default:now()"`
	UpdatedAt    time.Time `gorm:"not null;default:now()"`
	Todos        []Todo    `gorm:"constraint:OnDelete:CASCADE"`
}

// Todo belongs to one user. Description and DueDate are nullable.
type Todo struct {
	ID          int64      `gorm:"primaryKey;index:idx_todos_user_created,priority:3,sort:desc;index:idx_todos_user_completed,priority:4,sort:desc;index:idx_todos_user_priority,priority:3;index:idx_todos_user_due,priority:3;index:idx_todos_user_title,priority:3"`
	UserID      int64      `gorm:"not null;index:idx_todos_user_created,priority:1;index:idx_todos_user_completed,priority:1;index:idx_todos_user_priority,priority:1;index:idx_todos_user_due,priority:1;index:idx_todos_user_title,priority:1"`
	User        *User      `gorm:"constraint:OnDelete:CASCADE"`
	Title       string     `gorm:"size:255;not null;check:chk_todos_title_length,char_length(btrim(title)) BETWEEN 1 AND 255;index:idx_todos_user_title,priority:2;index:idx_todos_search_keys,type:gin,expression:todo_search_keys(user_id\\, title\\, description),option:WITH (fastupdate = off)"`
	Description *string    `gorm:"type:text;check:chk_todos_description_length,char_length(description) <= 10000"`
	Completed   bool       `gorm:"not null;default:false;index:idx_todos_user_completed,priority:2"`
	Priority    int16      `gorm:"type:smallint;not null;default:0;check:chk_todos_priority_range,priority BETWEEN 0 AND 5;index:idx_todos_user_priority,priority:2"`
	DueDate     *time.Time `gorm:"index:idx_todos_user_due,priority:2"`
	CreatedAt   time.Time  `gorm:"not null;default:now();index:idx_todos_user_created,priority:2,sort:desc;index:idx_todos_user_completed,priority:3,sort:desc"`
	UpdatedAt   time.Time  `gorm:"not null;default:now()"`
}

// AuthFailure counts failed password checks for one key (an account and
// client pair, or a client) within a fixed window starting at WindowStart.
// Key is an HMAC of what it counts, never an email or address in clear.
type AuthFailure struct {
	Key         string    `gorm:"primaryKey;size:64"`
	Failures    int32     `gorm:"not null;check:chk_auth_failures_count,failures >= 0"`
	WindowStart time.Time `gorm:"not null;index:idx_auth_failures_window_start"`
}

// AuthRateLimit is one client's request budget on the auth routes, shared
// by every instance: TAT is the generic cell rate algorithm's theoretical
// arrival time (see services.ClientLimiter). Key is an HMAC of the client's
// address, never the address in clear.
type AuthRateLimit struct {
	Key string    `gorm:"primaryKey;size:64"`
	TAT time.Time `gorm:"column:tat;not null;index:idx_auth_rate_limits_tat"`
}

// TodoCount is one stripe of how many todos a user has: the sum of the
// user's stripes is the count, kept exact by a trigger on todos (migration
// 20261207140000) whatever inserts or deletes them. Each statement adds to
// a stripe picked at random, so concurrent creates of one user do not all
// queue on one row until they commit.
type TodoCount struct {
	UserID int64 `gorm:"primaryKey;autoIncrement:false"`
	User   *User `gorm:"constraint:OnDelete:CASCADE"`
	Stripe int16 `gorm:"primaryKey;autoIncrement:false;check:chk_todo_counts_stripe,stripe >= 0 AND stripe < 16"`
	N      int64 `gorm:"not null;default:0"`
}

// CreateBudget is a user's budget of todo creations (migration
// 20261207140000): TAT is the generic cell rate algorithm's theoretical
// arrival time, Granted how many units the last create that spent it took
// (its own cost and those taken ahead for the creates that follow it in
// the same process). Its own table, so that the users row every statement
// reads is not rewritten by every create.
type CreateBudget struct {
	UserID  int64     `gorm:"primaryKey;autoIncrement:false"`
	User    *User     `gorm:"constraint:OnDelete:CASCADE"`
	TAT     time.Time `gorm:"column:tat;not null"`
	Granted int32     `gorm:"not null;default:0"`
}

// RevokedToken is a token ended early by POST /auth/logout: TokenID is the
// SHA-256 of its signed part. It is kept until the token would have expired
// (ExpiresAt), then swept.
type RevokedToken struct {
	TokenID   []byte    `gorm:"primaryKey;check:chk_revoked_tokens_id_length,octet_length(token_id) = 32"`
	ExpiresAt time.Time `gorm:"not null;index:idx_revoked_tokens_expires_at"`
}

// IdempotencyKey is the stored answer of a create sent with an
// Idempotency-Key header, for one user. It is written in the same
// transaction as the todos it answers for, and replayed to repeats of the
// same request until ExpiresAt.
type IdempotencyKey struct {
	UserID      int64     `gorm:"primaryKey;autoIncrement:false"`
	User        *User     `gorm:"constraint:OnDelete:CASCADE"`
	Key         string    `gorm:"primaryKey;size:255"`
	Fingerprint []byte    `gorm:"not null"`
	Status      int16     `gorm:"not null"`
	Location    *string   `gorm:"type:text"`
	ETag        *string   `gorm:"column:etag;type:text"`
	Body        []byte    `gorm:"not null"`
	CreatedAt   time.Time `gorm:"not null;default:now()"`
	ExpiresAt   time.Time `gorm:"not null;index:idx_idempotency_keys_expires_at"`
}
